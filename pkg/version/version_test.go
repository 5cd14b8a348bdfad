package version

import (
	"runtime/debug"
	"strconv"
	"testing"

	utilversion "k8s.io/apimachinery/pkg/util/version"
	baseversion "k8s.io/component-base/version"
)

const placeholder = "v0.0.0-master+$Format:%H$"

func TestDerive(t *testing.T) {
	kube := func(v string, replace *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{
			Deps: []*debug.Module{{Path: "k8s.io/api", Version: "v0.37.2"}, {Path: "k8s.io/kubernetes", Version: v, Replace: replace}},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-04T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
			},
		}
	}
	for _, tc := range []struct {
		name  string
		built string
		bi    *debug.BuildInfo
		want  string
	}{
		{"a plain go build reports the module's version", placeholder, kube("v1.37.2", nil), "v1.37.2"},
		{"the Makefile's stamp wins", "v1.37.2", kube("v1.37.1", nil), "v1.37.2"},
		{"a replace directive's version is what was built", placeholder, kube("v1.37.0", &debug.Module{Path: "k8s.io/kubernetes", Version: "v1.37.3"}), "v1.37.3"},
		{"a pseudo-version is not a release", placeholder, kube("v1.38.0-0.20261201000000-abcdefabcdef", nil), "v" + baseversion.DefaultKubeBinaryVersion + ".0"},
		{"only the staging modules linked (a test binary)", placeholder, &debug.BuildInfo{Deps: []*debug.Module{{Path: "k8s.io/component-base", Version: "v0.37.2"}}}, "v1.37.2"},
		{"no build information", placeholder, nil, "v" + baseversion.DefaultKubeBinaryVersion + ".0"},
		{"the module not linked", placeholder, &debug.BuildInfo{}, "v" + baseversion.DefaultKubeBinaryVersion + ".0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Derive(tc.built, tc.bi)
			if got.Kubernetes != tc.want {
				t.Fatalf("Kubernetes = %q, want %q", got.Kubernetes, tc.want)
			}
			// Whatever the source, kubectl must be able to parse it.
			if _, err := utilversion.ParseSemantic(got.Kubernetes); err != nil {
				t.Fatalf("%q does not parse: %v", got.Kubernetes, err)
			}
			if tc.bi != nil && len(tc.bi.Settings) > 0 && (got.Commit != "0123abcd" || got.TreeState != "dirty" || got.Date != "2026-12-04T10:00:00Z") {
				t.Fatalf("Myriad's own build = %+v, want commit 0123abcd, dirty, 2026-12-04T10:00:00Z", got)
			}
		})
	}
}

// TestInitStampsComponentBase checks what the API server and kubectl see:
// after Init, component-base's version.Get reports a parseable v1.x whose
// major and minor agree with it, never the v0.0.0 placeholder.
func TestInitStampsComponentBase(t *testing.T) {
	Init()
	info := baseversion.Get()
	v, err := utilversion.ParseSemantic(info.GitVersion)
	if err != nil {
		t.Fatalf("component-base reports %q after Init: %v", info.GitVersion, err)
	}
	if v.Major() != 1 || info.Major != "1" || info.Minor != strconv.FormatUint(uint64(v.Minor()), 10) {
		t.Fatalf("component-base reports %+v: major/minor disagree with gitVersion", info)
	}
	if info.GitVersion != Kubernetes() {
		t.Fatalf("component-base says %q, version.Kubernetes %q", info.GitVersion, Kubernetes())
	}
}
