package etcdsize

import (
	"fmt"
	"strconv"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Rows are the per-freelist figures (report and terminal): a header row,
// then one row per figure with a column per run, then array against map
// per size band both reached.
func (r *Result) Rows() [][]string {
	rows := r.runRows()
	for _, c := range r.Compare {
		if c.ArrayOverMap != nil {
			rows = append(rows, []string{fmt.Sprintf("put p99 array/map at %s – %s", lab.BytesH(float64(c.FromBytes)), lab.BytesH(float64(c.ToBytes))), fmt.Sprintf("%.2f×", *c.ArrayOverMap)})
		}
	}
	return rows
}

func (r *Result) runRows() [][]string {
	head := []string{""}
	for _, run := range r.Runs {
		head = append(head, run.Freelist+" freelist")
	}
	rows := [][]string{head}
	add := func(name string, f func(Run) string) {
		row := []string{name}
		for _, run := range r.Runs {
			row = append(row, f(run))
		}
		rows = append(rows, row)
	}
	add("stopped because", func(x Run) string { return lab.OrDash(x.StopReason) })
	add("ran for", func(x Run) string { return lab.SecondsH(x.Seconds) })
	add("database file reached", func(x Run) string { return lab.BytesH(float64(x.DBBytes)) })
	add("… in use / free pages", func(x Run) string {
		return lab.BytesH(float64(x.InUseBytes)) + " / " + lab.BytesH(float64(x.DBBytes-x.InUseBytes))
	})
	add("puts (rate)", func(x Run) string { return fmt.Sprintf("%d (%.0f/s)", x.Puts, x.PutsPerSecond) })
	add("value bytes written", func(x Run) string { return lab.BytesH(float64(x.ValueBytes)) })
	add("deletes / errors", func(x Run) string { return fmt.Sprintf("%d / %d", x.Deletes, x.Errors) })
	add("put p50 / p99 / max", func(x Run) string {
		return lab.MsOpt(x.Put.P50) + " / " + lab.MsOpt(x.Put.P99) + " / " + lab.MsOpt(x.Put.Max)
	})
	add("compactions", func(x Run) string { return strconv.Itoa(x.Compaction.Count) })
	add("compaction p50 / max", func(x Run) string { return lab.SecOpt(x.Compaction.P50) + " / " + lab.SecOpt(x.Compaction.Max) })
	add("defragmentations", func(x Run) string { return strconv.Itoa(x.Defrags) })
	return rows
}

// Page is the report page.
func (r *Result) Page() *lab.Page {
	together := "The members grow side by side, at the same time in one process, so both see the same machine: on a shared machine, load that changes between runs taken in turn would decide the comparison."
	if !r.SideBySide {
		together = "The runs take turns, never at the same time."
	}
	p := lab.NewPage("Myriad etcd-size: write and compaction latency as the database grows, map vs array freelist", &r.RunInfo,
		"An embedded etcd 3.7 member, configured as myriad up configures it (fsync on) except for the bbolt freelist type, is grown with Kubernetes-like writes: "+
			"new keys, overwrites of existing keys and deletes, values from 512 B to 64 KiB. The history is compacted periodically, keeping the writes since the previous compaction, as the API server does. "+
			"Each freelist type gets a fresh data directory and the same workload. "+together)
	rows := r.runRows()
	p.Tables = append(p.Tables, lab.Table{Title: "Per freelist", Head: rows[0], Rows: rows[1:],
		Note: fmt.Sprintf("Free disk where the databases were written: %s before the first run, %s after the last.", lab.BytesH(float64(r.DiskFreeStart)), lab.BytesH(float64(r.DiskFreeEnd)))})
	if len(r.Compare) > 0 {
		t := lab.Table{Title: "By database size: put p99 and compaction time, array against map", Head: []string{"database size", "map put p99", "array put p99", "array / map", "map compaction p50", "array compaction p50"}}
		for _, c := range r.Compare {
			t.Rows = append(t.Rows, []string{lab.BytesH(float64(c.FromBytes)) + " – " + lab.BytesH(float64(c.ToBytes)), lab.MsOpt(c.MapP99), lab.MsOpt(c.ArrayP99),
				lab.FmtOpt(c.ArrayOverMap, "%.2f×"), lab.SecOpt(c.MapCompactP50), lab.SecOpt(c.ArrayCompactP50)})
		}
		p.Tables = append(p.Tables, t)
	}
	p.Meaning = []string{
		"bbolt keeps the pages freed by compaction in a freelist and allocates from it on every commit. The array freelist is a sorted list of page ids: finding a run of contiguous pages for a large value, and merging freed pages back, take time in proportion to the number of free pages. " +
			"The map freelist (the seed's \"segregated hashmap\", upstream since etcd 3.4) indexes free runs by size, so both stay cheap however many pages are free. That is why the seed could raise the database limit from 2 GB to 50 GB.",
		"The figures to compare are the put p99 and the compaction time at the same database size. The size reached is what this run's time, disk and the shared machine allowed, stated above; the seed's 50 GB needs a larger disk and hours of writing.",
	}
	var p99, size, free []lab.Line
	var comp []lab.Line
	for _, run := range r.Runs {
		var a, b, c, d []lab.XY
		for _, s := range run.Samples {
			mib := float64(s.DBBytes) / (1 << 20)
			if s.PutP99 != nil {
				a = append(a, lab.XY{X: mib, Y: *s.PutP99 * 1000})
			}
			b = append(b, lab.XY{X: s.T, Y: mib})
			c = append(c, lab.XY{X: s.T, Y: float64(s.DBBytes-s.InUseBytes) / (1 << 20)})
		}
		for _, cp := range run.Compactions {
			if cp.Err == "" {
				d = append(d, lab.XY{X: float64(cp.DBBytes) / (1 << 20), Y: cp.Seconds * 1000})
			}
		}
		p99 = append(p99, lab.Line{Name: run.Freelist, Points: a})
		size = append(size, lab.Line{Name: run.Freelist, Points: b})
		free = append(free, lab.Line{Name: run.Freelist, Points: c})
		comp = append(comp, lab.Line{Name: run.Freelist, Points: d})
	}
	mibLabel := func(x float64) string { return lab.NumH(x) + " MiB" }
	putChart := lab.NewChart("Put p99 per sampling interval, by database size (x: database file, MiB)", "ms", 0, p99)
	lab.RelabelX(&putChart, p99, mibLabel)
	compChart := lab.NewChart("Compaction duration, by database size (x: database file, MiB)", "ms", 0, comp)
	lab.RelabelX(&compChart, comp, mibLabel)
	p.Charts = append(p.Charts, putChart, compChart,
		lab.NewChart("Database file size (x: time since the run began)", "MiB", 0, size),
		lab.NewChart("Free pages in the database file (file − in use)", "MiB", 0, free))
	return p
}
