package cli

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/scheduler"
	sched "github.com/myriad-dev/myriad/pkg/scheduler"
)

func newBenchSchedulerCommand() *cobra.Command {
	var o scheduler.Options
	var out string
	var profiles bool
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Compare Myriad's scheduler with kube-scheduler and the binding ceiling on one cluster",
		Long: `Start one cluster of --nodes simulated nodes with no scheduler, then run phases
on it, by default in the order kube, myriad, ceiling, myriad, kube (the
reverse half cancels drift). Each phase creates --pods identical pods
(cpu 100m, memory 128Mi) before anything schedules them, then:

  kube     starts kube-scheduler (client QPS/burst 5000, leader election off)
  myriad   starts 'myriad scheduler' (leader election off)
  ceiling  binds the pods itself, round-robin to precomputed nodes with
           --binders parallel Binding requests: what the API server accepts;
           with --ceiling-events (the default) it also records the
           Scheduled event per pod that both schedulers record, from as
           many parallel writers, so it is the ceiling of the same writes.
           It writes as the schedulers' identity (system:kube-scheduler),
           so its requests wait in the same API Priority and Fairness
           priority level as theirs, and its phase ends when every binding
           and every event write has returned

and measures from that start until the bench's watch has seen every pod
bound: pods/s, latency percentiles, the scheduler process's CPU seconds and
RSS, its idle CPU rate over --idle-window after the last binding, and
placement quality (feasible placements, spread of per-node CPU
requested). The scheduler is stopped and the pods deleted before the next
phase. Writes result.json and report.html to --out, and exits non-zero
unless every phase bound all its pods within --phase-timeout.`,
		Example: `  myriad bench scheduler --nodes 1000 --pods 5000 --out /tmp/sched-1k`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				var err error
				if o.Rig.DataDir, err = rig.DataDirUnder(outDir, o.Rig.DataDir); err != nil {
					return nil, err
				}
				o.Command = strings.Join(os.Args, " ")
				if profiles {
					o.ProfileDir = filepath.Join(outDir, "profiles")
					if err := os.MkdirAll(o.ProfileDir, 0o700); err != nil {
						return nil, err
					}
				}
				if err := o.Validate(); err != nil {
					return nil, err
				}
				return scheduler.New(o), nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 1000, "number of simulated nodes", false)
	f.IntVar(&o.Pods, "pods", 5000, "pods created and scheduled in each phase")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	f.DurationVar(&o.PhaseTimeout, "phase-timeout", 10*time.Minute, "longest each step of a phase (create, schedule, delete) may take")
	f.IntVar(&o.CreateWorkers, "create-workers", 32, "concurrent pod creates (before the scheduler starts)")
	f.IntVar(&o.Binders, "binders", sched.DefaultBinders, "concurrent Binding requests of the ceiling phase (Myriad's scheduler's own default, so both make the same writes with the same concurrency)")
	f.BoolVar(&o.CeilingEvents, "ceiling-events", true, "the ceiling also records a Scheduled event per pod, as kube-scheduler and Myriad do (false: Bindings only)")
	f.StringVar(&o.Order, "order", "kube,myriad,ceiling,myriad,kube", "phases in order, comma-separated: kube, myriad, ceiling")
	f.DurationVar(&o.IdleWindow, "idle-window", time.Minute, "after its last binding each scheduler runs on this long with nothing to schedule, to measure its idle CPU rate (0: stop at the last binding)")
	f.StringSliceVar(&o.MyriadArgs, "myriad-scheduler-args", nil, "extra flags for 'myriad scheduler' (e.g. --sampling=log2,--binders=32)")
	f.BoolVar(&profiles, "cpu-profiles", false, "write a Go CPU profile and an allocation profile of each scheduler process, start to stop, to OUT/profiles (read with go tool pprof)")
	return cmd
}
