package longread

import (
	"fmt"
	"sort"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Rows are the per-phase table (report and terminal): a header row, then
// one row per figure with a column per phase.
func (r *Result) Rows() [][]string {
	head := []string{""}
	for _, p := range r.Phases {
		head = append(head, p.Name)
	}
	x := func(v *float64) string { return lab.FmtOpt(v, "%.2f×") }
	rows := [][]string{head}
	add := func(name string, f func(Phase) string) {
		row := []string{name}
		for _, p := range r.Phases {
			row = append(row, f(p))
		}
		rows = append(rows, row)
	}
	add("writes (ok / failed)", func(p Phase) string { return fmt.Sprintf("%d / %d", p.Writes.Count, p.WriteErrors) })
	add("write p50 (client)", func(p Phase) string { return lab.MsOpt(p.Writes.P50) })
	add("write p99 (client)", func(p Phase) string { return lab.MsOpt(p.Writes.P99) })
	add("write max (client)", func(p Phase) string { return lab.MsOpt(p.Writes.Max) })
	add("write p99 / baseline p99", func(p Phase) string { return x(p.WriteP99VsBase) })
	add("write p50 / baseline p50", func(p Phase) string { return x(p.WriteP50VsBase) })
	add("write p50 / p99 (API server)", func(p Phase) string { return lab.MsOpt(p.ServerWriteP50) + " / " + lab.MsOpt(p.ServerWriteP99) })
	add("reads (ok / failed)", func(p Phase) string {
		if p.Kind == Baseline {
			return "—"
		}
		return fmt.Sprintf("%d / %d", p.Reads.Count, p.ReadErrors)
	})
	add("read p50 / p99 (client)", func(p Phase) string { return lab.SecOpt(p.Reads.P50) + " / " + lab.SecOpt(p.Reads.P99) })
	add("bytes per read", func(p Phase) string { return lab.BytesP(p.BytesPerRead) })
	add("LIST p99 (API server)", func(p Phase) string { return lab.SecOpt(p.ServerListP99) })
	add("etcd commit p99 / WAL fsync p99", func(p Phase) string { return lab.MsOpt(p.EtcdCommitP99) + " / " + lab.MsOpt(p.EtcdFsyncP99) })
	for _, name := range coreNames(r.Phases) {
		add("CPU "+name+" (cores)", func(p Phase) string {
			if v, ok := p.Cores[name]; ok {
				return fmt.Sprintf("%.2f", v)
			}
			return "—"
		})
	}
	return rows
}

func coreNames(phases []Phase) []string {
	seen := map[string]bool{}
	var names []string
	for _, p := range phases {
		for n := range p.Cores {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// Page is the report page.
func (r *Result) Page() *lab.Page {
	p := lab.NewPage(fmt.Sprintf("Myriad long-read: write latency under %d concurrent long reads of %d objects", r.Readers, r.Objects), &r.RunInfo,
		fmt.Sprintf("A writer patches ConfigMaps through the API server at %.0f writes/s on a fixed schedule (a slow write does not delay the next) and times each. "+
			"Phases of equal length run one after the other: writes alone (baseline), then writes while %d readers each loop over one read of all %d ConfigMaps (%s of data each), then writes alone again. "+
			"Each reader has a connection of its own, as separate clients would.", r.WriteRate, r.Readers, r.Objects, lab.BytesH(float64(r.ObjectBytes))))
	rows := r.Rows()
	p.Tables = append(p.Tables, lab.Table{Title: "Per phase", Head: rows[0], Rows: rows[1:],
		Note: fmt.Sprintf("Baseline (all writes-only phases pooled): p50 %s, p99 %s over %d writes. Client latencies are from the bench; API server and etcd figures are their own histograms over the phase.",
			lab.MsOpt(r.Baseline.P50), lab.MsOpt(r.Baseline.P99), r.Baseline.Count)})
	var kinds [][]string
	seen := map[string]bool{}
	for _, ph := range r.Phases {
		if !seen[ph.Kind] {
			seen[ph.Kind] = true
			kinds = append(kinds, []string{ph.Kind, Kinds[ph.Kind]})
		}
	}
	p.Tables = append(p.Tables, lab.Table{Title: "What the readers do in each kind of phase", Rows: kinds})
	p.Meaning = []string{
		"The seed's figure is etcd 3.4's: before it, a long read held etcd's backend read lock and writes queued behind it; with fully concurrent reads, write p99 under long reads fell by 90%. " +
			"Myriad runs etcd 3.7, which has that change, and Kubernetes 1.37, whose watch cache serves LISTs, consistent ones included, without reading etcd at all.",
		"So the ratio \"write p99 / baseline p99\" in each read phase is what long reads still cost writes here. On one 2-core machine that is mostly CPU: the API server encodes tens of MB per LIST and the bench reads them, on the same cores that serve the writes. " +
			"The etcd-range phase reads etcd directly, as a LIST without the watch cache would; its write ratio is the closest to the seed's experiment.",
	}
	var bars []lab.BarInput
	for _, ph := range r.Phases {
		bars = append(bars, lab.BarInput{Label: ph.Name, Value: lab.ScaledPtr(ph.Writes.P99, 1000), Text: lab.MsOpt(ph.Writes.P99)})
	}
	p.Bars = append(p.Bars, lab.NewBarChart("Write p99 per phase (client)", "ms", bars))
	var w99, reads []lab.Line
	for _, ph := range r.Phases {
		var a, b []lab.XY
		for _, pt := range ph.WriteP99OverTime {
			a = append(a, lab.XY{X: pt.T, Y: pt.V})
		}
		for _, pt := range ph.ReadLatencyOfTime {
			b = append(b, lab.XY{X: pt.T, Y: pt.V})
		}
		// Every phase has a series (empty without reads), so a phase has
		// the same color in both charts.
		w99, reads = append(w99, lab.Line{Name: ph.Name, Points: a}), append(reads, lab.Line{Name: ph.Name, Points: b})
	}
	p.Charts = append(p.Charts,
		lab.NewChart("Write p99 per 2 s (client), by phase", "ms", 0, w99),
		lab.NewChart("Latency of each long read, by phase", "ms", 0, reads))
	return p
}
