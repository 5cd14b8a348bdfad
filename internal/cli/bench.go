package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/soak"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run scale experiments and write reports with charts",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchSoakCommand())
	cmd.AddCommand(newBenchHeartbeatCommand())
	cmd.AddCommand(newBenchSchedulerCommand())
	cmd.AddCommand(newBenchDensityCommand())
	cmd.AddCommand(newBenchWatchRestartCommand())
	cmd.AddCommand(newBenchLongReadCommand())
	cmd.AddCommand(newBenchEtcdSizeCommand())
	cmd.AddCommand(newBenchFailoverCommand())
	cmd.AddCommand(newBenchCloneSetCommand())
	cmd.AddCommand(newBenchSidecarSetCommand())
	cmd.AddCommand(newBenchBroadcastJobCommand())
	cmd.AddCommand(newBenchDaemonSetCommand())
	cmd.AddCommand(newBenchStatefulSetCommand())
	cmd.AddCommand(newBenchTenancyCommand())
	cmd.AddCommand(newBenchChaosCommand())
	return cmd
}

func newBenchSoakCommand() *cobra.Command {
	var (
		o   soak.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Hold a cluster at size and check that every node stays Ready",
		Long: `Start a cluster of --nodes simulated nodes (as 'myriad up' does), wait until
every node is Ready, then measure for --duration: every transition of a node's
Ready condition away from True (a false NotReady), Lease renewal latency as the
simulator and the API server see it, RSS and CPU of every component, and the
bytes etcd writes. Writes result.json and report.html to --out, stops the
cluster, and exits non-zero unless every node stayed Ready the whole time.`,
		Example: `  myriad bench soak --nodes 10000 --duration 10m --out /tmp/soak-10k
  myriad bench soak --nodes 50 --duration 1m --out /tmp/soak-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				if err := o.Validate(); err != nil {
					return nil, err
				}
				dir, err := rig.DataDirUnder(outDir, o.Rig.DataDir)
				if err != nil {
					return nil, err
				}
				o.Rig.DataDir = dir
				return &soak.Scenario{Options: o}, nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 10000, "number of simulated nodes", false)
	f.DurationVar(&o.Duration, "duration", 10*time.Minute, "how long to measure once every node is Ready")
	f.StringVar(&out, "out", "", "directory for result.json and report.html (required)")
	return cmd
}
