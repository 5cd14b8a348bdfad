package lab

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxAPIRowsPerPhase keeps the report readable; result.json has every pair.
const maxAPIRowsPerPhase = 40

// WriteDensityReport writes dir/result.json and dir/report.html.
func WriteDensityReport(dir string, r *DensityResult) (string, error) {
	return writeScenarioReport(dir, r, densityPage(r))
}

// DensitySummaryRows are the headline figures (report and terminal).
func DensitySummaryRows(r *DensityResult) [][]string {
	objects := "—"
	if r.Reached.Objects != nil {
		objects = strconv.FormatInt(*r.Reached.Objects, 10)
	}
	s := r.PodStartup.SLI
	rows := [][]string{
		{"nodes Ready", strconv.Itoa(r.Reached.Nodes), strconv.Itoa(r.Target.Nodes)},
		{"pods Running (most at once)", strconv.Itoa(r.Reached.PodsRunning), strconv.Itoa(r.Target.Pods)},
		{"objects in the cluster (last count)", objects, strconv.FormatInt(r.Target.Objects, 10)},
		{"pod startup p50 / p90 / p99 (SLI)", SecOpt(s.P50) + " / " + SecOpt(s.P90) + " / " + SecOpt(s.P99), "p99 ≤ 5 s"},
		{"etcd DB size start → end (max)", BytesP(r.Etcd.DBStartBytes) + " → " + BytesP(r.Etcd.DBEndBytes) + " (" + BytesP(r.Etcd.DBMaxBytes) + ")", ""},
	}
	for _, v := range r.SLOs {
		if v.Class == SLOPodStartup {
			continue
		}
		rows = append(rows, []string{"API " + v.Class + ": worst p99 (whole run)", verdictCell(v), fmt.Sprintf("≤ %g s", v.ThresholdSeconds)})
	}
	return rows
}

func densityPage(r *DensityResult) *Page {
	title := fmt.Sprintf("Myriad density: %d nodes, %d pods, %d objects", r.Target.Nodes, r.Target.Pods, r.Target.Objects)
	p := NewPage(title, &r.RunInfo,
		"The run grows a cluster in phases: nodes Ready, then pods Running through Deployments (written at a bounded rate), then small ConfigMaps, Secrets and headless Services until the cluster holds the target number of objects, then holds that size. "+
			"In every phase it judges API call latency (the API server's own apiserver_request_duration_seconds, scraped at the phase's start and end) and pod startup latency (a watch) against SIG scalability's SLOs, and against the seeds' 100 ms.")
	size := Table{Title: "Size", Head: []string{"", "reached", "target"}, Rows: DensitySummaryRows(r)}
	if r.StoppedIn != "" {
		size.Note = "The run stopped in the " + r.StoppedIn + " phase: " + r.StoppedEarly
	}
	p.Tables = append(p.Tables, size, densityPhaseTable(r), densitySLOTable(r), densityStartupTable(r))
	for _, ph := range r.Phases {
		if t, ok := densityAPITable(ph); ok {
			p.Tables = append(p.Tables, t)
		}
	}
	p.Tables = append(p.Tables, densityClientTable(r), densityObjectTable(r))
	p.Meaning = densityMeaning(r)
	p.Charts = densityCharts(r)
	return p
}

func densityPhaseTable(r *DensityResult) Table {
	t := Table{Title: "Phases", Head: []string{"phase", "from", "to", "took", "reached", "API requests/s", "pods started", "startup p99", "stopped because"}}
	for _, ph := range r.Phases {
		t.Rows = append(t.Rows, []string{ph.Name,
			clockH(ph.From.Sub(r.StartedAt).Seconds()), clockH(ph.To.Sub(r.StartedAt).Seconds()), SecondsH(ph.Seconds),
			ph.Reached, FmtOpt(ph.RequestsPerSecond, "%.0f"), strconv.Itoa(ph.PodStartup.SLI.Count), SecOpt(ph.PodStartup.SLI.P99), OrDash(ph.Error)})
	}
	t.Note = "Times are m:ss since the run started."
	return t
}

// densitySLOTable is one row per objective, one column per phase plus the
// whole run.
func densitySLOTable(r *DensityResult) Table {
	head := []string{"objective", "threshold"}
	var cols []map[string]SLOVerdict
	for _, ph := range r.Phases {
		if len(ph.SLOs) == 0 {
			continue
		}
		m := map[string]SLOVerdict{}
		for _, v := range ph.SLOs {
			m[v.Class] = v
		}
		cols = append(cols, m)
		head = append(head, ph.Name+" phase")
	}
	whole := map[string]SLOVerdict{}
	for _, v := range r.SLOs {
		whole[v.Class] = v
	}
	cols = append(cols, whole)
	head = append(head, "whole run", "seed: ≤ 100 ms")
	t := Table{Title: "SLO verdicts (worst p99 of any pair; ✓ within, ✗ over the threshold)", Head: head}
	for _, s := range append(append([]SLO(nil), APISLOs...), PodStartupObjective) {
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
		"Upstream judges p99 over 5-minute windows per cluster-day; here each phase is one window."
	return t
}

func verdictCell(v SLOVerdict) string {
	if v.WorstP99 == nil {
		return "no requests"
	}
	mark := "✓"
	if !v.Pass {
		mark = "✗"
	}
	return fmt.Sprintf("%s %s (%s)", mark, SecOpt(v.WorstP99), v.Worst)
}

func densityStartupTable(r *DensityResult) Table {
	row := func(name string, l Latencies) []string {
		return []string{name, strconv.Itoa(l.Count), SecOpt(l.P50), SecOpt(l.P90), SecOpt(l.P99), SecOpt(l.Max)}
	}
	s := r.PodStartup
	return Table{Title: "Pod startup latency (after the nodes phase)", Head: []string{"", "pods", "p50", "p90", "p99", "max"},
		Rows: [][]string{
			row("creationTimestamp → Running seen (SLI)", s.SLI),
			row("first seen → Running seen (watch only)", s.Watch),
			row("first seen → seen bound (scheduling)", s.Schedule),
		},
		Note: "creationTimestamp has whole seconds, so the SLI reads up to 1 s high; the watch-only line times both ends on the bench's clock. " +
			"Simulated nodes pull no images, which the SLI excludes anyway."}
}

func densityAPITable(ph DensityPhaseResult) (Table, bool) {
	if ph.API == nil {
		return Table{}, false
	}
	t := Table{Title: fmt.Sprintf("API call latency, %s phase (server side)", ph.Name),
		Head: []string{"class", "verb", "resource", "scope", "requests", "p50", "p90", "p99", "SLO (p99 ≤)", "≤ 100 ms"}}
	rows := ph.API
	if len(rows) > maxAPIRowsPerPhase {
		// Keep the worst of every class: the rows are sorted worst first
		// within a class.
		perClass := maxAPIRowsPerPhase / len(APISLOs)
		kept := map[string]int{}
		var trimmed []APILatencyRow
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
		t.Rows = append(t.Rows, []string{a.Class, a.Verb, a.Resource, OrDash(a.Scope), fmt.Sprintf("%.0f", a.Count),
			SecOpt(a.P50), SecOpt(a.P90), SecOpt(a.P99), fmt.Sprintf("%s %g s", slo, a.ThresholdSeconds), seed})
	}
	return t, true
}

func densityClientTable(r *DensityResult) Table {
	t := Table{Title: "The bench's own calls (client side)", Head: []string{"phase", "call", "count", "errors", "p50", "p99", "max"}}
	for _, c := range r.Client {
		t.Rows = append(t.Rows, []string{c.Phase, c.Call, strconv.Itoa(c.Count), strconv.Itoa(c.Errors), SecOpt(c.P50), SecOpt(c.P99), SecOpt(c.Max)})
	}
	t.Note = "Request sent to response read, as the bench saw it; its write pacing waits before each call and is not included. " +
		"Probe calls (GET, PATCH and LIST of a probe ConfigMap namespace, LIST namespaces) run once per probe interval throughout."
	return t
}

// densityObjectTable has one column per count and a row per resource type
// that held at least 1% of the last count; the rest are summed.
func densityObjectTable(r *DensityResult) Table {
	t := Table{Title: "Objects in the cluster, counted through the API", Note: "How: " + ObjectCountMethod + "."}
	if len(r.Objects) == 0 {
		t.Rows = [][]string{{"no count was taken", ""}}
		return t
	}
	t.Head = []string{"resource"}
	for _, c := range r.Objects {
		t.Head = append(t.Head, fmt.Sprintf("%s (%s)", c.Phase, clockH(c.At.Sub(r.StartedAt).Seconds())))
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

func densityMeaning(r *DensityResult) []string {
	m := []string{
		"API call latency is the API server's own measure, from receiving a request to the last byte of the answer, for every request any client made (controllers, scheduler, simulated kubelets, the bench). " +
			"A phase's figures are the difference of the histograms scraped at its start and end, so they cover exactly that phase; p50/p90/p99 are interpolated within the histogram's buckets (0.1 s, 0.2 s, 0.4 s, … 1 s, 1.25 s, …), as Prometheus' histogram_quantile does.",
		"Pod startup is timed per pod by a watch on the run's pods: the upstream SLI starts at creationTimestamp, which the ReplicaSet controller's create sets, and ends when the watch first delivers the pod Running. " +
			"Deployments are written at a bounded pod rate, so startup latency reflects how fast scheduler, API server and nodes keep up with that rate, not a queue the bench built on purpose.",
	}
	m = append(m, r.Notes...)
	return m
}

func densityCharts(r *DensityResult) []Chart {
	sec := func(t time.Time) float64 { return t.Sub(r.StartedAt).Seconds() }
	var running, present, ready []XY
	for _, p := range r.Series.Running {
		running = append(running, XY{sec(p.At), float64(p.Running)})
		present = append(present, XY{sec(p.At), float64(p.Pods)})
	}
	for _, p := range r.Series.Ready {
		ready = append(ready, XY{sec(p.At), float64(p.Ready)})
	}
	var p50, p90, p99 []XY
	for _, p := range r.Series.Startup {
		p50 = append(p50, XY{sec(p.At), p.P50})
		p90 = append(p90, XY{sec(p.At), p.P90})
		p99 = append(p99, XY{sec(p.At), p.P99})
	}
	verbs := map[string][]XY{}
	var rate, objects, db []XY
	for _, p := range r.Series.API {
		for verb, v := range p.VerbP99 {
			verbs[verb] = append(verbs[verb], XY{sec(p.At), v * 1000})
		}
		if p.RequestsPerSecond != nil {
			rate = append(rate, XY{sec(p.At), *p.RequestsPerSecond})
		}
		if p.Objects != nil {
			objects = append(objects, XY{sec(p.At), *p.Objects})
		}
		if p.EtcdDBBytes != nil {
			db = append(db, XY{sec(p.At), *p.EtcdDBBytes / (1 << 20)})
		}
	}
	var counted []XY
	for _, c := range r.Objects {
		counted = append(counted, XY{sec(c.At), float64(c.Total)})
	}
	verbNames := make([]string, 0, len(verbs))
	for v := range verbs {
		verbNames = append(verbNames, v)
	}
	sort.Strings(verbNames)
	var perVerb []Line
	for _, v := range verbNames {
		perVerb = append(perVerb, Line{v, verbs[v]})
	}
	var starts []PhaseStart
	for _, ph := range r.Phases {
		if ph.Name != PhaseNodes {
			starts = append(starts, PhaseStart{ph.Name, sec(ph.From)})
		}
	}
	charts := []Chart{
		PhaseChart("The run's pods", "pods", starts, []Line{{"Running", running}, {"created", present}}),
		PhaseChart("Pod startup latency (SLI) of the pods that turned Running in each interval", "s", starts, []Line{{"p50", p50}, {"p90", p90}, {"p99", p99}}),
		PhaseChart("API call latency p99 per verb, per scrape interval (SLO requests)", "ms", starts, perVerb),
		PhaseChart("API requests served", "requests/s", starts, []Line{{"all API servers", rate}}),
		PhaseChart("Objects in the cluster", "objects", starts, []Line{{"API server count (~1/min)", objects}, {"counted by LIST", counted}}),
		PhaseChart("etcd database size", "MiB", starts, []Line{{"etcd DB", db}}),
	}
	if len(ready) > 0 {
		charts = append(charts, PhaseChart("Ready simulated nodes", "nodes", starts, []Line{{"Ready", ready}}))
	}
	return charts
}

type PhaseStart struct {
	name string
	at   float64 // seconds since the run started
}

// phaseChart is a line chart with a dashed line where each phase began.
func PhaseChart(title, unit string, starts []PhaseStart, ss []Line) Chart {
	c := NewChart(title, unit, 0, ss)
	if c.Empty {
		return c
	}
	// newChart scales x to the largest x of any point.
	xmax := 0.0
	for _, s := range ss {
		for _, p := range s.Points {
			xmax = max(xmax, p.X)
		}
	}
	for _, st := range starts {
		if st.at <= 0 || st.at > xmax {
			continue
		}
		x := r1(c.X0 + st.at/xmax*c.PW)
		c.Marks = append(c.Marks, ChartMark{X: x, TextX: x + 3, TextY: c.Bottom - 4, Label: st.name})
	}
	return c
}

// secOpt formats optional seconds: milliseconds below one second.
func SecOpt(v *float64) string {
	switch {
	case v == nil:
		return "—"
	case *v < 1:
		return fmt.Sprintf("%.0f ms", *v*1000)
	default:
		return fmt.Sprintf("%.2f s", *v)
	}
}
