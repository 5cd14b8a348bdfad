package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Result is a run's outcome, written to result.json. Durations and
// latencies are in seconds, sizes in bytes; a nil figure was not measured.
type Result struct {
	Scenario   string            `json:"scenario"`
	Machine    Machine           `json:"machine"`
	Parameters map[string]string `json:"parameters"`
	StartedAt  time.Time         `json:"startedAt"`
	// StartupSeconds is how long the cluster took to reach its size.
	StartupSeconds  float64       `json:"startupSeconds"`
	MeasuredFrom    *time.Time    `json:"measuredFrom,omitempty"`
	MeasuredTo      *time.Time    `json:"measuredTo,omitempty"`
	MeasuredSeconds float64       `json:"measuredSeconds"`
	Processes       []ProcSummary `json:"processes"`
	Lease           LeaseSummary  `json:"lease"`
	Etcd            EtcdSummary   `json:"etcd"`
	// Heartbeat is every heartbeat write of the simulator, Lease and
	// NodeStatus; nil when its metrics were not scraped.
	Heartbeat *HeartbeatWrites `json:"heartbeat,omitempty"`
	// APIRequestsPerSecond is every request the API server(s) served.
	APIRequestsPerSecond *float64         `json:"apiserverRequestsPerSecond,omitempty"`
	Readiness            ReadinessSummary `json:"readiness"`
	Verdict              Verdict          `json:"verdict"`
	ScrapeErrors         []string         `json:"scrapeErrors,omitempty"`
	Series               Series           `json:"series"`
}

// LeaseSummary is Lease renewal over the measured window: as the simulator
// saw it (client side, includes queueing in its client) and as the API
// server saw it (PUT leases, server side).
type LeaseSummary struct {
	Renewals          float64  `json:"renewals"`
	RenewalsPerSecond float64  `json:"renewalsPerSecond"`
	Errors            float64  `json:"errors"`
	SimulatorP50      *float64 `json:"simulatorP50Seconds,omitempty"`
	SimulatorP99      *float64 `json:"simulatorP99Seconds,omitempty"`
	HeartbeatLagP99   *float64 `json:"heartbeatLagP99Seconds,omitempty"`
	APIServerRequests float64  `json:"apiserverRequests"`
	APIServerP50      *float64 `json:"apiserverP50Seconds,omitempty"`
	APIServerP99      *float64 `json:"apiserverP99Seconds,omitempty"`
}

// HeartbeatWrites are the simulator's heartbeat writes over the measured
// window. Bytes are request bodies as sent: a Lease in protobuf, a
// NodeStatus strategic merge patch in JSON.
type HeartbeatWrites struct {
	LeaseWrites     float64 `json:"leaseWrites"`
	LeaseBytes      float64 `json:"leaseBytes"`
	StatusWrites    float64 `json:"statusWrites"`
	StatusBytes     float64 `json:"statusBytes"`
	WritesPerSecond float64 `json:"writesPerSecond"`
	// BytesPerWrite is the mean over every heartbeat write of both kinds.
	BytesPerWrite *float64 `json:"bytesPerWrite,omitempty"`
	P50           *float64 `json:"p50Seconds,omitempty"`
	P99           *float64 `json:"p99Seconds,omitempty"`
}

// EtcdSummary is etcd's write load over the measured window.
type EtcdSummary struct {
	// WALBytesPerMinute is from etcd_disk_wal_write_bytes_total.
	WALBytesPerMinute *float64 `json:"walBytesPerMinute,omitempty"`
	// ProcWriteBytesPerMinute is /proc/<etcd>/io write_bytes: WAL, bbolt
	// and snapshots as the kernel sent them to storage.
	ProcWriteBytesPerMinute *float64 `json:"procWriteBytesPerMinute,omitempty"`
	DBSizeStartBytes        *float64 `json:"dbSizeStartBytes,omitempty"`
	DBSizeEndBytes          *float64 `json:"dbSizeEndBytes,omitempty"`
	WALFsyncP99             *float64 `json:"walFsyncP99Seconds,omitempty"`
}

// Verdict is pass or fail, with every reason for a failure.
type Verdict struct {
	Pass     bool     `json:"pass"`
	Reasons  []string `json:"reasons,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Series are the time series behind the charts.
type Series struct {
	Ready     []ReadyPoint            `json:"ready"`
	Processes map[string][]ProcSample `json:"processes"`
	Intervals []IntervalPoint         `json:"intervals"`
}

// WriteReport writes dir/result.json and dir/report.html.
func WriteReport(dir string, r *Result) (htmlPath string, err error) {
	return writeReport(dir, r, func(w io.Writer) error { return RenderHTML(w, r) })
}

// writeReport is what every scenario's report is: the result as JSON and
// the rendered page, side by side in dir.
func writeReport(dir string, result any, render func(io.Writer) error) (htmlPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report directory: %w", err)
	}
	js, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode result: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "result.json"), append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return "", err
	}
	htmlPath = filepath.Join(dir, "report.html")
	return htmlPath, os.WriteFile(htmlPath, buf.Bytes(), 0o644)
}

// RenderHTML draws the report: summary tables and inline SVG line charts,
// with no script and nothing fetched from the network.
func RenderHTML(w io.Writer, r *Result) error {
	v := reportView{R: r, Title: fmt.Sprintf("Myriad %s: %s nodes", r.Scenario, r.Parameters["nodes"])}
	v.Params = sortedPairs(r.Parameters)
	m := r.Machine
	v.MachineLine = fmt.Sprintf("%d cores, %s memory, %s, Linux %s, %s, Kubernetes %s",
		m.Cores, bytesH(float64(m.MemoryBytes)), orDash(m.CPUModel), orDash(m.Kernel), m.GoVersion, m.KubernetesVersion)
	v.Summary = summaryRows(r)
	v.Charts = charts(r)
	return reportTemplate.Execute(w, v)
}

type reportView struct {
	R           *Result
	Title       string
	MachineLine string
	Params      [][2]string
	Summary     [][2]string
	Charts      []chart
}

func summaryRows(r *Result) [][2]string {
	rs := r.Readiness
	rows := [][2]string{
		{"False NotReady transitions", fmt.Sprintf("%d (on %d nodes; %d deleted)", rs.FalseNotReady, rs.Nodes, rs.Deleted)},
		{"Intentional NotReady transitions", fmt.Sprint(rs.Intentional)},
		{"Ready nodes, min / max while measured", fmt.Sprintf("%d / %d", rs.ReadyMin, rs.ReadyMax)},
		{"Start-up to all nodes Ready", secondsH(r.StartupSeconds)},
		{"Measured for", secondsH(r.MeasuredSeconds)},
		{"Lease renewals", fmt.Sprintf("%.0f (%.1f/s), %.0f errors", r.Lease.Renewals, r.Lease.RenewalsPerSecond, r.Lease.Errors)},
		{"Lease renew p50 / p99 (simulator)", latH(r.Lease.SimulatorP50) + " / " + latH(r.Lease.SimulatorP99)},
		{"Heartbeat lag p99 (simulator)", latH(r.Lease.HeartbeatLagP99)},
		{"Lease PUT p50 / p99 (API server)", latH(r.Lease.APIServerP50) + " / " + latH(r.Lease.APIServerP99)},
		{"etcd WAL bytes written / min", bytesP(r.Etcd.WALBytesPerMinute)},
		{"etcd process bytes written / min (/proc io)", bytesP(r.Etcd.ProcWriteBytesPerMinute)},
		{"etcd DB size start → end", bytesP(r.Etcd.DBSizeStartBytes) + " → " + bytesP(r.Etcd.DBSizeEndBytes)},
		{"etcd WAL fsync p99", latH(r.Etcd.WALFsyncP99)},
	}
	return rows
}

// chart is one SVG line chart, laid out in Go so the template only places
// numbers.
type chart struct {
	Title, Unit      string
	W, H             int
	X0, Y0           float64 // plot area, top-left
	PW, PH           float64 // plot area size
	Right, Bottom    float64
	YLabelX, XLabelY float64
	Lines            []chartLine
	XTicks, YTicks   []tick
	MarkerX          float64     // measurement start; 0 = none
	Marks            []chartMark // further labelled vertical lines (phase starts)
	MarkerTextX      float64
	MarkerTextY      float64
	Empty            bool
}

// chartMark is a labelled vertical line across the plot.
type chartMark struct {
	X, TextX, TextY float64
	Label           string
}

type chartLine struct {
	Name, Color, Points      string
	LegendX, LegendY         float64
	LegendTextX, LegendTextY float64
}

type tick struct {
	Pos, LabelPos float64
	Label         string
}

type xy struct{ x, y float64 }

type seriesData struct {
	name string
	pts  []xy
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"}

func charts(r *Result) []chart {
	t0 := r.StartedAt
	sec := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	var marker float64
	if r.MeasuredFrom != nil {
		marker = sec(*r.MeasuredFrom)
	}
	var ready []xy
	for _, p := range r.Series.Ready {
		ready = append(ready, xy{sec(p.At), float64(p.Ready)})
	}
	names := make([]string, 0, len(r.Series.Processes))
	for n := range r.Series.Processes {
		names = append(names, n)
	}
	sort.Strings(names)
	var rss, cpu []seriesData
	for _, n := range names {
		ss := r.Series.Processes[n]
		var rs, cs []xy
		for i, s := range ss {
			rs = append(rs, xy{sec(s.At), float64(s.RSSBytes) / (1 << 20)})
			if i > 0 && ss[i-1].PID == s.PID {
				if dt := s.At.Sub(ss[i-1].At).Seconds(); dt > 0 {
					cs = append(cs, xy{sec(s.At), (s.CPUSeconds - ss[i-1].CPUSeconds) / dt})
				}
			}
		}
		rss = append(rss, seriesData{n, rs})
		cpu = append(cpu, seriesData{n, cs})
	}
	var simP99, apiP99, wal []xy
	for _, p := range r.Series.Intervals {
		if p.SimLeaseP99 != nil {
			simP99 = append(simP99, xy{sec(p.At), *p.SimLeaseP99 * 1000})
		}
		if p.APILeaseP99 != nil {
			apiP99 = append(apiP99, xy{sec(p.At), *p.APILeaseP99 * 1000})
		}
		if p.WALBytesPerMinute != nil {
			wal = append(wal, xy{sec(p.At), *p.WALBytesPerMinute / (1 << 20)})
		}
	}
	return []chart{
		newChart("Ready simulated nodes", "nodes", marker, []seriesData{{"Ready", ready}}),
		newChart("Resident memory (RSS)", "MiB", marker, rss),
		newChart("CPU used", "cores", marker, cpu),
		newChart("Lease renewal p99 per scrape interval", "ms", marker, []seriesData{{"simulator (client)", simP99}, {"API server PUT leases", apiP99}}),
		newChart("etcd WAL writes", "MiB/min", marker, []seriesData{{"etcd WAL", wal}}),
	}
}

// maxChartPoints keeps a long run's report small: more points than pixels
// add bytes, not information.
const maxChartPoints = 1000

func newChart(title, unit string, marker float64, ss []seriesData) chart {
	c := chart{Title: title, Unit: unit, W: 960, H: 250, X0: 60, Y0: 10, PW: 700, PH: 200}
	c.Right, c.Bottom = c.X0+c.PW, c.Y0+c.PH
	c.YLabelX, c.XLabelY = c.X0-6, c.Bottom+16
	xmax, ymax := 0.0, 0.0
	have := false
	for _, s := range ss {
		for _, p := range s.pts {
			xmax, ymax, have = max(xmax, p.x), max(ymax, p.y), true
		}
	}
	xmax = max(xmax, marker)
	if !have {
		c.Empty = true
		return c
	}
	if xmax <= 0 {
		xmax = 1
	}
	ystep := niceStep(ymax / 4)
	ytop := math.Ceil(ymax*1.05/ystep) * ystep
	if ytop <= 0 {
		ytop, ystep = 1, 0.25
	}
	px := func(x float64) float64 { return c.X0 + x/xmax*c.PW }
	py := func(y float64) float64 { return c.Y0 + c.PH - y/ytop*c.PH }
	for y := 0.0; y <= ytop+ystep/2; y += ystep {
		c.YTicks = append(c.YTicks, tick{Pos: r1(py(y)), LabelPos: r1(py(y) + 4), Label: numH(y)})
	}
	xstep := niceStep(xmax / 6)
	for x := 0.0; x <= xmax+xstep/100; x += xstep {
		c.XTicks = append(c.XTicks, tick{Pos: r1(px(x)), Label: clockH(x)})
	}
	if marker > 0 {
		c.MarkerX, c.MarkerTextX, c.MarkerTextY = r1(px(marker)), r1(px(marker)+4), c.Y0+12
	}
	for i, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		step := (len(s.pts) + maxChartPoints - 1) / maxChartPoints
		var b strings.Builder
		for j := 0; j < len(s.pts); j += step {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(s.pts[j].x), py(s.pts[j].y))
		}
		ly := c.Y0 + 4 + 18*float64(len(c.Lines))
		c.Lines = append(c.Lines, chartLine{Name: s.name, Color: palette[i%len(palette)], Points: strings.TrimSpace(b.String()),
			LegendX: c.Right + 14, LegendY: ly, LegendTextX: c.Right + 28, LegendTextY: ly + 9})
	}
	return c
}

func r1(v float64) float64 { return math.Round(v*10) / 10 }

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func numH(v float64) string {
	switch {
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

func clockH(sec float64) string {
	d := time.Duration(sec) * time.Second
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func secondsH(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func latH(s *float64) string {
	if s == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f ms", *s*1000)
}

func bytesP(b *float64) string {
	if b == nil {
		return "—"
	}
	return bytesH(*b)
}

func bytesH(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func sortedPairs(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for k, v := range m {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

var reportTemplate = reportTemplates("report", reportHTML)

// reportParts are shared by every scenario's report: the page style and
// one SVG chart (a chart value).
const reportParts = `{{define "style"}}<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:24px 0 8px}
.machine{color:#555} table{border-collapse:collapse;margin:4px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left} th{background:#f4f4f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#e6f4ea;border:1px solid #34a853;padding:8px 12px}
.fail{background:#fce8e6;border:1px solid #d93025;padding:8px 12px}
.warn{color:#8a5a00} svg{display:block;margin:4px 0 12px} svg text{font:11px system-ui,sans-serif}
</style>{{end}}
{{define "chart"}}{{if .Empty}}<p>No data.</p>{{else}}{{$c := .}}<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" xmlns="http://www.w3.org/2000/svg">
{{range .YTicks}}<line x1="{{$c.X0}}" y1="{{.Pos}}" x2="{{$c.Right}}" y2="{{.Pos}}" stroke="#eee"/><text x="{{$c.YLabelX}}" y="{{.LabelPos}}" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<text x="{{.Pos}}" y="{{$c.XLabelY}}" text-anchor="middle">{{.Label}}</text>
{{end}}<rect x="{{.X0}}" y="{{.Y0}}" width="{{.PW}}" height="{{.PH}}" fill="none" stroke="#999"/>
{{range .Marks}}<line x1="{{.X}}" x2="{{.X}}" y1="{{$c.Y0}}" y2="{{$c.Bottom}}" stroke="#aaa" stroke-dasharray="2 3"/><text x="{{.TextX}}" y="{{.TextY}}" fill="#555">{{.Label}}</text>
{{end}}{{if .MarkerX}}<line x1="{{.MarkerX}}" x2="{{.MarkerX}}" y1="{{.Y0}}" y2="{{.Bottom}}" stroke="#555" stroke-dasharray="4 3"/><text x="{{.MarkerTextX}}" y="{{.MarkerTextY}}">measuring →</text>
{{end}}{{range .Lines}}<polyline fill="none" stroke="{{.Color}}" stroke-width="1.5" points="{{.Points}}"/>
<rect x="{{.LegendX}}" y="{{.LegendY}}" width="10" height="10" fill="{{.Color}}"/><text x="{{.LegendTextX}}" y="{{.LegendTextY}}">{{.Name}}</text>
{{end}}</svg>{{end}}{{end}}`

// reportTemplates parses the shared parts plus page.
func reportTemplates(name, page string) *template.Template {
	t := template.Must(template.New(name).Funcs(template.FuncMap{
		"bytesH": func(b int64) string { return bytesH(float64(b)) },
		"bytesP": bytesP,
		"f2":     func(v float64) string { return fmt.Sprintf("%.2f", v) },
		"f1":     func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"when":   func(t time.Time) string { return t.Format(time.TimeOnly) },
	}).Parse(reportParts))
	return template.Must(t.Parse(page))
}

const reportHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
{{template "style"}}</head><body>
<h1>{{.Title}}</h1>
<div class="machine">{{.MachineLine}} · started {{.R.StartedAt.Format "2006-01-02 15:04:05 MST"}}</div>
{{if .R.Verdict.Pass}}<p class="pass"><b>PASS</b>: every node stayed Ready for the whole run.</p>
{{else}}<div class="fail"><b>FAIL</b><ul>{{range .R.Verdict.Reasons}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{with .R.Verdict.Warnings}}<ul class="warn">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2>Summary</h2>
<table>{{range .Summary}}<tr><th>{{index . 0}}</th><td class="n">{{index . 1}}</td></tr>{{end}}</table>

<h2>Processes (measured window)</h2>
<table><tr><th>process</th><th>RSS max</th><th>RSS avg</th><th>CPU s</th><th>cores</th><th>disk writes / min</th><th>restarts</th></tr>
{{range .R.Processes}}<tr><td>{{.Name}}</td><td class="n">{{bytesH .RSSMaxBytes}}</td><td class="n">{{bytesH .RSSAvgBytes}}</td><td class="n">{{f1 .CPUSeconds}}</td><td class="n">{{f2 .Cores}}</td><td class="n">{{bytesP .WriteBytesPerMinute}}</td><td class="n">{{.Restarts}}</td></tr>
{{end}}</table>

{{range .Charts}}<h2>{{.Title}} <small>({{.Unit}})</small></h2>
{{template "chart" .}}
{{end}}

{{with .R.Readiness.Examples}}<h2>False NotReady transitions (first {{len .}})</h2>
<table><tr><th>node</th><th>at</th><th>to</th><th>reason</th><th>message</th></tr>
{{range .}}<tr><td>{{.Node}}</td><td>{{when .At}}</td><td>{{.To}}</td><td>{{.Reason}}</td><td>{{.Message}}</td></tr>{{end}}</table>{{end}}

{{with .R.ScrapeErrors}}<h2>Scrape errors</h2><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2>Parameters</h2>
<table>{{range .Params}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<p class="machine">Figures are over the measured window (after all nodes were Ready). Raw series: result.json.</p>
</body></html>
`
