// Command myriad runs a Kubernetes platform for very large clusters. The
// same binary is every process of the control plane: `myriad up` re-executes
// itself as etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// the node simulator.
package main

import (
	"os"
	"path/filepath"

	"github.com/myriad-dev/myriad/internal/cli"
	"github.com/myriad-dev/myriad/internal/components"
	"github.com/myriad-dev/myriad/internal/cpuprofile"
	"github.com/myriad-dev/myriad/pkg/scheduler/kubeplugins"
	"github.com/myriad-dev/myriad/pkg/supervisor"
	"github.com/myriad-dev/myriad/pkg/version"
)

func main() {
	// Before any upstream component reads its version (/version, the
	// binary and emulation versions, kubeletVersion).
	version.Init()
	stopProfile := cpuprofile.FromEnv(processName())
	code := run()
	stopProfile()
	os.Exit(code)
}

func run() int {
	if len(os.Args) > 1 {
		if code, ok := components.Run(os.Args[1], os.Args[2:]); ok {
			return code
		}
	}
	cli.TemplateDefaults = components.TemplateDefaults()
	cli.SchedulerPlugins = kubeplugins.New
	return cli.Execute()
}

// processName is this process as its supervisor named it, else its
// subcommand.
func processName() string {
	if n := os.Getenv(supervisor.ProcessNameEnv); n != "" {
		return n
	}
	if len(os.Args) > 1 {
		return filepath.Base(os.Args[1])
	}
	return "myriad"
}

func init() {
	// A child of `myriad up` exits if its supervisor disappears.
	supervisor.ExitWithParent()
}
