package cli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/chaos"
)

func newBenchChaosCommand() *cobra.Command {
	var (
		o     chaos.Options
		out   string
		pause string
	)
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Kill and pause the cluster's components under a steady workload and count what is lost",
		Long: `Start a cluster of --nodes simulated nodes ('myriad up', or 'myriad up --ha'
with --ha) and run a steady workload: ConfigMap writes at --write-rate, each
acknowledged one recorded; quorum reads at --read-rate through the API's
front door; a Deployment scaled between half and all of --replicas every
--churn-every; a CloneSet of --replicas updated in place every
--rollout-every. For --duration, every --every on average, one process of
the kinds in --targets is killed (SIGKILL) or paused (SIGSTOP for a time
drawn from --pause, then SIGCONT), a leader half the time; the next fault
waits until the hit process serves again. Then the pods get
--settle-timeout to settle and every acknowledged write is looked for.

Writes result.json and report.html to --out and exits non-zero if an
acknowledged write was lost, a pod was created twice or lost, a node went
NotReady, the API did not answer for longer than --max-unavailable, or one
request for longer than --max-stall (except, without --ha, while its only API
server or etcd member was down).`,
		Example: `  myriad bench chaos --ha --duration 30m --out /tmp/chaos-ha
  myriad bench chaos --duration 10m --out /tmp/chaos-single
  myriad bench chaos --ha --targets etcd,kube-apiserver --every 20s --duration 5m --seed 7 --out /tmp/chaos-storage`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				var err error
				if o.PauseMin, o.PauseMax, err = chaos.ParsePause(pause); err != nil {
					return nil, err
				}
				if o.HA && !cmd.Flags().Changed("apiservers") {
					o.Rig.APIServers = 3
				}
				if o.Seed == 0 {
					o.Seed = uint64(time.Now().UnixNano())
				}
				if err := o.Validate(); err != nil {
					return nil, err
				}
				if o.Rig.DataDir, err = rig.DataDirUnder(outDir, o.Rig.DataDir); err != nil {
					return nil, err
				}
				return &chaos.Scenario{O: o}, nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 20, "simulated nodes the pods run on", false)
	f.BoolVar(&o.HA, "ha", false, "start the cluster with 'myriad up --ha' (three etcd members, three API servers unless --apiservers says otherwise, two of each controller)")
	f.DurationVar(&o.Duration, "duration", 30*time.Minute, "how long faults are injected")
	f.DurationVar(&o.Every, "every", 30*time.Second, "mean time between faults, counted once the cluster is whole again (each gap uniform in ±50%)")
	f.Float64Var(&o.KillShare, "kill-share", 0.6, "share of faults that are SIGKILL; the others SIGSTOP")
	f.StringVar(&pause, "pause", "5s-20s", "how long a SIGSTOP lasts: MIN-MAX, drawn uniformly, or one duration")
	f.StringSliceVar(&o.Kinds, "targets", chaos.Kinds, "components a fault may hit: "+strings.Join(chaos.Kinds, ", ")+" (nodes is the simulator)")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the faults' draws; the report gives it, so a run can be repeated (0: from the clock)")
	f.Float64Var(&o.WriteRate, "write-rate", 20, "ConfigMap writes per second (half creates, half conditional updates)")
	f.Float64Var(&o.ReadRate, "read-rate", 4, "quorum reads per second through the API's front door")
	f.IntVar(&o.Replicas, "replicas", 20, "the CloneSet's replicas and the Deployment's largest size")
	f.DurationVar(&o.ChurnEvery, "churn-every", 20*time.Second, "how often the Deployment is scaled between half and all of --replicas")
	f.DurationVar(&o.RolloutEvery, "rollout-every", 45*time.Second, "how often the CloneSet's image is changed (updated in place)")
	f.DurationVar(&o.MaxUnavailable, "max-unavailable", 5*time.Second, "longest the API may answer no probe before it is an availability violation")
	f.DurationVar(&o.MaxStall, "max-stall", 10*time.Second, "longest one request may go unanswered while others are answered before it is an availability violation (etcd holds a write in flight at a leader change for 7 s)")
	f.DurationVar(&o.RecoveryTimeout, "recovery-timeout", 3*time.Minute, "longest a fault may take to heal before the run stops")
	f.DurationVar(&o.SettleTimeout, "settle-timeout", 3*time.Minute, "how long the pods get to reach their final state, at the start and after the faults")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	return cmd
}
