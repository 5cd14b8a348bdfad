package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/cloneset"
)

func newBenchCloneSetCommand() *cobra.Command {
	var (
		o   cloneset.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "cloneset",
		Short: "Scale a CloneSet to P pods, then time image rollouts in place vs ReCreate on it",
		Long: `Start a cluster of --nodes simulated nodes (as 'myriad up' does, with the
CloneSet controller), or with --kubeconfig use an existing cluster that has the
CloneSet CRD and 'myriad manager' running, then run phases on one CloneSet:

  1 scale     create the CloneSet (InPlaceIfPossible, --max-unavailable) with
              --pods replicas
  then, per --rollouts (default in-place, recreate, in-place):
  in-place    change the image with updateStrategy.type InPlaceIfPossible
  recreate    change the image with updateStrategy.type ReCreate

Each phase is timed from its write to the pod-watch event after which every
pod is Running, Ready (InPlaceUpdateReady not False) and runs the phase's
image, with the CloneSet's status agreeing. Recorded per phase: pods over
time, per-pod latency, pods recreated or restarted in place, the most pods
unavailable at once, API requests served (apiserver_request_total before and
after), the manager's own counters, and CPU and RSS of every process.
Writes result.json and report.html to --out and exits non-zero unless every
phase finished within --phase-timeout with in-place rollouts keeping every pod,
ReCreate replacing every pod, and maxUnavailable never exceeded.`,
		Example: `  myriad bench cloneset --nodes 1000 --pods 10000 --out /tmp/cloneset-10k
  myriad bench cloneset --nodes 20 --pods 200 --out /tmp/cloneset-small
  myriad bench cloneset --kubeconfig ~/.kube/config --pods 2000 --out /tmp/cloneset-existing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorkloadBench(cmd, out, &o.Rig, func() error { return o.Validate() }, func() lab.Scenario { return &cloneset.Scenario{O: o} })
		},
	}
	f := cmd.Flags()
	addWorkloadFlags(f, &o.Rig, &o.NodeCapacity, &out, "CloneSet")
	f.IntVar(&o.Pods, "pods", 10000, "replicas of the CloneSet")
	f.StringVar(&o.MaxUnavailable, "max-unavailable", "20%", "updateStrategy.maxUnavailable of the CloneSet: a number of pods or a percentage of --pods")
	f.DurationVar(&o.PhaseTimeout, "phase-timeout", 20*time.Minute, "longest each phase may take")
	f.StringSliceVar(&o.Rollouts, "rollouts", []string{cloneset.InPlace, cloneset.Recreate, cloneset.InPlace}, "rollouts after the scale-up, in order: in-place, recreate")
	f.StringSliceVar(&o.Images, "images", cloneset.Images, "container images, one per phase (the scale-up's first), all different")
	return cmd
}
