package lab

import (
	"fmt"
	"sort"
)

// WriteLongReadReport writes dir/result.json and dir/report.html.
func WriteLongReadReport(dir string, r *LongReadResult) (string, error) {
	return writeScenarioReport(dir, r, longReadPage(r))
}

// LongReadRows is the per-phase table (report and terminal): a header row,
// then one row per figure with a column per phase.
func LongReadRows(r *LongReadResult) [][]string {
	head := []string{""}
	for _, p := range r.Phases {
		head = append(head, p.Name)
	}
	x := func(v *float64) string { return FmtOpt(v, "%.2f×") }
	rows := [][]string{head}
	add := func(name string, f func(LongReadPhase) string) {
		row := []string{name}
		for _, p := range r.Phases {
			row = append(row, f(p))
		}
		rows = append(rows, row)
	}
	add("writes (ok / failed)", func(p LongReadPhase) string { return fmt.Sprintf("%d / %d", p.Writes.Count, p.WriteErrors) })
	add("write p50 (client)", func(p LongReadPhase) string { return MsOpt(p.Writes.P50) })
	add("write p99 (client)", func(p LongReadPhase) string { return MsOpt(p.Writes.P99) })
	add("write max (client)", func(p LongReadPhase) string { return MsOpt(p.Writes.Max) })
	add("write p99 / baseline p99", func(p LongReadPhase) string { return x(p.WriteP99VsBase) })
	add("write p50 / baseline p50", func(p LongReadPhase) string { return x(p.WriteP50VsBase) })
	add("write p50 / p99 (API server)", func(p LongReadPhase) string { return MsOpt(p.ServerWriteP50) + " / " + MsOpt(p.ServerWriteP99) })
	add("reads (ok / failed)", func(p LongReadPhase) string {
		if p.Kind == LongReadBaseline {
			return "—"
		}
		return fmt.Sprintf("%d / %d", p.Reads.Count, p.ReadErrors)
	})
	add("read p50 / p99 (client)", func(p LongReadPhase) string { return SecOpt(p.Reads.P50) + " / " + SecOpt(p.Reads.P99) })
	add("bytes per read", func(p LongReadPhase) string { return BytesP(p.BytesPerRead) })
	add("LIST p99 (API server)", func(p LongReadPhase) string { return SecOpt(p.ServerListP99) })
	add("etcd commit p99 / WAL fsync p99", func(p LongReadPhase) string { return MsOpt(p.EtcdCommitP99) + " / " + MsOpt(p.EtcdFsyncP99) })
	for _, name := range coreNames(r.Phases) {
		add("CPU "+name+" (cores)", func(p LongReadPhase) string {
			if v, ok := p.Cores[name]; ok {
				return fmt.Sprintf("%.2f", v)
			}
			return "—"
		})
	}
	return rows
}

func coreNames(phases []LongReadPhase) []string {
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

func longReadPage(r *LongReadResult) *Page {
	p := NewPage(fmt.Sprintf("Myriad long-read: write latency under %d concurrent long reads of %d objects", r.Readers, r.Objects), &r.RunInfo,
		fmt.Sprintf("A writer patches ConfigMaps through the API server at %.0f writes/s on a fixed schedule (a slow write does not delay the next) and times each. "+
			"Phases of equal length run one after the other: writes alone (baseline), then writes while %d readers each loop over one read of all %d ConfigMaps (%s of data each), then writes alone again. "+
			"Each reader has a connection of its own, as separate clients would.", r.WriteRate, r.Readers, r.Objects, BytesH(float64(r.ObjectBytes))))
	rows := LongReadRows(r)
	p.Tables = append(p.Tables, Table{Title: "Per phase", Head: rows[0], Rows: rows[1:],
		Note: fmt.Sprintf("Baseline (all writes-only phases pooled): p50 %s, p99 %s over %d writes. Client latencies are from the bench; API server and etcd figures are their own histograms over the phase.",
			MsOpt(r.Baseline.P50), MsOpt(r.Baseline.P99), r.Baseline.Count)})
	var kinds [][]string
	seen := map[string]bool{}
	for _, ph := range r.Phases {
		if !seen[ph.Kind] {
			seen[ph.Kind] = true
			kinds = append(kinds, []string{ph.Kind, LongReadKinds[ph.Kind]})
		}
	}
	p.Tables = append(p.Tables, Table{Title: "What the readers do in each kind of phase", Rows: kinds})
	p.Meaning = []string{
		"The seed's figure is etcd 3.4's: before it, a long read held etcd's backend read lock and writes queued behind it; with fully concurrent reads, write p99 under long reads fell by 90%. " +
			"Myriad runs etcd 3.7, which has that change, and Kubernetes 1.37, whose watch cache serves LISTs, consistent ones included, without reading etcd at all.",
		"So the ratio \"write p99 / baseline p99\" in each read phase is what long reads still cost writes here. On one 2-core machine that is mostly CPU: the API server encodes tens of MB per LIST and the bench reads them, on the same cores that serve the writes. " +
			"The etcd-range phase reads etcd directly, as a LIST without the watch cache would; its write ratio is the closest to the seed's experiment.",
	}
	var bars []BarInput
	for i, ph := range r.Phases {
		bars = append(bars, BarInput{ph.Name, ScaledPtr(ph.Writes.P99, 1000), palette[i%len(palette)], MsOpt(ph.Writes.P99)})
	}
	p.Bars = append(p.Bars, NewBarChart("Write p99 per phase (client)", "ms", bars))
	var w99, reads []Line
	for _, ph := range r.Phases {
		var a, b []XY
		for _, pt := range ph.WriteP99OverTime {
			a = append(a, XY{pt.T, pt.V})
		}
		for _, pt := range ph.ReadLatencyOfTime {
			b = append(b, XY{pt.T, pt.V})
		}
		// Every phase has a series (empty without reads), so a phase has
		// the same color in both charts.
		w99, reads = append(w99, Line{ph.Name, a}), append(reads, Line{ph.Name, b})
	}
	p.Charts = append(p.Charts,
		NewChart("Write p99 per 2 s (client), by phase", "ms", 0, w99),
		NewChart("Latency of each long read, by phase", "ms", 0, reads))
	return p
}
