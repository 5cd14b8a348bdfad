package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/broadcastjob"
)

func newBenchBroadcastJobCommand() *cobra.Command {
	var (
		o   broadcastjob.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "broadcastjob",
		Short: "Time one BroadcastJob from creation to a pod Succeeded on every node, and its API writes per node",
		Long: `Start a cluster of --nodes simulated nodes (as 'myriad up' does, with the
BroadcastJob controller) that run each pod for --run-for ('myriad nodes
--job-duration') and report it exited 0, then:

  1 broadcastjob  create a BroadcastJob (completionPolicy Always,
                  --parallelism) and time creation → every node's pod
                  created, → every pod has run, → every pod Succeeded with
                  the job's status completed and succeeded = desired = nodes
  2 job           with --compare, the same work the closest upstream way: a
                  Job of completions = nodes, --parallelism, whose pods repel
                  each other per node (required pod anti-affinity)

Recorded per phase: pods created, running and succeeded over time, API
writes (apiserver_request_total before and after, Leases left out) in all
and per node by verb and resource, and CPU and RSS of every process.
Writes result.json and report.html to --out and exits non-zero unless every
phase finished within --phase-timeout, the BroadcastJob gave every node
exactly one pod and its status agrees with the pods.`,
		Example: `  myriad bench broadcastjob --nodes 10000 --out /tmp/broadcastjob-10k
  myriad bench broadcastjob --nodes 20 --run-for 5s --out /tmp/broadcastjob-small`,
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
				return &broadcastjob.Scenario{O: o}, nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 10000, "simulated nodes to start; the job puts one pod on each", false)
	f.StringVar(&o.Parallelism, "parallelism", "100%", "spec.parallelism of the BroadcastJob: a number of pods or a percentage of the nodes")
	f.DurationVar(&o.RunFor, "run-for", 10*time.Second, "how long each pod's container runs before it exits 0")
	f.StringVar(&o.Image, "image", broadcastjob.DefaultImage, "the job's container image (the simulated nodes do not pull it)")
	f.BoolVar(&o.Compare, "compare", true, "also run the upstream comparison: a Job of one pod per node by pod anti-affinity")
	f.DurationVar(&o.PhaseTimeout, "phase-timeout", 30*time.Minute, "longest each phase may take")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	_ = f.MarkHidden("scrape-interval")
	return cmd
}
