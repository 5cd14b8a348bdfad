package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/heartbeat"
)

func newBenchHeartbeatCommand() *cobra.Command {
	var (
		o   heartbeat.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "heartbeat",
		Short: "Compare Lease heartbeats with NodeStatus-every-10s heartbeats at one cluster size",
		Long: `Start a cluster of --nodes simulated nodes twice, one after the other, each on
a fresh data directory under --out:

  lease   a Lease renewed every 10s, NodeStatus every 5m (kubelets since NodeLease)
  status  no Lease, a NodeStatus patch every 10s computed from the node's
          previous status (kubelets before NodeLease)

Each run waits until every node is Ready, then measures for --duration: etcd
bytes written per minute (WAL and process), CPU and RSS of the API server and
etcd, API request rate, heartbeat write latency and request bytes per
heartbeat as the simulator sends them, and every false NotReady. Writes
result.json (keys lease, status, ratio = status/lease) and report.html to
--out, and exits non-zero unless both runs reached their size, kept every
node Ready and measured the figures the comparison rests on.`,
		Example: `  myriad bench heartbeat --nodes 1000 --duration 3m --out /tmp/hb-1k`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				o.OutDir = outDir
				if err := o.Validate(); err != nil {
					return nil, err
				}
				for _, mode := range heartbeat.Modes {
					if _, err := os.Stat(o.DataDir(mode)); err == nil {
						return nil, fmt.Errorf("%s already holds a cluster from an earlier run; choose another --out or remove it", o.DataDir(mode))
					}
				}
				return &heartbeat.Scenario{Options: o}, nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 1000, "number of simulated nodes in each run", false)
	// Each run's data directory is OUT/<mode>.
	_ = f.MarkHidden("data-dir")
	f.DurationVar(&o.Duration, "duration", 5*time.Minute, "how long to measure each run once every node is Ready")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the two clusters' data (OUT/lease, OUT/status; required)")
	f.IntVar(&o.Images, "images", 20, "container images each node reports in status.images (kubelets report up to 50)")
	return cmd
}
