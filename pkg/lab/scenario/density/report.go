package density

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// maxAPIRowsPerPhase keeps the report readable; result.json has every pair.
const maxAPIRowsPerPhase = 40

// Rows are the headline figures, reached against target.
func (r *Result) Rows() [][]string {
	objects := "—"
	if r.Reached.Objects != nil {
		objects = strconv.FormatInt(*r.Reached.Objects, 10)
	}
	s := r.PodStartup.SLI
	rows := [][]string{
		{"", "reached", "target"},
		{"nodes Ready", strconv.Itoa(r.Reached.Nodes), strconv.Itoa(r.Target.Nodes)},
		{"pods Running (most at once)", strconv.Itoa(r.Reached.PodsRunning), strconv.Itoa(r.Target.Pods)},
		{"objects in the cluster (last count)", objects, strconv.FormatInt(r.Target.Objects, 10)},
		{"pod startup p50 / p90 / p99 (SLI)", lab.SecOpt(s.P50) + " / " + lab.SecOpt(s.P90) + " / " + lab.SecOpt(s.P99), "p99 ≤ 5 s"},
		{"etcd DB size start → end (max)", lab.BytesP(r.Etcd.DBStartBytes) + " → " + lab.BytesP(r.Etcd.DBEndBytes) + " (" + lab.BytesP(r.Etcd.DBMaxBytes) + ")", ""},
	}
	for _, v := range r.SLOs {
		if v.Class == lab.SLOPodStartup {
			continue
		}
		rows = append(rows, []string{"API " + v.Class + ": worst 5-minute window", verdictCell(v), fmt.Sprintf("≤ %g s", v.ThresholdSeconds)})
	}
	return rows
}

// Page is the report.
func (r *Result) Page() *lab.Page {
	title := fmt.Sprintf("Myriad density: %d nodes, %d pods, %d objects", r.Target.Nodes, r.Target.Pods, r.Target.Objects)
	p := lab.NewPage(title, &r.RunInfo,
		"The run grows a cluster in phases: nodes Ready, then pods Running through Deployments (written at a bounded rate), then small ConfigMaps, Secrets and headless Services until the cluster holds the target number of objects, then holds that size. "+
			"In every phase it judges API call latency (the API server's own apiserver_request_duration_seconds, scraped every few seconds and judged in 5-minute windows as SIG scalability does) and pod startup latency (a watch) against SIG scalability's SLOs, and against the seeds' 100 ms.")
	size := lab.Table{Title: "Size", Head: []string{"", "reached", "target"}, Rows: r.Rows()[1:]}
	if r.StoppedIn != "" {
		size.Note = "The run stopped in the " + r.StoppedIn + " phase: " + r.StoppedEarly
	}
	p.Tables = append(p.Tables, size, densityPhaseTable(r), densitySLOTable(r), densityWindowTable(r), densityStartupTable(r))
	for _, ph := range r.Phases {
		if t, ok := densityAPITable(ph); ok {
			p.Tables = append(p.Tables, t)
		}
		if ph.APF != nil {
			p.Tables = append(p.Tables, lab.APFTable(fmt.Sprintf("API Priority and Fairness, %s phase", ph.Name), ph.APF))
		}
	}
	p.Tables = append(p.Tables, densityClientTable(r), densityObjectTable(r))
	p.Meaning = densityMeaning(r)
	p.Charts = densityCharts(r)
	return p
}

func densityPhaseTable(r *Result) lab.Table {
	t := lab.Table{Title: "Phases", Head: []string{"phase", "from", "to", "took", "reached", "API requests/s", "pods started", "startup p99", "stopped because"}}
	for _, ph := range r.Phases {
		t.Rows = append(t.Rows, []string{ph.Name,
			mmss(ph.From.Sub(r.StartedAt).Seconds()), mmss(ph.To.Sub(r.StartedAt).Seconds()), lab.SecondsH(ph.Seconds),
			ph.Reached, lab.FmtOpt(ph.RequestsPerSecond, "%.0f"), strconv.Itoa(ph.PodStartup.SLI.Count), lab.SecOpt(ph.PodStartup.SLI.P99), lab.OrDash(ph.Error)})
	}
	t.Note = "Times are m:ss since the run started."
	return t
}

// densitySLOTable is one row per objective, one column per phase plus the
// whole run.
func densitySLOTable(r *Result) lab.Table {
	head := []string{"objective", "threshold"}
	var cols []map[string]lab.SLOVerdict
	for _, ph := range r.Phases {
		if len(ph.SLOs) == 0 {
			continue
		}
		m := map[string]lab.SLOVerdict{}
		for _, v := range ph.SLOs {
			m[v.Class] = v
		}
		cols = append(cols, m)
		head = append(head, ph.Name+" phase")
	}
	whole := map[string]lab.SLOVerdict{}
	for _, v := range r.SLOs {
		whole[v.Class] = v
	}
	cols = append(cols, whole)
	head = append(head, "whole run", "seed: ≤ 100 ms")
	t := lab.Table{Title: "SLO verdicts (worst p99 of any pair; ✓ within, ✗ over the threshold)", Head: head}
	for _, s := range append(append([]lab.SLO(nil), lab.APISLOs...), lab.PodStartupObjective) {
		row := []string{s.Class, fmt.Sprintf("%g s", s.ThresholdSeconds)}
		for _, c := range cols {
			if v, ok := c[s.Class]; ok {
				row = append(row, verdictCell(v))
			} else {
				row = append(row, "—")
			}
		}
		seed := "—"
		if v, ok := whole[s.Class]; ok && v.WorstP99 != nil {
			seed = "✗ no"
			if v.MeetsSeed {
				seed = "✓ yes"
			}
		}
		t.Rows = append(t.Rows, append(row, seed))
	}
	t.Note = "Mutating: every (resource, verb) pair of POST/PUT/PATCH/DELETE on single objects. Reads: every (resource, scope) pair of GET and LIST (not WATCH). " +
		"Built-in resources only; streaming subresources (exec, attach, port-forward, proxy, log), custom and aggregated resources are out of scope, as upstream defines the SLIs. " +
		"Each phase is judged in 5-minute windows, as upstream judges a cluster-day: a cell is the class's worst window, with how many windows were judged and how many missed. " +
		"A phase shorter than 5 minutes is one window; a tail shorter than 2.5 minutes joins the window before it. \"no data\" (a window without a good scrape at or before an edge, or without requests of a class) fails the run."
	return t
}

func verdictCell(v lab.SLOVerdict) string {
	if v.NoData || v.WorstP99 == nil {
		return "no data (no requests)"
	}
	mark := "✓"
	if !v.Pass {
		mark = "✗"
	}
	cell := fmt.Sprintf("%s %s (%s)", mark, lab.SecOpt(v.WorstP99), v.Worst)
	if v.Windows > 0 {
		cell += fmt.Sprintf(" in %s, worst of %d windows", v.Window, v.Windows)
		if v.WindowsMissed > 0 {
			cell += fmt.Sprintf(", %d over", v.WindowsMissed)
		}
	}
	if v.NoData {
		cell += "; no data in some window"
	}
	return cell
}

// densityWindowTable has one row per API latency window: its worst p99
// per class, ✓ within and ✗ over the class's threshold.
func densityWindowTable(r *Result) lab.Table {
	t := lab.Table{Title: "API latency windows (worst p99 of any pair per class)", Head: []string{"phase", "window", "measured between"}}
	for _, s := range lab.APISLOs {
		t.Head = append(t.Head, fmt.Sprintf("%s (≤ %g s)", s.Class, s.ThresholdSeconds))
	}
	for _, ph := range r.Phases {
		for _, w := range ph.Windows {
			row := []string{ph.Name, windowLabel(r, w), mmss(w.MeasuredFrom.Sub(r.StartedAt).Seconds()) + "–" + mmss(w.MeasuredTo.Sub(r.StartedAt).Seconds())}
			if w.NoData != "" {
				row[2] = "—"
			}
			for _, s := range lab.APISLOs {
				cell := "no data"
				for _, v := range w.SLOs {
					if v.Class == s.Class && !v.NoData && v.WorstP99 != nil {
						mark := "✓"
						if !v.Pass {
							mark = "✗"
						}
						cell = fmt.Sprintf("%s %s (%s)", mark, lab.SecOpt(v.WorstP99), v.Worst)
					}
				}
				row = append(row, cell)
			}
			t.Rows = append(t.Rows, row)
		}
	}
	t.Note = "Times are m:ss since the run started. A window's edges take the last good scrape at or before them."
	return t
}

func densityStartupTable(r *Result) lab.Table {
	row := func(name string, l lab.Latencies) []string {
		return []string{name, strconv.Itoa(l.Count), lab.SecOpt(l.P50), lab.SecOpt(l.P90), lab.SecOpt(l.P99), lab.SecOpt(l.Max)}
	}
	s := r.PodStartup
	return lab.Table{Title: "Pod startup latency (after the nodes phase)", Head: []string{"", "pods", "p50", "p90", "p99", "max"},
		Rows: [][]string{
			row("creationTimestamp → Running seen (SLI)", s.SLI),
			row("first seen → Running seen (watch only)", s.Watch),
			row("first seen → seen bound (scheduling)", s.Schedule),
		},
		Note: "creationTimestamp has whole seconds, so the SLI reads up to 1 s high; the watch-only line times both ends on the bench's clock. " +
			"Simulated nodes pull no images, which the SLI excludes anyway."}
}

func densityAPITable(ph PhaseResult) (lab.Table, bool) {
	if ph.API == nil {
		return lab.Table{}, false
	}
	t := lab.Table{Title: fmt.Sprintf("API call latency, %s phase (server side)", ph.Name),
		Head: []string{"class", "verb", "resource", "scope", "requests", "p50", "p90", "p99", "SLO (p99 ≤)", "≤ 100 ms"}}
	rows := ph.API
	if len(rows) > maxAPIRowsPerPhase {
		// Keep the worst of every class: the rows are sorted worst first
		// within a class.
		perClass := maxAPIRowsPerPhase / len(lab.APISLOs)
		kept := map[string]int{}
		var trimmed []lab.APILatencyRow
		for _, row := range rows {
			if kept[row.Class] < perClass {
				kept[row.Class]++
				trimmed = append(trimmed, row)
			}
		}
		t.Note = fmt.Sprintf("The %d slowest pairs of each class of %d; result.json has all.", perClass, len(rows))
		rows = trimmed
	}
	for _, a := range rows {
		slo, seed := "✓", "✓"
		if a.OverSLO {
			slo = "✗"
		}
		if a.OverSeed {
			seed = "✗"
		}
		t.Rows = append(t.Rows, []string{a.Class, a.Verb, a.Resource, lab.OrDash(a.Scope), fmt.Sprintf("%.0f", a.Count),
			lab.SecOpt(a.P50), lab.SecOpt(a.P90), lab.SecOpt(a.P99), fmt.Sprintf("%s %g s", slo, a.ThresholdSeconds), seed})
	}
	return t, true
}

func densityClientTable(r *Result) lab.Table {
	t := lab.Table{Title: "The bench's own calls (client side)", Head: []string{"phase", "call", "count", "errors", "p50", "p99", "max"}}
	for _, c := range r.Client {
		t.Rows = append(t.Rows, []string{c.Phase, c.Call, strconv.Itoa(c.Count), strconv.Itoa(c.Errors), lab.SecOpt(c.P50), lab.SecOpt(c.P99), lab.SecOpt(c.Max)})
	}
	t.Note = "Request sent to response read, as the bench saw it; its write pacing waits before each call and is not included. " +
		"Probe calls (GET, PATCH and LIST of a probe ConfigMap namespace, LIST namespaces) run once per probe interval throughout."
	return t
}

// densityObjectTable has one column per count and a row per resource type
// that held at least 1% of the last count; the rest are summed.
func densityObjectTable(r *Result) lab.Table {
	t := lab.Table{Title: "Objects in the cluster, counted through the API", Note: "How: " + lab.ObjectCountMethod + "."}
	if len(r.Objects) == 0 {
		t.Rows = [][]string{{"no count was taken", ""}}
		return t
	}
	t.Head = []string{"resource"}
	for _, c := range r.Objects {
		t.Head = append(t.Head, fmt.Sprintf("%s (%s)", c.Phase, mmss(c.At.Sub(r.StartedAt).Seconds())))
	}
	last := r.Objects[len(r.Objects)-1]
	var big []string
	for name, n := range last.ByResource {
		if n*100 >= last.Total {
			big = append(big, name)
		}
	}
	sort.Slice(big, func(i, j int) bool { return last.ByResource[big[i]] > last.ByResource[big[j]] })
	isBig := map[string]bool{}
	for _, name := range big {
		isBig[name] = true
		row := []string{name}
		for _, c := range r.Objects {
			row = append(row, strconv.FormatInt(c.ByResource[name], 10))
		}
		t.Rows = append(t.Rows, row)
	}
	other, total := []string{"other types"}, []string{"total"}
	for _, c := range r.Objects {
		var n int64
		for name, v := range c.ByResource {
			if !isBig[name] {
				n += v
			}
		}
		other = append(other, strconv.FormatInt(n, 10))
		total = append(total, strconv.FormatInt(c.Total, 10))
	}
	t.Rows = append(t.Rows, other, total)
	if len(last.Uncounted) > 0 {
		t.Note += " Not counted: " + strings.Join(last.Uncounted, "; ") + "."
	}
	return t
}

func densityMeaning(r *Result) []string {
	m := []string{
		"API call latency is the API server's own measure, from receiving a request to the last byte of the answer, for every request any client made (controllers, scheduler, simulated kubelets, the bench). " +
			"A window's figures are the difference of the histograms at its edges (the last good scrape at or before each edge, scraped every --scrape-interval), so they cover that window and a scrape lost under load costs one interval; p50/p90/p99 are interpolated within the histogram's buckets (0.1 s, 0.2 s, 0.4 s, … 1 s, 1.25 s, …), as Prometheus' histogram_quantile does.",
		"Pod startup is timed per pod by a watch on the run's pods: the upstream SLI starts at creationTimestamp, which the ReplicaSet controller's create sets, and ends when the watch first delivers the pod Running. " +
			"Deployments are written at a bounded pod rate, so startup latency reflects how fast scheduler, API server and nodes keep up with that rate, not a queue the bench built on purpose.",
	}
	m = append(m, r.Notes...)
	return m
}

func densityCharts(r *Result) []lab.Chart {
	sec := func(t time.Time) float64 { return t.Sub(r.StartedAt).Seconds() }
	var running, present, ready []lab.XY
	for _, p := range r.Series.Running {
		running = append(running, lab.XY{X: sec(p.At), Y: float64(p.Running)})
		present = append(present, lab.XY{X: sec(p.At), Y: float64(p.Pods)})
	}
	for _, p := range r.Series.Ready {
		ready = append(ready, lab.XY{X: sec(p.At), Y: float64(p.Ready)})
	}
	var p50, p90, p99 []lab.XY
	for _, p := range r.Series.Startup {
		p50 = append(p50, lab.XY{X: sec(p.At), Y: p.P50})
		p90 = append(p90, lab.XY{X: sec(p.At), Y: p.P90})
		p99 = append(p99, lab.XY{X: sec(p.At), Y: p.P99})
	}
	verbs := map[string][]lab.XY{}
	var rate, objects, db []lab.XY
	for _, p := range r.Series.API {
		for verb, v := range p.VerbP99 {
			verbs[verb] = append(verbs[verb], lab.XY{X: sec(p.At), Y: v * 1000})
		}
		if p.RequestsPerSecond != nil {
			rate = append(rate, lab.XY{X: sec(p.At), Y: *p.RequestsPerSecond})
		}
		if p.Objects != nil {
			objects = append(objects, lab.XY{X: sec(p.At), Y: *p.Objects})
		}
		if p.EtcdDBBytes != nil {
			db = append(db, lab.XY{X: sec(p.At), Y: *p.EtcdDBBytes / (1 << 20)})
		}
	}
	var counted []lab.XY
	for _, c := range r.Objects {
		counted = append(counted, lab.XY{X: sec(c.At), Y: float64(c.Total)})
	}
	verbNames := make([]string, 0, len(verbs))
	for v := range verbs {
		verbNames = append(verbNames, v)
	}
	sort.Strings(verbNames)
	var perVerb []lab.Line
	for _, v := range verbNames {
		perVerb = append(perVerb, lab.Line{Name: v, Points: verbs[v]})
	}
	var starts []phaseStart
	for _, ph := range r.Phases {
		if ph.Name != PhaseNodes {
			starts = append(starts, phaseStart{ph.Name, sec(ph.From)})
		}
	}
	charts := []lab.Chart{
		phaseChart("The run's pods", "pods", starts, []lab.Line{{Name: "Running", Points: running}, {Name: "created", Points: present}}),
		phaseChart("Pod startup latency (SLI) of the pods that turned Running in each interval", "s", starts, []lab.Line{{Name: "p50", Points: p50}, {Name: "p90", Points: p90}, {Name: "p99", Points: p99}}),
		phaseChart("API call latency p99 per verb, per scrape interval (SLO requests)", "ms", starts, perVerb),
		phaseChart("API requests served", "requests/s", starts, []lab.Line{{Name: "all API servers", Points: rate}}),
		phaseChart("Objects in the cluster", "objects", starts, []lab.Line{{Name: "API server count (~1/min)", Points: objects}, {Name: "counted by LIST", Points: counted}}),
		phaseChart("etcd database size", "MiB", starts, []lab.Line{{Name: "etcd DB", Points: db}}),
	}
	if len(ready) > 0 {
		charts = append(charts, phaseChart("Ready simulated nodes", "nodes", starts, []lab.Line{{Name: "Ready", Points: ready}}))
	}
	return charts
}

type phaseStart struct {
	name string
	at   float64 // seconds since the run started
}

// phaseChart is a line chart with a dashed line where each phase began.
func phaseChart(title, unit string, starts []phaseStart, ss []lab.Line) lab.Chart {
	c := lab.NewChart(title, unit, 0, ss)
	for _, st := range starts {
		c.MarkAt(ss, st.at, st.name)
	}
	return c
}

// mmss is seconds since the run started as m:ss.
func mmss(sec float64) string {
	d := time.Duration(sec) * time.Second
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
