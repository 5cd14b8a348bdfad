// Package version owns the one answer to "which Kubernetes is this?" for
// every process of the myriad binary. The binary links the k8s.io/kubernetes
// module, so that module's version is the Kubernetes version: the API server
// reports it on /version, nodes report it as kubeletVersion, the data
// directory records it. It also knows Myriad's own commit.
//
// `make build` stamps k8s.io/component-base/version with -ldflags -X, as
// Kubernetes' own build does. A plain `go build` cannot, so Init fills the
// same variables from the module versions Go records in every binary
// (runtime/debug.ReadBuildInfo). Either way component-base, which the
// upstream components read, and this package agree.
//
// The package must never guess a version it cannot derive: with no stamp and
// no build information it reports component-base's own hard-coded minor,
// DefaultKubeBinaryVersion.
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	_ "unsafe" // go:linkname, see below

	utilversion "k8s.io/apimachinery/pkg/util/version"
	baseversion "k8s.io/component-base/version"
)

// kubernetesModule is the module whose version is the Kubernetes version.
const kubernetesModule = "k8s.io/kubernetes"

// stagingModule is released with every Kubernetes version and linked into
// every binary of this module.
const stagingModule = "k8s.io/component-base"

// The build stamp of k8s.io/component-base/version, as the Makefile sets it
// with -X. Written here only when the binary carries no stamp: these
// variables are what the upstream components read (version.Get, and through
// it the API server's /version and its binary/emulation version), and
// component-base offers no setter for an unstamped binary
// (SetDynamicVersion only accepts the stamped major.minor.patch).
//
//go:linkname gitVersion k8s.io/component-base/version.gitVersion
var gitVersion string

//go:linkname gitMajor k8s.io/component-base/version.gitMajor
var gitMajor string

//go:linkname gitMinor k8s.io/component-base/version.gitMinor
var gitMinor string

//go:linkname gitCommit k8s.io/component-base/version.gitCommit
var gitCommit string

//go:linkname gitTreeState k8s.io/component-base/version.gitTreeState
var gitTreeState string

//go:linkname buildDate k8s.io/component-base/version.buildDate
var buildDate string

// Build is what one binary knows about itself.
type Build struct {
	// Kubernetes is the Kubernetes version, e.g. "v1.37.2".
	Kubernetes string
	// Commit, TreeState ("clean" or "dirty") and Date describe Myriad's own
	// source; empty when unknown.
	Commit, TreeState, Date string
}

var (
	once    sync.Once
	current Build
)

// Init makes k8s.io/component-base/version report this binary's Kubernetes
// version. Call it first in main, before any upstream component is built;
// it is idempotent and cheap.
func Init() {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		current = Derive(baseversion.Get().GitVersion, bi)
		if stamped(gitVersion) {
			// The Makefile stamped it: leave every field as built, and
			// prefer its commit to the VCS settings, which a build with
			// -buildvcs=false lacks.
			if gitCommit != "" && !strings.HasPrefix(gitCommit, "$Format") {
				current.Commit, current.TreeState, current.Date = gitCommit, gitTreeState, buildDate
			}
			return
		}
		major, minor := majorMinor(current.Kubernetes)
		gitVersion, gitMajor, gitMinor = current.Kubernetes, major, minor
		gitCommit, gitTreeState, buildDate = current.Commit, current.TreeState, current.Date
		// component-base caches gitVersion at init; refresh that copy.
		if err := baseversion.SetDynamicVersion(current.Kubernetes); err != nil {
			panic(fmt.Sprintf("set Kubernetes version %s: %v", current.Kubernetes, err))
		}
	})
}

// Get returns this binary's versions (Init runs if it has not).
func Get() Build {
	Init()
	return current
}

// Kubernetes is the Kubernetes version this binary runs, e.g. "v1.37.2".
func Kubernetes() string { return Get().Kubernetes }

// Derive computes the versions from component-base's gitVersion as built
// (stamped or its placeholder) and the binary's build information (nil if
// absent). A stamp wins; otherwise the k8s.io/kubernetes module's version
// (a replace directive's target if there is one) and the VCS settings Go
// records for the main module.
func Derive(builtGitVersion string, bi *debug.BuildInfo) Build {
	var b Build
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date = s.Value
			case "vcs.modified":
				b.TreeState = "clean"
				if s.Value == "true" {
					b.TreeState = "dirty"
				}
			}
		}
	}
	if stamped(builtGitVersion) {
		b.Kubernetes = builtGitVersion
		return b
	}
	if v := moduleVersion(bi, kubernetesModule); stamped(v) {
		b.Kubernetes = v
		return b
	}
	// Binaries that link only the staging modules (tests, tools): they are
	// released in lockstep, v0.37.2 with Kubernetes v1.37.2.
	if v := moduleVersion(bi, stagingModule); strings.HasPrefix(v, "v0.") {
		if v = "v1." + strings.TrimPrefix(v, "v0."); stamped(v) {
			b.Kubernetes = v
			return b
		}
	}
	b.Kubernetes = "v" + baseversion.DefaultKubeBinaryVersion + ".0"
	return b
}

func moduleVersion(bi *debug.BuildInfo, path string) string {
	if bi == nil {
		return ""
	}
	for _, m := range bi.Deps {
		if m.Path != path {
			continue
		}
		if m.Replace != nil && m.Replace.Version != "" {
			return m.Replace.Version
		}
		return m.Version
	}
	return ""
}

// stamped reports whether v is a real Kubernetes release version: semantic,
// "v"-prefixed, major 1 and not the v0.0.0 placeholder of unstamped builds.
// Pseudo-versions of k8s.io/kubernetes are not releases either.
func stamped(v string) bool {
	if !strings.HasPrefix(v, "v") {
		return false
	}
	sv, err := utilversion.ParseSemantic(v)
	if err != nil || sv.Major() != 1 {
		return false
	}
	return !strings.Contains(sv.PreRelease(), "0.") // v1.37.0-0.20260101-abcdef pseudo-versions
}

// majorMinor splits "v1.37.2" into "1" and "37".
func majorMinor(v string) (string, string) {
	sv, err := utilversion.ParseSemantic(v)
	if err != nil {
		return "", ""
	}
	return fmt.Sprint(sv.Major()), fmt.Sprint(sv.Minor())
}
