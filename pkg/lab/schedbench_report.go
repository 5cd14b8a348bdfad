package lab

import (
	"fmt"
	"html/template"
	"io"
	"sort"
)

// WriteSchedBenchReport writes dir/result.json and dir/report.html.
func WriteSchedBenchReport(dir string, r *SchedBenchResult) (htmlPath string, err error) {
	return writeReport(dir, r, func(w io.Writer) error { return RenderSchedBenchHTML(w, r) })
}

// SchedRow is one line of the side-by-side table (report and terminal).
type SchedRow struct{ Name, Kube, Myriad, Ceiling string }

// SchedBenchRows are the headline figures, per scheduler.
func SchedBenchRows(r *SchedBenchResult) []SchedRow {
	num := func(v *float64, format string) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprintf(format, *v)
	}
	sec := func(v *float64) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprintf("%.2f s", *v)
	}
	rss := func(v *int64) string {
		if v == nil {
			return "—"
		}
		return BytesH(float64(*v))
	}
	pct := func(v *float64) string { return num(v, "%.2f%%") }
	hundred := func(v *float64) *float64 {
		if v == nil {
			return nil
		}
		return Some(*v * 100)
	}
	k, m, c := r.Kube, r.Myriad, r.Ceiling
	return []SchedRow{
		{"runs (finished / all)", fmt.Sprintf("%d / %d", finished(k.Runs), len(k.Runs)), fmt.Sprintf("%d / %d", finished(m.Runs), len(m.Runs)), fmt.Sprintf("%d / %d", finished(c.Runs), len(c.Runs))},
		{"pods/s, scheduler start → last bound", num(k.PodsPerSecond, "%.0f"), num(m.PodsPerSecond, "%.0f"), num(c.BindsPerSecond, "%.0f")},
		{"pods/s, first → last bound (warm-up excluded)", num(k.PodsPerSecondAfterFirstBind, "%.0f"), num(m.PodsPerSecondAfterFirstBind, "%.0f"), num(c.BindsPerSecondAfterFirstBind, "%.0f")},
		{"latency p50, scheduler start → bound", sec(k.LatencyP50), sec(m.LatencyP50), "—"},
		{"latency p99, scheduler start → bound", sec(k.LatencyP99), sec(m.LatencyP99), "—"},
		{"CPU seconds per 1,000 pods (scheduler process)", num(k.CPUSecondsPer1000Pods, "%.2f"), num(m.CPUSecondsPer1000Pods, "%.2f"), "—"},
		{"RSS max (scheduler process)", rss(k.RSSMaxBytes), rss(m.RSSMaxBytes), "—"},
		{"placements feasible (lowest run)", pct(hundred(k.FeasibleFraction)), pct(hundred(m.FeasibleFraction)), "—"},
		{"node CPU requested: stddev", pct(hundred(k.UtilizationStddev)), pct(hundred(m.UtilizationStddev)), "—"},
		{"node CPU requested: max − min", pct(hundred(k.UtilizationRange)), pct(hundred(m.UtilizationRange)), "—"},
	}
}

func finished(runs []SchedRun) int {
	n := 0
	for _, r := range runs {
		if r.Error == "" {
			n++
		}
	}
	return n
}

// allRuns are every phase in the order they ran.
func allRuns(r *SchedBenchResult) []SchedRun {
	var runs []SchedRun
	for _, group := range [][]SchedRun{r.Kube.Runs, r.Myriad.Runs, r.Ceiling.Runs} {
		runs = append(runs, group...)
	}
	for i := 1; i < len(runs); i++ {
		for j := i; j > 0 && runs[j].Order < runs[j-1].Order; j-- {
			runs[j], runs[j-1] = runs[j-1], runs[j]
		}
	}
	return runs
}

var schedColors = map[string]string{SchedKube: "#1f77b4", SchedMyriad: "#d62728", SchedCeiling: "#7f7f7f"}

func schedBarCharts(r *SchedBenchResult) []BarChart {
	f0 := func(v *float64) string {
		if v == nil {
			return ""
		}
		return fmt.Sprintf("%.0f", *v)
	}
	f2 := func(v *float64) string {
		if v == nil {
			return ""
		}
		return fmt.Sprintf("%.2f", *v)
	}
	var rate []BarInput
	for _, run := range allRuns(r) {
		rate = append(rate, BarInput{fmt.Sprintf("#%d %s", run.Order, run.Scheduler), run.PodsPerSecond, schedColors[run.Scheduler], f0(run.PodsPerSecond)})
	}
	rate = append(rate,
		BarInput{"kube (mean)", r.Kube.PodsPerSecond, schedColors[SchedKube], f0(r.Kube.PodsPerSecond)},
		BarInput{"myriad (mean)", r.Myriad.PodsPerSecond, schedColors[SchedMyriad], f0(r.Myriad.PodsPerSecond)},
		BarInput{"ceiling (bench binder)", r.Ceiling.BindsPerSecond, schedColors[SchedCeiling], f0(r.Ceiling.BindsPerSecond)})
	steady := []BarInput{
		{"kube (mean)", r.Kube.PodsPerSecondAfterFirstBind, schedColors[SchedKube], f0(r.Kube.PodsPerSecondAfterFirstBind)},
		{"myriad (mean)", r.Myriad.PodsPerSecondAfterFirstBind, schedColors[SchedMyriad], f0(r.Myriad.PodsPerSecondAfterFirstBind)},
		{"ceiling (bench binder)", r.Ceiling.BindsPerSecondAfterFirstBind, schedColors[SchedCeiling], f0(r.Ceiling.BindsPerSecondAfterFirstBind)},
	}
	cpu := []BarInput{
		{"kube", r.Kube.CPUSecondsPer1000Pods, schedColors[SchedKube], f2(r.Kube.CPUSecondsPer1000Pods)},
		{"myriad", r.Myriad.CPUSecondsPer1000Pods, schedColors[SchedMyriad], f2(r.Myriad.CPUSecondsPer1000Pods)},
	}
	lat := []BarInput{
		{"kube p50", r.Kube.LatencyP50, schedColors[SchedKube], f2(r.Kube.LatencyP50)},
		{"kube p99", r.Kube.LatencyP99, schedColors[SchedKube], f2(r.Kube.LatencyP99)},
		{"myriad p50", r.Myriad.LatencyP50, schedColors[SchedMyriad], f2(r.Myriad.LatencyP50)},
		{"myriad p99", r.Myriad.LatencyP99, schedColors[SchedMyriad], f2(r.Myriad.LatencyP99)},
	}
	return []BarChart{
		NewBarChart("Pods bound per second, scheduler start → last bound", "pods/s", rate),
		NewBarChart("Pods bound per second, first → last bound (warm-up excluded)", "pods/s", steady),
		NewBarChart("CPU of the scheduler process per 1,000 pods", "CPU seconds", cpu),
		NewBarChart("Scheduling latency, scheduler start → bound", "seconds", lat),
	}
}

func schedLineCharts(r *SchedBenchResult) []Chart {
	var ss []Line
	for _, run := range allRuns(r) {
		var pts []XY
		for _, p := range run.Timeline {
			pts = append(pts, XY{p.T, float64(p.Bound)})
		}
		ss = append(ss, Line{fmt.Sprintf("#%d %s", run.Order, run.Scheduler), pts})
	}
	return []Chart{NewChart("Bound pods since scheduler start, per run", "pods", 0, ss)}
}

// RenderSchedBenchHTML draws the side-by-side report: no script, nothing
// fetched from the network.
func RenderSchedBenchHTML(w io.Writer, r *SchedBenchResult) error {
	v := struct {
		R           *SchedBenchResult
		Title       string
		MachineLine string
		Rows        []SchedRow
		Ratios      [][2]string
		Bars        []BarChart
		Lines       []Chart
		Runs        []SchedRun
		Params      [][2]string
	}{R: r, Rows: SchedBenchRows(r), Bars: schedBarCharts(r), Lines: schedLineCharts(r), Runs: allRuns(r), Params: SortedPairs(r.Parameters)}
	v.Title = fmt.Sprintf("Myriad scheduler vs kube-scheduler: %s nodes, pods %s", r.Parameters["nodes"], r.Parameters["pods"])
	m := r.Machine
	v.MachineLine = fmt.Sprintf("%d cores, %s memory, %s, Linux %s, %s, Kubernetes %s",
		m.Cores, BytesH(float64(m.MemoryBytes)), OrDash(m.CPUModel), OrDash(m.Kernel), m.GoVersion, m.KubernetesVersion)
	x := func(v *float64) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprintf("%.2f×", *v)
	}
	v.Ratios = [][2]string{
		{"myriad / kube, pods/s (start → last bound)", x(r.Ratios.MyriadOverKubePodsPerSecond)},
		{"myriad / kube, pods/s (first → last bound)", x(r.Ratios.MyriadOverKubeAfterFirstBind)},
		{"myriad / ceiling, pods/s (start → last bound)", x(r.Ratios.MyriadOverCeiling)},
		{"myriad / ceiling, pods/s (first → last bound)", x(r.Ratios.MyriadOverCeilingAfterFirstBnd)},
		{"kube / ceiling, pods/s (start → last bound)", x(r.Ratios.KubeOverCeiling)},
		{"kube / myriad, CPU per pod", x(r.Ratios.KubeOverMyriadCPUPerPod)},
	}
	return schedBenchTemplate.Execute(w, v)
}

var schedBenchTemplate = template.Must(template.Must(template.New("schedbench").Funcs(template.FuncMap{
	"f1":  func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"p0":  func(v *float64) string { return FmtOpt(v, "%.0f") },
	"p2":  func(v *float64) string { return FmtOpt(v, "%.2f") },
	"pct": func(v float64) string { return fmt.Sprintf("%.2f%%", v*100) },
	"rss": func(v *int64) string {
		if v == nil {
			return "—"
		}
		return BytesH(float64(*v))
	},
	"cpu": func(m map[string]float64, name string) string {
		v, ok := m[name]
		if !ok {
			return "—"
		}
		return fmt.Sprintf("%.1f", v)
	},
}).Parse(reportParts)).Parse(schedBenchHTML))

// ComponentNames are the processes with CPU figures in any run, sorted.
func (r *SchedBenchResult) ComponentNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, run := range allRuns(r) {
		for n := range run.ComponentCPUSeconds {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

const schedBenchHTML = `{{define "bars"}}{{if .Empty}}<p>No data.</p>{{else}}{{$c := .}}<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" xmlns="http://www.w3.org/2000/svg">
{{range .Bars}}<text x="{{$c.LabelX}}" y="{{.TextY}}" text-anchor="end">{{.Label}}</text><rect x="{{.X}}" y="{{.Y}}" width="{{.Width}}" height="18" fill="{{.Color}}"/><text x="{{.ValueX}}" y="{{.TextY}}">{{.Value}}</text>
{{end}}</svg>{{end}}{{end}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
{{template "style"}}</head><body>
<h1>{{.Title}}</h1>
<div class="machine">{{.MachineLine}} · started {{.R.StartedAt.Format "2006-01-02 15:04:05 MST"}} · cluster ready in {{f1 .R.StartupSeconds}} s</div>
{{if .R.Verdict.Pass}}<p class="pass"><b>Every phase bound all its pods.</b> Order of phases: {{range .Runs}}#{{.Order}} {{.Scheduler}} {{end}}(the reverse order cancels drift).</p>
{{else}}<div class="fail"><b>INCOMPLETE</b><ul>{{range .R.Verdict.Reasons}}<li>{{.}}</li>{{end}}</ul></div>{{end}}

<h2>Side by side (mean over runs)</h2>
<table><tr><th></th><th>kube-scheduler</th><th>myriad scheduler</th><th>ceiling</th></tr>
{{range .Rows}}<tr><th>{{.Name}}</th><td class="n">{{.Kube}}</td><td class="n">{{.Myriad}}</td><td class="n">{{.Ceiling}}</td></tr>
{{end}}</table>
<p class="machine">Every pod of a phase exists before its scheduler starts, so latency is from scheduler start (process start, informer sync included) to the pod being seen bound by the bench's watch.
The ceiling is the bench itself binding pods to precomputed nodes round-robin with {{.R.Ceiling.Binders}} parallel binders: the bindings per second this API server accepts at all{{if .R.Ceiling.Events}}, while as many writers record the Scheduled event per pod that both schedulers record (the same writes, without the decisions){{else}} (Bindings only: the schedulers also record a Scheduled event per pod){{end}}.
Means over runs; RSS is the largest and feasibility the lowest of the runs.</p>

<h2>Ratios</h2>
<table>{{range .Ratios}}<tr><th>{{index . 0}}</th><td class="n">{{index . 1}}</td></tr>{{end}}</table>

{{range .Bars}}<h2>{{.Title}} <small>({{.Unit}})</small></h2>
{{template "bars" .}}
{{end}}
{{range .Lines}}<h2>{{.Title}} <small>({{.Unit}})</small></h2>
{{template "chart" .}}
{{end}}

<h2>Runs</h2>
<table><tr><th>#</th><th>scheduler</th><th>bound</th><th>pods/s</th><th>pods/s after 1st bind</th><th>first bind</th><th>last bind</th><th>p50</th><th>p90</th><th>p99</th><th>CPU s</th><th>CPU s / 1000 pods</th><th>RSS max</th><th>feasible</th><th>util. stddev</th><th>util. max−min</th><th>error</th></tr>
{{range .Runs}}<tr><td>{{.Order}}</td><td>{{.Scheduler}}</td><td class="n">{{.Bound}} / {{.Pods}}</td><td class="n">{{p0 .PodsPerSecond}}</td><td class="n">{{p0 .PodsPerSecondAfterFirstBind}}</td><td class="n">{{p2 .FirstBindSeconds}}</td><td class="n">{{p2 .LastBindSeconds}}</td><td class="n">{{p2 .LatencyP50}}</td><td class="n">{{p2 .LatencyP90}}</td><td class="n">{{p2 .LatencyP99}}</td><td class="n">{{p2 .CPUSeconds}}</td><td class="n">{{p2 .CPUSecondsPer1000Pods}}</td><td class="n">{{rss .RSSMaxBytes}}</td><td class="n">{{with .Quality}}{{pct .FeasibleFraction}}{{else}}—{{end}}</td><td class="n">{{with .Quality}}{{pct .UtilizationStddev}}{{else}}—{{end}}</td><td class="n">{{with .Quality}}{{pct .UtilizationRange}}{{else}}—{{end}}</td><td>{{.Error}}</td></tr>
{{end}}</table>
<p class="machine">Times in seconds from scheduler start. CPU is the scheduler process's utime + stime from its start to the last bind.</p>

<h2>CPU seconds of other processes per run (scheduler start → last bind)</h2>
<table><tr><th>#</th><th>scheduler</th>{{range .R.ComponentNames}}<th>{{.}}</th>{{end}}</tr>
{{range $r := .Runs}}<tr><td>{{$r.Order}}</td><td>{{$r.Scheduler}}</td>{{range $.R.ComponentNames}}<td class="n">{{cpu $r.ComponentCPUSeconds .}}</td>{{end}}</tr>
{{end}}</table>

<h2>Parameters</h2>
<table>{{range .Params}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<p class="machine">Raw figures and bound-pod timelines: result.json.</p>
</body></html>
`
