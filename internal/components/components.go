// Package components links the upstream Kubernetes control-plane commands
// into the myriad binary. It is the only package that imports
// k8s.io/kubernetes/cmd/..., so everything else (and its tests) builds
// without compiling Kubernetes.
package components

import (
	"os"
	"time"
	_ "time/tzdata" // CronJob time zones, as the upstream binaries embed

	"github.com/spf13/cobra"
	"k8s.io/apiserver/pkg/admission/plugin/policy/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// admissionPolicyRefresh is how soon kube-apiserver puts a changed
// MutatingAdmissionPolicy or ValidatingAdmissionPolicy (or binding) in
// force. Upstream waits up to a second between looks; Myriad injects
// SidecarSets with such policies, and OpenKruise users create a SidecarSet
// and its pods moments apart (its webhook sees a SidecarSet within
// milliseconds). A look at unchanged policies is one atomic load, so a
// tenth of a second costs nothing measurable; a change is recompiled
// incrementally as before.
const admissionPolicyRefresh = 100 * time.Millisecond

var commands = map[string]func() *cobra.Command{
	"kube-apiserver": func() *cobra.Command {
		// The setter is upstream's only way to change the interval; it
		// says "for tests", and is used here for the reason above.
		generic.SetPolicyRefreshIntervalForTests(admissionPolicyRefresh)
		distinctIdentity()
		return apiserver.NewAPIServerCommand()
	},
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	// The Metrics API (`kubectl top`, HorizontalPodAutoscalers): upstream's
	// metrics-server, scraping the simulated nodes' /metrics/resource.
	"metrics-server": newMetricsServerCommand,
}

// distinctIdentity gives each of several API servers on one machine an
// identity of its own. Upstream derives the identity (the Lease
// kube-system/apiserver-HASH that the storage version and peer proxy
// features read) from the hostname alone, assuming one API server per
// host; under `myriad up --ha` three share a host, and so one Lease,
// which they overwrite in turn every ten seconds ("Failed to update
// lease ... the object has been modified"). The hostname setter is
// upstream's only way in and says "for tests"; it is used for the reason
// above. The single API server of `myriad up` keeps upstream's identity.
func distinctIdentity() {
	process := os.Getenv(supervisor.ProcessNameEnv)
	if process == "" || process == "kube-apiserver" {
		return
	}
	host, err := os.Hostname()
	if err != nil {
		return // upstream fails with the same error, and says so
	}
	genericapiserver.SetHostnameFuncForTests(host + "/" + process)
}

// Run executes the upstream component called name with args, exactly as its
// own binary would, and returns its exit code. ok is false for other names.
func Run(name string, args []string) (code int, ok bool) {
	newCmd, ok := commands[name]
	if !ok {
		return 0, false
	}
	cmd := newCmd()
	cmd.SetArgs(args)
	return cli.Run(cmd), true
}
