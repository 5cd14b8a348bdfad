package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/sidecarset"
)

func newBenchSidecarSetCommand() *cobra.Command {
	var (
		o   sidecarset.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "sidecarset",
		Short: "Time pod creation with 0, 1 and S SidecarSets, then a sidecar upgrade in place vs recreating the pods",
		Long: `Start a cluster of --nodes simulated nodes (as 'myriad up' does, with the
SidecarSet controller), or with --kubeconfig use an existing cluster that has
the SidecarSet CRD and 'myriad manager' running, then run, in one run:

  1-3 create   --pods bare pods (never scheduled) at --concurrency, with no
               SidecarSet, with one selecting every pod, then with
               --sidecarsets each selecting its own share of the pods by a
               label (one sidecar per pod, every binding met by every pod)
  4 deploy     a Deployment of --pods pods with a SidecarSet's sidecar
  5 in-place   the sidecar's image changed, upgraded in place
               (updateStrategy RollingUpdate, --max-unavailable)
  6 recreate   the image changed with NotUpdate, then the Deployment rolled
               (same maxUnavailable) so every pod is recreated

Creation phases start once the SidecarSets' policies are in force (dry-run
probe pods injected) and record per-create latency p50/p90/p99, pods per
second, and every pod that did not get exactly its sidecars. Upgrade phases
are timed from the SidecarSet write until every pod's sidecar runs the new
image (spec and status) and is Ready, with the SidecarSet's status agreeing,
and record pods recreated (by UID), the most pods unavailable at once, API
requests served and CPU and RSS of every process. Writes result.json and
report.html to --out and exits non-zero unless every phase finished, every
pod got its sidecars, the in-place upgrade kept every pod, the recreation
replaced every pod, and maxUnavailable was never exceeded.`,
		Example: `  myriad bench sidecarset --nodes 1000 --pods 10000 --out /tmp/sidecarset-10k
  myriad bench sidecarset --nodes 20 --pods 200 --sidecarsets 10 --out /tmp/sidecarset-small
  myriad bench sidecarset --kubeconfig ~/.kube/config --pods 2000 --out /tmp/sidecarset-existing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorkloadBench(cmd, out, &o.Rig, func() error { return o.Validate() }, func() lab.Scenario { return &sidecarset.Scenario{O: o} })
		},
	}
	f := cmd.Flags()
	addWorkloadFlags(f, &o.Rig, &o.NodeCapacity, &out, "SidecarSet")
	f.IntVar(&o.Pods, "pods", 10000, "pods created per creation phase, and the Deployment's replicas")
	f.IntVar(&o.SidecarSets, "sidecarsets", 100, "SidecarSets of the last creation phase, each selecting 1/N of the pods")
	f.IntVar(&o.Concurrency, "concurrency", 32, "pod creations in flight at once")
	f.StringVar(&o.MaxUnavailable, "max-unavailable", "10%", "maxUnavailable of the SidecarSet's upgrade and of the Deployment's rollout: a number of pods or a percentage of --pods")
	f.DurationVar(&o.PhaseTimeout, "phase-timeout", 20*time.Minute, "longest each upgrade phase may take")
	f.StringSliceVar(&o.Images, "images", sidecarset.Images, "the app's image, then the sidecar's: injected, upgraded in place, recreated (all different)")
	return cmd
}
