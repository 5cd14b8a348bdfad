package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// addWorkloadFlags binds the flags every workload scenario (a controller of
// `myriad manager` driven through one kind, e.g. cloneset, sidecarset)
// shares: the cluster's (1000 nodes by default, or --kubeconfig of one
// that has kind's CRD and the manager), --node-capacity and --out. Metrics
// are scraped at phase boundaries, not on an interval, so
// --scrape-interval is hidden.
func addWorkloadFlags(f *pflag.FlagSet, o *rig.Options, nodeCapacity, out *string, kind string) {
	addRigFlags(f, o, 1000, "simulated nodes to start (with --kubeconfig: the fewest Ready nodes required; any when not given)", true)
	f.Lookup("kubeconfig").Usage = "measure the cluster of this kubeconfig (" + kind + " CRD and 'myriad manager' installed) instead of starting one"
	f.StringVar(nodeCapacity, "node-capacity", "", "capacity of each simulated node, e.g. cpu=32,memory=256Gi,pods=110 (default as 'myriad nodes')")
	f.StringVar(out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	_ = f.MarkHidden("scrape-interval")
}

// runWorkloadBench runs a workload scenario: on an existing cluster any
// number of nodes unless --nodes says; validate checks the options before
// anything is written (a closure: it sees the options as adjusted here); a
// started cluster keeps its data under --out.
func runWorkloadBench(cmd *cobra.Command, out string, o *rig.Options, validate func() error, scenario func() lab.Scenario) error {
	if o.Attached() && !cmd.Flags().Changed("nodes") {
		o.Nodes = 0 // an existing cluster: any number of nodes
	}
	return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
		if err := validate(); err != nil {
			return nil, err
		}
		if !o.Attached() {
			dir, err := rig.DataDirUnder(outDir, o.DataDir)
			if err != nil {
				return nil, err
			}
			o.DataDir = dir
		}
		return scenario(), nil
	})
}
