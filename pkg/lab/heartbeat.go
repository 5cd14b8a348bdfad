package lab

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// The heartbeat scenario runs one cluster size twice, first with Lease
// heartbeats (kubelets since NodeLease), then with the full NodeStatus
// every 10 s (kubelets before it), and compares what each costs etcd and
// the API server. Each run is measured as a soak (BuildSoakResult); this
// file reduces the two to figures, ratios and a verdict.

// HeartbeatModes are the modes in the order they run.
var HeartbeatModes = []string{"lease", "status"}

// HeartbeatRun is one mode's run as the scenario hands it over.
type HeartbeatRun struct {
	Mode string
	// Run is the run's soak result; nil when the run never started.
	Run *SoakResult
	// NodeObjectBytes and LeaseObjectBytes are the protobuf sizes of one
	// stored Node and Lease after the run (what etcd keeps per object);
	// nil when unknown or (Lease, status mode) absent.
	NodeObjectBytes, LeaseObjectBytes *float64
}

// HeartbeatInput is everything a heartbeat result is built from.
type HeartbeatInput struct {
	Machine    Machine
	Parameters map[string]string
	StartedAt  time.Time
	Nodes      int
	Runs       []HeartbeatRun // in HeartbeatModes order; a skipped run is absent
	// Skipped says why runs are missing, e.g. "status: the lease run failed".
	Skipped []string
}

// HeartbeatResult is result.json of the heartbeat scenario.
type HeartbeatResult struct {
	Scenario   string            `json:"scenario"`
	Machine    Machine           `json:"machine"`
	Parameters map[string]string `json:"parameters"`
	StartedAt  time.Time         `json:"startedAt"`
	Lease      *HeartbeatFigures `json:"lease"`
	Status     *HeartbeatFigures `json:"status"`
	// Ratio is status / lease; a nil figure could not be computed.
	Ratio   HeartbeatRatio `json:"ratio"`
	Verdict Verdict        `json:"verdict"`
}

// HeartbeatFigures are one mode's figures over its measured window.
type HeartbeatFigures struct {
	Mode            string  `json:"mode"`
	Nodes           int     `json:"nodes"`
	StartupSeconds  float64 `json:"startupSeconds"`
	MeasuredSeconds float64 `json:"measuredSeconds"`

	EtcdWALBytesPerMinute       *float64 `json:"etcdWALBytesPerMinute,omitempty"`
	EtcdProcWriteBytesPerMinute *float64 `json:"etcdProcWriteBytesPerMinute,omitempty"`
	APIServerCores              *float64 `json:"apiserverCores,omitempty"`
	APIServerRSSMaxBytes        *float64 `json:"apiserverRSSMaxBytes,omitempty"`
	EtcdCores                   *float64 `json:"etcdCores,omitempty"`
	EtcdRSSMaxBytes             *float64 `json:"etcdRSSMaxBytes,omitempty"`
	APIRequestsPerSecond        *float64 `json:"apiserverRequestsPerSecond,omitempty"`

	HeartbeatWritesPerSecond float64  `json:"heartbeatWritesPerSecond"`
	HeartbeatP50             *float64 `json:"heartbeatP50Seconds,omitempty"`
	HeartbeatP99             *float64 `json:"heartbeatP99Seconds,omitempty"`
	BytesPerHeartbeat        *float64 `json:"bytesPerHeartbeat,omitempty"`
	LeaseWrites              float64  `json:"leaseWrites"`
	StatusWrites             float64  `json:"statusWrites"`
	NodeObjectBytes          *float64 `json:"nodeObjectBytes,omitempty"`
	LeaseObjectBytes         *float64 `json:"leaseObjectBytes,omitempty"`

	FalseNotReady int `json:"falseNotReady"`
	ReadyMin      int `json:"readyMin"`
	// Run is the whole soak result of this mode, with its time series.
	Run *SoakResult `json:"run"`
}

// HeartbeatRatio is status mode over lease mode.
type HeartbeatRatio struct {
	EtcdWALBytesPerMinute       *float64 `json:"etcdWALBytesPerMinute,omitempty"`
	EtcdProcWriteBytesPerMinute *float64 `json:"etcdProcWriteBytesPerMinute,omitempty"`
	BytesPerHeartbeat           *float64 `json:"bytesPerHeartbeat,omitempty"`
	APIServerCores              *float64 `json:"apiserverCores,omitempty"`
	EtcdCores                   *float64 `json:"etcdCores,omitempty"`
}

// BuildHeartbeatResult reduces the runs to figures and ratios and judges
// the whole: it passes only if both runs reached their size, were measured
// for the whole duration and kept every node Ready.
func BuildHeartbeatResult(in HeartbeatInput) *HeartbeatResult {
	res := &HeartbeatResult{Scenario: "heartbeat", Machine: in.Machine, Parameters: in.Parameters, StartedAt: in.StartedAt}
	for _, r := range in.Runs {
		f := heartbeatFigures(r, in.Nodes)
		switch r.Mode {
		case "lease":
			res.Lease = f
		case "status":
			res.Status = f
		}
		if r.Run == nil {
			res.Verdict.Reasons = append(res.Verdict.Reasons, r.Mode+" run: never started")
			continue
		}
		for _, reason := range r.Run.Verdict.Reasons {
			res.Verdict.Reasons = append(res.Verdict.Reasons, r.Mode+" run: "+reason)
		}
		for _, w := range r.Run.Verdict.Warnings {
			res.Verdict.Warnings = append(res.Verdict.Warnings, r.Mode+" run: "+w)
		}
	}
	for _, mode := range HeartbeatModes {
		if (mode == "lease" && res.Lease == nil) || (mode == "status" && res.Status == nil) {
			res.Verdict.Reasons = append(res.Verdict.Reasons, mode+" run: not run")
		}
	}
	for _, s := range in.Skipped {
		res.Verdict.Warnings = append(res.Verdict.Warnings, "skipped: "+s)
	}
	if res.Lease != nil && res.Status != nil {
		l, s := res.Lease, res.Status
		res.Ratio = HeartbeatRatio{
			EtcdWALBytesPerMinute:       Ratio(s.EtcdWALBytesPerMinute, l.EtcdWALBytesPerMinute),
			EtcdProcWriteBytesPerMinute: Ratio(s.EtcdProcWriteBytesPerMinute, l.EtcdProcWriteBytesPerMinute),
			BytesPerHeartbeat:           Ratio(s.BytesPerHeartbeat, l.BytesPerHeartbeat),
			APIServerCores:              Ratio(s.APIServerCores, l.APIServerCores),
			EtcdCores:                   Ratio(s.EtcdCores, l.EtcdCores),
		}
	}
	res.Verdict.Pass = len(res.Verdict.Reasons) == 0
	return res
}

func heartbeatFigures(r HeartbeatRun, nodes int) *HeartbeatFigures {
	f := &HeartbeatFigures{Mode: r.Mode, Nodes: nodes, Run: r.Run,
		NodeObjectBytes: r.NodeObjectBytes, LeaseObjectBytes: r.LeaseObjectBytes}
	res := r.Run
	if res == nil {
		return f
	}
	f.StartupSeconds, f.MeasuredSeconds = res.StartupSeconds, res.MeasuredSeconds
	f.EtcdWALBytesPerMinute = res.Etcd.WALBytesPerMinute
	f.EtcdProcWriteBytesPerMinute = res.Etcd.ProcWriteBytesPerMinute
	f.APIRequestsPerSecond = res.APIRequestsPerSecond
	// Several API servers add up; their largest RSS is the one to watch.
	for _, p := range res.Processes {
		switch {
		case p.Name == "kube-apiserver" || strings.HasPrefix(p.Name, "kube-apiserver-"):
			f.APIServerCores = AddPtr(f.APIServerCores, p.Cores)
			f.APIServerRSSMaxBytes = MaxPtr(f.APIServerRSSMaxBytes, float64(p.RSSMaxBytes))
		case p.Name == "etcd":
			f.EtcdCores = AddPtr(f.EtcdCores, p.Cores)
			f.EtcdRSSMaxBytes = MaxPtr(f.EtcdRSSMaxBytes, float64(p.RSSMaxBytes))
		}
	}
	if hb := res.Heartbeat; hb != nil {
		f.HeartbeatWritesPerSecond = hb.WritesPerSecond
		f.HeartbeatP50, f.HeartbeatP99 = hb.P50, hb.P99
		f.BytesPerHeartbeat = hb.BytesPerWrite
		f.LeaseWrites, f.StatusWrites = hb.LeaseWrites, hb.StatusWrites
	}
	f.FalseNotReady, f.ReadyMin = res.Readiness.FalseNotReady, res.Readiness.ReadyMin
	return f
}

// WriteHeartbeatReport writes dir/result.json and dir/report.html.
func WriteHeartbeatReport(dir string, r *HeartbeatResult) (htmlPath string, err error) {
	return writeReport(dir, r, func(w io.Writer) error { return RenderHeartbeatHTML(w, r) })
}

// HeartbeatRow is one figure of the summary table.
type HeartbeatRow struct {
	Name, Lease, Status, Ratio string
}

// HeartbeatRows is the summary table: each figure in both modes and, where
// the comparison is the point, status/lease.
func HeartbeatRows(r *HeartbeatResult) []HeartbeatRow {
	get := func(f func(*HeartbeatFigures) string, m *HeartbeatFigures) string {
		if m == nil {
			return "not run"
		}
		return f(m)
	}
	row := func(name string, f func(*HeartbeatFigures) string, Ratio *float64) HeartbeatRow {
		rs := ""
		if Ratio != nil {
			rs = fmt.Sprintf("%.1f×", *Ratio)
		}
		return HeartbeatRow{name, get(f, r.Lease), get(f, r.Status), rs}
	}
	perMin := func(p *float64) string {
		if p == nil {
			return "—"
		}
		return BytesH(*p) + "/min"
	}
	cores := func(p *float64) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprintf("%.2f", *p)
	}
	rate := func(p *float64) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprintf("%.1f/s", *p)
	}
	return []HeartbeatRow{
		row("etcd WAL bytes written", func(m *HeartbeatFigures) string { return perMin(m.EtcdWALBytesPerMinute) }, r.Ratio.EtcdWALBytesPerMinute),
		row("etcd process disk writes (/proc io)", func(m *HeartbeatFigures) string { return perMin(m.EtcdProcWriteBytesPerMinute) }, r.Ratio.EtcdProcWriteBytesPerMinute),
		row("Mean request bytes per heartbeat write", func(m *HeartbeatFigures) string { return BytesP(m.BytesPerHeartbeat) }, r.Ratio.BytesPerHeartbeat),
		row("kube-apiserver CPU (cores)", func(m *HeartbeatFigures) string { return cores(m.APIServerCores) }, r.Ratio.APIServerCores),
		row("etcd CPU (cores)", func(m *HeartbeatFigures) string { return cores(m.EtcdCores) }, r.Ratio.EtcdCores),
		row("kube-apiserver RSS max", func(m *HeartbeatFigures) string { return BytesP(m.APIServerRSSMaxBytes) }, nil),
		row("etcd RSS max", func(m *HeartbeatFigures) string { return BytesP(m.EtcdRSSMaxBytes) }, nil),
		row("API requests served", func(m *HeartbeatFigures) string { return rate(m.APIRequestsPerSecond) }, nil),
		row("Heartbeat writes (Lease + NodeStatus)", func(m *HeartbeatFigures) string {
			return fmt.Sprintf("%.1f/s (%.0f Lease, %.0f NodeStatus)", m.HeartbeatWritesPerSecond, m.LeaseWrites, m.StatusWrites)
		}, nil),
		row("Heartbeat write p50 / p99 (simulator)", func(m *HeartbeatFigures) string { return LatH(m.HeartbeatP50) + " / " + LatH(m.HeartbeatP99) }, nil),
		row("Stored Node / Lease object (protobuf)", func(m *HeartbeatFigures) string {
			lease := BytesP(m.LeaseObjectBytes)
			if m.LeaseObjectBytes == nil {
				lease = "none"
			}
			return BytesP(m.NodeObjectBytes) + " / " + lease
		}, nil),
		row("False NotReady transitions", func(m *HeartbeatFigures) string { return fmt.Sprint(m.FalseNotReady) }, nil),
		row("Ready nodes, min while measured", func(m *HeartbeatFigures) string { return fmt.Sprintf("%d / %d", m.ReadyMin, m.Nodes) }, nil),
		row("Start-up to all nodes Ready", func(m *HeartbeatFigures) string { return SecondsH(m.StartupSeconds) }, nil),
		row("Measured for", func(m *HeartbeatFigures) string { return SecondsH(m.MeasuredSeconds) }, nil),
	}
}

// heartbeatCharts put both modes on one chart, time counted from the start
// of each run's measured window so the two line up.
func heartbeatCharts(r *HeartbeatResult) []Chart {
	var wal, api, etcd, p99 []Line
	for _, f := range []*HeartbeatFigures{r.Lease, r.Status} {
		if f == nil || f.Run == nil || f.Run.MeasuredFrom == nil {
			continue
		}
		from, to := *f.Run.MeasuredFrom, *f.Run.MeasuredTo
		sec := func(t time.Time) float64 { return t.Sub(from).Seconds() }
		var w, l []XY
		for _, p := range f.Run.Series.Intervals {
			if p.WALBytesPerMinute != nil {
				w = append(w, XY{sec(p.At), *p.WALBytesPerMinute / (1 << 20)})
			}
			if p.HeartbeatP99 != nil {
				l = append(l, XY{sec(p.At), *p.HeartbeatP99 * 1000})
			}
		}
		wal = append(wal, Line{f.Mode, w})
		p99 = append(p99, Line{f.Mode, l})
		cores := func(prefix string) []XY {
			var out []XY
			for name, ss := range f.Run.Series.Processes {
				if name != prefix && !strings.HasPrefix(name, prefix+"-") {
					continue
				}
				for i := 1; i < len(ss); i++ {
					a, b := ss[i-1], ss[i]
					if a.PID != b.PID || b.At.Before(from) || b.At.After(to) {
						continue
					}
					if dt := b.At.Sub(a.At).Seconds(); dt > 0 {
						out = append(out, XY{sec(b.At), (b.CPUSeconds - a.CPUSeconds) / dt})
					}
				}
			}
			return out
		}
		api = append(api, Line{f.Mode, cores("kube-apiserver")})
		etcd = append(etcd, Line{f.Mode, cores("etcd")})
	}
	return []Chart{
		NewChart("etcd WAL writes, per scrape interval", "MiB/min", 0, wal),
		NewChart("kube-apiserver CPU", "cores", 0, api),
		NewChart("etcd CPU", "cores", 0, etcd),
		NewChart("Heartbeat write p99 (simulator), per scrape interval", "ms", 0, p99),
	}
}

// RenderHeartbeatHTML draws the comparison report with the soak report's
// style and charts.
func RenderHeartbeatHTML(w io.Writer, r *HeartbeatResult) error {
	m := r.Machine
	v := heartbeatView{
		R:     r,
		Title: fmt.Sprintf("Myriad heartbeat: %s nodes, Lease vs NodeStatus every 10 s", r.Parameters["nodes"]),
		MachineLine: fmt.Sprintf("%d cores, %s memory, %s, Linux %s, %s, Kubernetes %s",
			m.Cores, BytesH(float64(m.MemoryBytes)), OrDash(m.CPUModel), OrDash(m.Kernel), m.GoVersion, m.KubernetesVersion),
		Rows:   HeartbeatRows(r),
		Charts: heartbeatCharts(r),
		Params: SortedPairs(r.Parameters),
	}
	for _, f := range []*HeartbeatFigures{r.Lease, r.Status} {
		if f != nil && f.Run != nil {
			v.Runs = append(v.Runs, f)
		}
	}
	return heartbeatTemplate.Execute(w, v)
}

type heartbeatView struct {
	R           *HeartbeatResult
	Title       string
	MachineLine string
	Rows        []HeartbeatRow
	Charts      []Chart
	Runs        []*HeartbeatFigures
	Params      [][2]string
}

var heartbeatTemplate = reportTemplates("heartbeat", heartbeatHTML)

const heartbeatHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
{{template "style"}}</head><body>
<h1>{{.Title}}</h1>
<div class="machine">{{.MachineLine}} · started {{.R.StartedAt.Format "2006-01-02 15:04:05 MST"}}</div>
<p>The same cluster size run twice on fresh data directories: <b>lease</b> — a Lease renewed every 10 s, full NodeStatus every 5 min (kubelets since NodeLease);
<b>status</b> — no Lease, the full NodeStatus (conditions, addresses, capacity, nodeInfo, images) patched every 10 s (kubelets before NodeLease).
Figures are over each run's measured window, after all nodes were Ready.</p>
{{if .R.Verdict.Pass}}<p class="pass"><b>PASS</b>: both runs reached their size and every node stayed Ready.</p>
{{else}}<div class="fail"><b>FAIL</b><ul>{{range .R.Verdict.Reasons}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{with .R.Verdict.Warnings}}<ul class="warn">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2>Summary</h2>
<table><tr><th></th><th>lease</th><th>status</th><th>status / lease</th></tr>
{{range .Rows}}<tr><th>{{.Name}}</th><td class="n">{{.Lease}}</td><td class="n">{{.Status}}</td><td class="n"><b>{{.Ratio}}</b></td></tr>
{{end}}</table>

{{range .Charts}}<h2>{{.Title}} <small>({{.Unit}}; x: time since measuring began)</small></h2>
{{template "chart" .}}
{{end}}

{{range .Runs}}<h2>Processes, {{.Mode}} run (measured window)</h2>
<table><tr><th>process</th><th>RSS max</th><th>RSS avg</th><th>CPU s</th><th>cores</th><th>disk writes / min</th><th>restarts</th></tr>
{{range .Run.Processes}}<tr><td>{{.Name}}</td><td class="n">{{bytesH .RSSMaxBytes}}</td><td class="n">{{bytesH .RSSAvgBytes}}</td><td class="n">{{f1 .CPUSeconds}}</td><td class="n">{{f2 .Cores}}</td><td class="n">{{bytesP .WriteBytesPerMinute}}</td><td class="n">{{.Restarts}}</td></tr>
{{end}}</table>
{{with .Run.ScrapeErrors}}<p>Scrape errors:</p><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{end}}

<h2>Parameters</h2>
<table>{{range .Params}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<p class="machine">Raw figures and time series of both runs: result.json.</p>
</body></html>
`
