package cli

import (
	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/etcdsize"
)

func newBenchEtcdSizeCommand() *cobra.Command {
	o := etcdsize.Defaults()
	var out string
	cmd := &cobra.Command{
		Use:   "etcd-size",
		Short: "Grow an etcd database with each bbolt freelist type and record write and compaction latency",
		Long: `For each --freelists type, start an embedded etcd member in-process (myriad
up's configuration, fsync on, on a fresh directory under --out) and grow its
database with --workers concurrent writers, all types at the same time
(--side-by-side, so each sees the same machine) or one after the other: new keys, overwrites and
deletes of Kubernetes-sized values (512 B to 64 KiB), compacting every
--compact-every to the revision of the previous compaction. A run ends when
the database file reaches --db-size, after --duration, or when free disk
falls below --min-free; side by side, all end when the first does. Records put latency per interval and per database
size band, every compaction's duration, and the file size and free pages
over time. Each run's data is deleted before the next (--keep-data keeps
it). Writes result.json and report.html to --out; exits non-zero if a run
failed (a write error such as the quota, or an interrupt) or recorded no put.`,
		Example: `  myriad bench etcd-size --out /tmp/etcd-size
  myriad bench etcd-size --db-size 64Mi --duration 15s --out /tmp/etcd-size-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				o.OutDir = outDir
				if err := o.Validate(); err != nil {
					return nil, err
				}
				return etcdsize.New(o), nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the databases while they run (required)")
	f.StringSliceVar(&o.Freelists, "freelists", []string{controlplane.FreelistMap, controlplane.FreelistArray}, "bbolt freelist types to run, in order: map, array")
	f.StringVar(&o.DBSize, "db-size", o.DBSize, "stop a run when the database file reaches this size")
	f.StringVar(&o.MinFree, "min-free", o.MinFree, "stop a run when free disk under --out falls below this")
	f.DurationVar(&o.Duration, "duration", o.Duration, "longest time a run may take (side by side: all of them together)")
	f.IntVar(&o.Workers, "workers", o.Workers, "concurrent writers")
	f.DurationVar(&o.CompactEvery, "compact-every", o.CompactEvery, "compaction interval (each keeps the history since the previous one)")
	f.DurationVar(&o.DefragEvery, "defrag-every", 0, "defragmentation interval; 0 never (defragmenting empties the freelist under test)")
	f.DurationVar(&o.SampleEvery, "sample-interval", o.SampleEvery, "how often latency, size and free disk are recorded")
	f.Float64Var(&o.CreateShare, "create-share", o.CreateShare, "share of writes that create a new key")
	f.Float64Var(&o.DeleteShare, "delete-share", o.DeleteShare, "share of writes that delete a key (the rest overwrite one)")
	f.BoolVar(&o.KeepData, "keep-data", false, "keep each run's etcd data directory")
	f.BoolVar(&o.SideBySide, "side-by-side", true, "grow every freelist type's database at the same time, each with --workers writers, so all see the same machine; false runs them one after the other")
	return cmd
}
