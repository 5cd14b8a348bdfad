package cli

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/failover"
)

func newBenchFailoverCommand() *cobra.Command {
	var (
		o      failover.Options
		out    string
		signal string
	)
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "SIGKILL the leader of each leader-elected component and time until its standby works",
		Long: `Start a cluster of --nodes simulated nodes (with 'myriad up --scheduler myriad'
when myriad-scheduler is measured), then for each --component in turn: start
a hot standby (a second instance with the same identity, kubeconfig and
leader-election Lease as the one 'myriad up' runs), wait until it is warm,
run a control round (scale a Deployment, or for myriad-manager a CloneSet,
to --replicas without a kill) and --rounds rounds that kill whichever
instance holds the Lease and scale right after: with --handover both,
--rounds where the dead leader's Lease is left to expire (upstream's
failover) and --rounds where the supervisor releases it on the leader's
behalf the moment it dies (myriad up's). Each round times, from the
kill: the supervisor's restart, the new leader in the Lease, the component's
first work (kube-controller-manager: the ReplicaSet scaled; a scheduler: the
first pod bound; myriad-manager: the first pod the CloneSet created), the
first pod, all pods Running; then scales back to 0. Writes result.json and
report.html to --out and exits non-zero unless every component was measured
and every round's pods all ran within --round-timeout.`,
		Example: `  myriad bench failover --rounds 3 --out /tmp/fo
  myriad bench failover --component kube-controller-manager,kube-scheduler --rounds 1 --nodes 5 --replicas 5 --out /tmp/fo-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				switch strings.TrimPrefix(strings.ToUpper(signal), "SIG") {
				case "KILL":
					o.Signal = syscall.SIGKILL
				case "TERM":
					o.Signal = syscall.SIGTERM
				default:
					return nil, fmt.Errorf("--signal must be KILL or TERM, got %q", signal)
				}
				if err := o.Validate(); err != nil {
					return nil, err
				}
				var err error
				if o.Rig.DataDir, err = rig.DataDirUnder(outDir, o.Rig.DataDir); err != nil {
					return nil, err
				}
				return &failover.Scenario{O: o}, nil
			})
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Components, "component", failover.DefaultComponents, "what to kill, in order: kube-controller-manager, kube-scheduler, myriad-scheduler, myriad-manager (not both schedulers)")
	f.IntVar(&o.Rounds, "rounds", 3, "rounds per component that kill its leader (after one control round)")
	f.IntVar(&o.Replicas, "replicas", 20, "replicas the workload is scaled to in each round")
	f.DurationVar(&o.RoundTimeout, "round-timeout", 3*time.Minute, "longest a round may take until all pods run, and its scale-down")
	f.StringVar((*string)(&o.Handover), "handover", string(failover.HandoverBoth), "rounds with the supervisor releasing a dead leader's Lease: off (the Lease expires, as upstream), on, or both (--rounds of each, in one run)")
	f.StringVar(&signal, "signal", "KILL", "how the leader is stopped: KILL (a crash; the Lease is not released) or TERM")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	addRigFlags(f, &o.Rig, 10, "simulated nodes the pods run on", false)
	return cmd
}
