package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/daemonset"
)

func newBenchDaemonSetCommand() *cobra.Command {
	var (
		o   daemonset.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "daemonset",
		Short: "Roll an agent image across every node: Advanced DaemonSet in place vs recreating vs upstream, nodes without a ready agent charted",
		Long: `Start a cluster of --nodes simulated nodes (as 'myriad up' does, with the
Advanced DaemonSet controller), then run, in one run:

  1 create           an Advanced DaemonSet whose agent tolerates every taint,
                     until every node runs a ready agent
  2 in-place         the agent's image changed, rollingUpdateType
                     InPlaceIfPossible, --max-unavailable (pods keep UIDs)
  3 recreate         the image changed again, rollingUpdateType Standard,
                     same maxUnavailable (pods deleted and recreated)
  4 upstream create  with --compare, once the Advanced DaemonSet and its
                     agents are gone: an apps/v1 DaemonSet of the same agent
  5 upstream         its image rolled by kube-controller-manager
                     (RollingUpdate, same maxUnavailable)

Each phase is timed from the write until every node's agent runs the new
image and is Ready, with the DaemonSet's status agreeing. The nodes without
a ready agent are counted at every event of a pod watch and charted over
time; recorded too: agents recreated (by UID), API writes per node by verb
and resource (apiserver_request_total before and after), and CPU and RSS of
every process. Writes result.json and report.html to --out and exits
non-zero unless every phase finished, no rollout left more nodes without a
ready agent than maxUnavailable allows, the in-place rollout kept every
agent's UID, and the recreating rollouts replaced every agent.`,
		Example: `  myriad bench daemonset --nodes 10000 --out /tmp/daemonset-10k
  myriad bench daemonset --nodes 20 --phase-timeout 2m --out /tmp/daemonset-small`,
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
				return &daemonset.Scenario{O: o}, nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 10000, "simulated nodes to start; the agent runs on each", false)
	f.StringVar(&o.NodeCapacity, "node-capacity", "", "capacity of each simulated node, e.g. cpu=32,memory=256Gi,pods=110 (default as 'myriad nodes')")
	f.StringSliceVar(&o.Images, "images", daemonset.Images, "the agent's images: at creation, after the in-place rollout, after the recreating one (all different)")
	f.StringVar(&o.MaxUnavailable, "max-unavailable", "10%", "maxUnavailable of every rollout: a number of nodes or a percentage of the nodes (rounded up)")
	f.BoolVar(&o.Compare, "compare", true, "also roll the same image with an upstream apps/v1 DaemonSet")
	f.DurationVar(&o.PhaseTimeout, "phase-timeout", 20*time.Minute, "longest each phase may take")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	_ = f.MarkHidden("scrape-interval")
	return cmd
}
