package lab

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

// The scenarios that reproduce the seeds' table row by row (watch-restart,
// long-read, etcd-size, failover) share what this file holds: the head of
// every result, client-side latency summaries, per-process figures, and one
// report page that each scenario fills with its own tables and charts.

// RunInfo opens every scenario's result.json: what ran, where, when, and
// whether it finished.
type RunInfo struct {
	Scenario   string            `json:"scenario"`
	Machine    Machine           `json:"machine"`
	Parameters map[string]string `json:"parameters"`
	StartedAt  time.Time         `json:"startedAt"`
	FinishedAt time.Time         `json:"finishedAt"`
	// StoppedEarly says where a run that did not reach its end stopped and
	// why; empty when it finished.
	StoppedEarly string  `json:"stoppedEarly,omitempty"`
	Verdict      Verdict `json:"verdict"`
	// LoadAtStart and LoadAtEnd are /proc/loadavg's 1, 5 and 15 minute
	// load averages: on a shared machine they say how busy it was.
	LoadAtStart string `json:"loadAverageAtStart,omitempty"`
	LoadAtEnd   string `json:"loadAverageAtEnd,omitempty"`
	// Processes are the cluster's components and the bench over the run.
	Processes     []ProcSummary           `json:"processes,omitempty"`
	ProcessSeries map[string][]ProcSample `json:"processSeries,omitempty"`
}

// NewRunInfo starts a result head for scenario on this machine.
func NewRunInfo(scenario string, m Machine, params map[string]string, startedAt time.Time) RunInfo {
	return RunInfo{Scenario: scenario, Machine: m, Parameters: params, StartedAt: startedAt, LoadAtStart: loadAverage()}
}

// Finish records the end of the run and the process samples, summarized
// over the whole run.
func (r *RunInfo) Finish(at time.Time, series map[string][]ProcSample) {
	r.FinishedAt, r.LoadAtEnd = at, loadAverage()
	r.SetProcesses(series, r.StartedAt, at)
}

// SetProcesses records the process samples and their summary over
// [from, to].
func (r *RunInfo) SetProcesses(series map[string][]ProcSample, from, to time.Time) {
	r.ProcessSeries = series
	r.Processes = summarizeProcs(series, from, to)
}

// Took is the run's wall time, rounded for people.
func (r *RunInfo) Took() string {
	if r.FinishedAt.IsZero() {
		return ""
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Second).String()
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// judge fills the verdict: a run that stopped early fails with that
// reason first, then every other reason given.
func (r *RunInfo) judge(reasons, warnings []string) {
	if r.StoppedEarly != "" {
		reasons = append([]string{"stopped early: " + r.StoppedEarly}, reasons...)
	}
	r.Verdict = Verdict{Pass: len(reasons) == 0, Reasons: reasons, Warnings: warnings}
}

func summarizeProcs(series map[string][]ProcSample, from, to time.Time) []ProcSummary {
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]ProcSummary, 0, len(names))
	for _, n := range names {
		out = append(out, SummarizeProc(n, series[n], from, to))
	}
	return out
}

// Latencies summarizes client-side timings in seconds; nil percentiles
// mean nothing was timed.
type Latencies struct {
	Count int      `json:"count"`
	P50   *float64 `json:"p50Seconds,omitempty"`
	P90   *float64 `json:"p90Seconds,omitempty"`
	P99   *float64 `json:"p99Seconds,omitempty"`
	Max   *float64 `json:"maxSeconds,omitempty"`
	Mean  *float64 `json:"meanSeconds,omitempty"`
}

// SummarizeLatencies computes nearest-rank percentiles of samples (which it
// sorts in place).
func SummarizeLatencies(samples []float64) Latencies {
	l := Latencies{Count: len(samples)}
	if len(samples) == 0 {
		return l
	}
	sort.Float64s(samples)
	sum := 0.0
	for _, v := range samples {
		sum += v
	}
	l.P50, l.P90, l.P99 = some(quantileSorted(samples, 0.5)), some(quantileSorted(samples, 0.9)), some(quantileSorted(samples, 0.99))
	l.Max, l.Mean = some(samples[len(samples)-1]), some(sum/float64(len(samples)))
	return l
}

// TimedOp is one timed operation: when it started, how long it took, and
// whether it failed.
type TimedOp struct {
	At      time.Time
	Seconds float64
	Err     bool
}

// PercentileSeries buckets ops by width since t0 and returns the q-quantile
// of each bucket's successful ops, in milliseconds, for a chart.
func PercentileSeries(ops []TimedOp, t0 time.Time, width time.Duration, q float64) []xy {
	buckets := map[int][]float64{}
	for _, op := range ops {
		if op.Err {
			continue
		}
		b := int(op.At.Sub(t0) / width)
		buckets[b] = append(buckets[b], op.Seconds)
	}
	keys := make([]int, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]xy, 0, len(keys))
	for _, k := range keys {
		v := buckets[k]
		sort.Float64s(v)
		out = append(out, xy{(time.Duration(k)*width + width/2).Seconds(), quantileSorted(v, q) * 1000})
	}
	return out
}

// processCharts are RSS and CPU over time of every sampled process.
func processCharts(t0 time.Time, series map[string][]ProcSample) []chart {
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	var rss, cpu []seriesData
	for _, n := range names {
		ss := series[n]
		var rs, cs []xy
		for i, s := range ss {
			t := s.At.Sub(t0).Seconds()
			rs = append(rs, xy{t, float64(s.RSSBytes) / (1 << 20)})
			if i > 0 && ss[i-1].PID == s.PID {
				if dt := s.At.Sub(ss[i-1].At).Seconds(); dt > 0 {
					cs = append(cs, xy{t, (s.CPUSeconds - ss[i-1].CPUSeconds) / dt})
				}
			}
		}
		rss = append(rss, seriesData{n, rs})
		cpu = append(cpu, seriesData{n, cs})
	}
	return []chart{
		newChart("Resident memory (RSS)", "MiB", 0, rss),
		newChart("CPU used", "cores", 0, cpu),
	}
}

// relabelX replaces a chart's time labels on the x axis (newChart writes
// m:ss) with label(x), for charts whose x is not time.
func relabelX(c *chart, ss []seriesData, label func(float64) string) {
	xmax := 0.0
	for _, s := range ss {
		for _, p := range s.pts {
			xmax = max(xmax, p.x)
		}
	}
	if xmax <= 0 {
		return
	}
	// newChart puts a tick every niceStep(xmax/6) from 0.
	step := niceStep(xmax / 6)
	for i := range c.XTicks {
		c.XTicks[i].Label = label(float64(i) * step)
	}
}

// machineLine is the one-line description of where a run was measured.
func machineLine(m Machine) string {
	return fmt.Sprintf("%d cores, %s memory, %s, Linux %s, %s, Kubernetes %s",
		m.Cores, bytesH(float64(m.MemoryBytes)), orDash(m.CPUModel), orDash(m.Kernel), m.GoVersion, m.KubernetesVersion)
}

// scenarioTable is a titled table of a scenario report.
type scenarioTable struct {
	Title string
	Head  []string
	Rows  [][]string
	Note  string
}

// scenarioPage is one scenario's report: an introduction, the verdict, the
// scenario's tables and charts, what the numbers mean, resource use and
// parameters.
type scenarioPage struct {
	Title   string
	Machine string
	Info    *RunInfo
	Intro   []string
	Tables  []scenarioTable
	Bars    []barChart
	Charts  []chart
	Meaning []string
	Params  [][2]string
}

func newScenarioPage(title string, info *RunInfo, intro ...string) *scenarioPage {
	return &scenarioPage{Title: title, Machine: machineLine(info.Machine), Info: info, Intro: intro, Params: sortedPairs(info.Parameters)}
}

// writeScenarioReport writes result.json and the rendered page to dir.
func writeScenarioReport(dir string, result any, page *scenarioPage) (string, error) {
	page.Charts = append(page.Charts, processCharts(page.Info.StartedAt, page.Info.ProcessSeries)...)
	return writeReport(dir, result, func(w io.Writer) error { return scenarioTemplate.Execute(w, page) })
}

// fmtOpt formats an optional figure, "—" when absent.
func fmtOpt(v *float64, format string) string {
	if v == nil || math.IsNaN(*v) {
		return "—"
	}
	return fmt.Sprintf(format, *v)
}

// scaledPtr is v*by, nil when v is.
func scaledPtr(v *float64, by float64) *float64 {
	if v == nil {
		return nil
	}
	return some(*v * by)
}

// msOpt formats optional seconds as milliseconds.
func msOpt(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f ms", *v*1000)
}

var scenarioTemplate = template.Must(reportTemplates("scenario", scenarioHTML).Parse(barsTemplate))

// barsTemplate draws a barChart.
const barsTemplate = `{{define "hbars"}}{{if .Empty}}<p>No data.</p>{{else}}{{$c := .}}<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" xmlns="http://www.w3.org/2000/svg">
{{range .Bars}}<text x="{{$c.LabelX}}" y="{{.TextY}}" text-anchor="end">{{.Label}}</text><rect x="{{.X}}" y="{{.Y}}" width="{{.Width}}" height="18" fill="{{.Color}}"/><text x="{{.ValueX}}" y="{{.TextY}}">{{.Value}}</text>
{{end}}</svg>{{end}}{{end}}`

const scenarioHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
{{template "style"}}</head><body>
<h1>{{.Title}}</h1>
<div class="machine">{{.Machine}} · started {{.Info.StartedAt.Format "2006-01-02 15:04:05 MST"}}</div>
{{range .Intro}}<p>{{.}}</p>
{{end}}{{with .Info.LoadAtStart}}<p class="machine">Load average (1, 5, 15 min) at the start: {{.}}{{with $.Info.LoadAtEnd}}; at the end: {{.}}{{end}} on {{$.Info.Machine.Cores}} cores.</p>
{{end}}{{if .Info.Verdict.Pass}}<p class="pass"><b>COMPLETE</b>: every step of the scenario ran{{with .Info.Took}}, in {{.}}{{end}}.</p>
{{else}}<div class="fail"><b>INCOMPLETE OR FAILED</b><ul>{{range .Info.Verdict.Reasons}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{with .Info.Verdict.Warnings}}<ul class="warn">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}

{{range .Tables}}<h2>{{.Title}}</h2>
<table>{{with .Head}}<tr>{{range .}}<th>{{.}}</th>{{end}}</tr>{{end}}
{{range .Rows}}<tr>{{range $i, $c := .}}{{if eq $i 0}}<th>{{$c}}</th>{{else}}<td class="n">{{$c}}</td>{{end}}{{end}}</tr>
{{end}}</table>
{{with .Note}}<p class="machine">{{.}}</p>{{end}}
{{end}}
{{with .Meaning}}<h2>What the numbers mean</h2>
{{range .}}<p>{{.}}</p>
{{end}}{{end}}
{{range .Bars}}<h2>{{.Title}} <small>({{.Unit}})</small></h2>
{{template "hbars" .}}
{{end}}
{{range .Charts}}<h2>{{.Title}} <small>({{.Unit}})</small></h2>
{{template "chart" .}}
{{end}}
{{with .Info.Processes}}<h2>Processes (whole run)</h2>
<table><tr><th>process</th><th>RSS max</th><th>RSS avg</th><th>CPU s</th><th>cores</th><th>disk writes / min</th><th>restarts</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td class="n">{{bytesH .RSSMaxBytes}}</td><td class="n">{{bytesH .RSSAvgBytes}}</td><td class="n">{{f1 .CPUSeconds}}</td><td class="n">{{f2 .Cores}}</td><td class="n">{{bytesP .WriteBytesPerMinute}}</td><td class="n">{{.Restarts}}</td></tr>
{{end}}</table>{{end}}

<h2>Parameters</h2>
<table>{{range .Params}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<p class="machine">Raw figures and time series: result.json. Charts' x axis: time since the run started unless the axis says otherwise.</p>
</body></html>
`
