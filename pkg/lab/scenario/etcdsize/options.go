package etcdsize

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// Options are `myriad bench etcd-size`'s flags.
type Options struct {
	// OutDir is where each run's database lives while it runs
	// (OUT/etcd-<freelist>).
	OutDir string
	// Freelists are the bbolt freelist types to grow, in order.
	Freelists []string
	// DBSize ends a run once the database file reaches it; MinFree once
	// free disk under OutDir falls below it (both quantities, e.g. 8Gi).
	DBSize, MinFree string
	// Duration is the longest a run (side by side: all of them) may take.
	Duration time.Duration
	Workers  int
	// CompactEvery and DefragEvery (0: never) pace the maintenance;
	// SampleEvery the samples.
	CompactEvery, DefragEvery, SampleEvery time.Duration
	// CreateShare and DeleteShare of the writes create or delete a key;
	// the rest overwrite one.
	CreateShare, DeleteShare float64
	// KeepData keeps each run's data directory.
	KeepData bool
	// SideBySide grows every type's database at the same time.
	SideBySide bool
}

// Defaults are the command's defaults.
func Defaults() Options {
	return Options{Freelists: []string{controlplane.FreelistMap, controlplane.FreelistArray}, DBSize: "8Gi", MinFree: "10Gi",
		Duration: 8 * time.Minute, Workers: 32, CompactEvery: 10 * time.Second, SampleEvery: 5 * time.Second,
		CreateShare: 0.5, DeleteShare: 0.05, SideBySide: true}
}

// Validate rejects bad options with one line naming the flag. It reads
// OutDir (a database left from an earlier run is refused) but writes
// nothing.
func (o Options) Validate() error {
	seen := map[string]bool{}
	for _, fl := range o.Freelists {
		if fl != controlplane.FreelistMap && fl != controlplane.FreelistArray {
			return fmt.Errorf("--freelists: unknown type %q (use map, array)", fl)
		}
		if seen[fl] {
			return fmt.Errorf("--freelists: %s given twice", fl)
		}
		seen[fl] = true
	}
	if _, _, err := o.sizes(); err != nil {
		return err
	}
	switch {
	case len(o.Freelists) == 0:
		return errors.New("--freelists must name at least one type")
	case o.Duration < 5*time.Second:
		return fmt.Errorf("--duration must be at least 5s, got %s", o.Duration)
	case o.CompactEvery < time.Second:
		return fmt.Errorf("--compact-every must be at least 1s, got %s", o.CompactEvery)
	case o.DefragEvery != 0 && o.DefragEvery < 10*time.Second:
		return fmt.Errorf("--defrag-every must be 0 (never) or at least 10s, got %s", o.DefragEvery)
	case o.SampleEvery < time.Second:
		return fmt.Errorf("--sample-interval must be at least 1s, got %s", o.SampleEvery)
	case o.CreateShare < 0 || o.DeleteShare < 0 || o.CreateShare+o.DeleteShare > 1:
		return fmt.Errorf("--create-share and --delete-share must be at least 0 and add up to at most 1, got %g and %g", o.CreateShare, o.DeleteShare)
	case o.Workers < 1 || o.Workers > 1024:
		return fmt.Errorf("--workers must be between 1 and 1024, got %d", o.Workers)
	}
	for _, fl := range o.Freelists {
		if _, err := os.Stat(o.dir(fl)); err == nil {
			return fmt.Errorf("--out: %s holds a database from an earlier run; choose another --out or remove it", o.dir(fl))
		}
	}
	return nil
}

// sizes are --db-size and --min-free in bytes.
func (o Options) sizes() (target, minFree int64, err error) {
	q, err := resource.ParseQuantity(o.DBSize)
	if err != nil || q.Value() < 16<<20 {
		return 0, 0, fmt.Errorf("--db-size must be a size of at least 16Mi (e.g. 4Gi), got %q", o.DBSize)
	}
	f, err := resource.ParseQuantity(o.MinFree)
	if err != nil || f.Value() < 0 {
		return 0, 0, fmt.Errorf("--min-free must be a size (e.g. 10Gi), got %q", o.MinFree)
	}
	return q.Value(), f.Value(), nil
}

// dir is the data directory of freelist's run.
func (o Options) dir(freelist string) string { return filepath.Join(o.OutDir, "etcd-"+freelist) }

// groups are the runs in turn: all types at once side by side, else one
// by one.
func (o Options) groups() [][]string {
	if o.SideBySide {
		return [][]string{o.Freelists}
	}
	var g [][]string
	for _, fl := range o.Freelists {
		g = append(g, []string{fl})
	}
	return g
}

func (o Options) parameters() map[string]string {
	target, minFree, _ := o.sizes()
	var mix []string
	for _, v := range DefaultValueMix {
		mix = append(mix, fmt.Sprintf("%s %.0f%%", bytesQ(int64(v.Bytes)), v.Weight*100))
	}
	defrag := "never"
	if o.DefragEvery > 0 {
		defrag = o.DefragEvery.String()
	}
	order := "one after the other, fresh data directory each"
	if o.SideBySide {
		order = "side by side, fresh data directory each"
	}
	return map[string]string{
		"freelists":   strings.Join(o.Freelists, ", ") + " (" + order + ")",
		"dbSize":      fmt.Sprintf("%s (stop when the database file reaches it)", bytesQ(target)),
		"duration":    o.Duration.String() + " at most",
		"minFree":     bytesQ(minFree) + " free disk under --out",
		"workers":     fmt.Sprintf("%d concurrent writers per database, closed loop", o.Workers),
		"writes":      fmt.Sprintf("%.0f%% new keys, %.0f%% deletes, the rest overwrite a random existing key", o.CreateShare*100, o.DeleteShare*100),
		"values":      strings.Join(mix, ", ") + " (random bytes)",
		"compaction":  "every " + o.CompactEvery.String() + " to the revision of the previous one, physical",
		"defrag":      defrag,
		"etcd":        "embedded in the bench process, myriad up's configuration (fsync on, 8 GiB or 2 × --db-size quota), periodic auto-compaction off",
		"sampleEvery": o.SampleEvery.String(),
		"dataDirs":    o.dir("<freelist>") + map[bool]string{true: " (kept)", false: " (deleted after each run)"}[o.KeepData],
		"command":     strings.Join(os.Args, " "),
	}
}

// BandBytes splits the way to the target into about eight size bands, on
// round numbers.
func BandBytes(target int64) int64 {
	b := int64(16 << 20)
	for b*8 < target {
		b *= 2
	}
	return b
}

// bytesQ is a size for a progress line: MiB or GiB.
func bytesQ(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
