package cli

import (
	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/longread"
)

func newBenchLongReadCommand() *cobra.Command {
	o := longread.Defaults()
	var out string
	cmd := &cobra.Command{
		Use:   "long-read",
		Short: "Write latency while large LISTs run: writes alone vs with long reads from the watch cache or etcd",
		Long: `Start a cluster (one API server, no nodes), create --objects ConfigMaps of
--object-bytes, then run --phases of --phase-duration each. In every phase a
writer merge-patches ConfigMaps at --write-rate on a fixed schedule and
times each write; in the read phases --readers readers, each on a
connection of its own, loop over one read of every ConfigMap:

  baseline         no reads
  list-cache       LIST with resourceVersion=0 (the watch cache, may be stale)
  list-consistent  LIST without resourceVersion (consistent, from the watch cache)
  etcd-range       a range read of /registry/configmaps/ on etcd itself

Reports write p50/p99 per phase and their ratio to the baseline, read
latency, the API server's and etcd's own latencies, and CPU per process.
Writes result.json and report.html to --out; exits non-zero if a phase did
not run, timed no write (or, reading, no read), or write p99 broke the 1 s
mutating-call SLO (list p99: 30 s).`,
		Example: `  myriad bench long-read --objects 20000 --object-bytes 2048 --out /tmp/lr
  myriad bench long-read --objects 500 --phase-duration 10s --out /tmp/lr-small`,
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
				return longread.New(o), nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	f.IntVar(&o.Objects, "objects", o.Objects, "ConfigMaps every long read returns")
	f.IntVar(&o.ObjectBytes, "object-bytes", o.ObjectBytes, "data bytes per ConfigMap")
	f.IntVar(&o.Namespaces, "namespaces", o.Namespaces, "namespaces the objects are spread over")
	f.Float64Var(&o.WriteRate, "write-rate", o.WriteRate, "writes per second (merge patches of ConfigMaps), on a fixed schedule")
	f.IntVar(&o.WritePool, "write-pool", o.WritePool, "ConfigMaps the writer patches in turn")
	f.IntVar(&o.Readers, "readers", o.Readers, "concurrent long readers in the read phases")
	f.DurationVar(&o.PhaseDuration, "phase-duration", o.PhaseDuration, "length of each phase")
	f.StringSliceVar(&o.Phases, "phases", o.Phases, "phases in order: baseline, list-cache, list-consistent, etcd-range")
	f.IntVar(&o.CreateWorkers, "create-workers", o.CreateWorkers, "concurrent creates while loading the objects")
	addRigFlags(f, &o.Rig, 0, "simulated nodes (none are needed: the objects are ConfigMaps)", false)
	return cmd
}
