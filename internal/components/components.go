// Package components links the upstream Kubernetes control-plane commands
// into the myriad binary. It is the only package that imports
// k8s.io/kubernetes/cmd/..., so everything else (and its tests) builds
// without compiling Kubernetes.
package components

import (
	_ "time/tzdata" // CronJob time zones, as the upstream binaries embed

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

var commands = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
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
