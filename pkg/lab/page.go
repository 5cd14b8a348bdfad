package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Table is a titled table of a report; the first cell of each row names it.
type Table struct {
	Title string
	Head  []string
	Rows  [][]string
	Note  string
}

// Page is every scenario's report: an introduction, the verdict, the
// scenario's tables and charts, what the numbers mean, resource use,
// the machine's load and the parameters.
type Page struct {
	Title   string
	Machine string
	Info    *RunInfo
	Intro   []string
	Tables  []Table
	Bars    []BarChart
	Charts  []Chart
	Meaning []string
	Params  [][2]string
}

// NewPage starts a page for the run info describes.
func NewPage(title string, info *RunInfo, intro ...string) *Page {
	return &Page{Title: title, Machine: MachineLine(info.Machine), Info: info, Intro: intro, Params: SortedPairs(info.Parameters)}
}

// Write writes dir/result.json (r as JSON) and dir/report.html (r's page
// with the process charts added) and returns the page's path.
func Write(dir string, r Result) (string, error) {
	page := r.Page()
	page.Charts = append(page.Charts, ProcessCharts(page.Info.StartedAt, page.Info.ProcessSeries)...)
	return writeReport(dir, r, func(w io.Writer) error { return scenarioTemplate.Execute(w, page) })
}

// writeScenarioReport is Write for results not yet behind the Result
// interface.
func writeScenarioReport(dir string, result any, page *Page) (string, error) {
	page.Charts = append(page.Charts, ProcessCharts(page.Info.StartedAt, page.Info.ProcessSeries)...)
	return writeReport(dir, result, func(w io.Writer) error { return scenarioTemplate.Execute(w, page) })
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
{{end}}{{if .Info.MachineBusy}}<p class="fail"><b>MACHINE BUSY</b>: {{.Info.BusyReason}}. These figures are not the run's own; do not publish them.</p>
{{end}}{{if .Info.Verdict.Pass}}<p class="pass"><b>PASS</b>: every step of the scenario ran{{with .Info.Took}} (in {{.}}){{end}} and every criterion held.</p>
{{else}}<div class="fail"><b>FAIL</b><ul>{{range .Info.Verdict.Reasons}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
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
		"bytesH": func(b int64) string { return BytesH(float64(b)) },
		"bytesP": BytesP,
		"f2":     func(v float64) string { return fmt.Sprintf("%.2f", v) },
		"f1":     func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"when":   func(t time.Time) string { return t.Format(time.TimeOnly) },
	}).Parse(reportParts))
	return template.Must(t.Parse(page))
}
