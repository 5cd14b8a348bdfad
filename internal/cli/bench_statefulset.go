package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/statefulset"
)

func newBenchStatefulSetCommand() *cobra.Command {
	var (
		o   statefulset.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "statefulset",
		Short: "Roll a 1,000-replica StatefulSet's image: Advanced StatefulSet in place vs recreating vs upstream, unavailable pods charted",
		Long: `Start a cluster of --nodes simulated nodes (as 'myriad up' does, with the
Advanced StatefulSet controller), then run, in one run:
  1 create           an Advanced StatefulSet of --replicas pods, Parallel,
                     podUpdatePolicy InPlaceIfPossible, until every pod is Ready
  2 in-place         its image changed, --max-unavailable (pods keep UIDs
                     and names)
  3 recreate         the image changed again, podUpdatePolicy ReCreate, same
                     maxUnavailable (pods deleted and created anew)
  4 upstream create  with --compare, once the Advanced StatefulSet and its
                     pods are gone: an apps/v1 StatefulSet of the same size
  5 upstream         its image rolled by kube-controller-manager
                     (RollingUpdate; the same maxUnavailable when the API
                     server keeps it, feature gate MaxUnavailableStatefulSet,
                     else one pod at a time, said in the result)
Each phase is timed from the write until every pod runs the new image and
is Ready, with the StatefulSet's status agreeing. The pods unavailable
(missing, terminating, not Ready or InPlaceUpdateReady False) are counted
at every event of a pod watch and charted over time; recorded too: pods
recreated (by UID), API writes per pod by verb and resource
(apiserver_request_total before and after), and CPU and RSS of every
process. Writes result.json and report.html to --out and exits non-zero
unless every phase finished, no Advanced StatefulSet rollout had more pods
unavailable than maxUnavailable allows, the in-place rollout kept every
pod's UID, and the recreating rollouts replaced every pod.`,
		Example: `  myriad bench statefulset --out /tmp/statefulset-1k
  myriad bench statefulset --nodes 5 --replicas 20 --phase-timeout 2m --out /tmp/statefulset-small`,
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
				return &statefulset.Scenario{O: o}, nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 100, "simulated nodes to start (110 pods each by default)", false)
	f.StringVar(&o.NodeCapacity, "node-capacity", "", "capacity of each simulated node, e.g. cpu=32,memory=256Gi,pods=110 (default as 'myriad nodes')")
	f.IntVar(&o.Replicas, "replicas", 1000, "replicas of each StatefulSet")
	f.StringSliceVar(&o.Images, "images", statefulset.Images, "the pods' images: at creation, after the in-place rollout, after the recreating one (all different)")
	f.StringVar(&o.MaxUnavailable, "max-unavailable", "10%", "maxUnavailable of every rollout: a number of pods or a percentage of the replicas (rounded up)")
	f.BoolVar(&o.Compare, "compare", true, "also roll the same image with an upstream apps/v1 StatefulSet")
	f.DurationVar(&o.PhaseTimeout, "phase-timeout", 20*time.Minute, "longest each phase may take")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	_ = f.MarkHidden("scrape-interval")
	return cmd
}
