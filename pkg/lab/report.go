package lab

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// Result is a run's outcome, written to result.json. Durations and
// latencies are in seconds, sizes in bytes; a nil figure was not measured.
type SoakResult struct {
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
func WriteReport(dir string, r *SoakResult) (htmlPath string, err error) {
	return writeReport(dir, r, func(w io.Writer) error { return RenderHTML(w, r) })
}

// RenderHTML draws the report: summary tables and inline SVG line charts,
// with no script and nothing fetched from the network.
func RenderHTML(w io.Writer, r *SoakResult) error {
	v := reportView{R: r, Title: fmt.Sprintf("Myriad %s: %s nodes", r.Scenario, r.Parameters["nodes"])}
	v.Params = SortedPairs(r.Parameters)
	m := r.Machine
	v.MachineLine = fmt.Sprintf("%d cores, %s memory, %s, Linux %s, %s, Kubernetes %s",
		m.Cores, BytesH(float64(m.MemoryBytes)), OrDash(m.CPUModel), OrDash(m.Kernel), m.GoVersion, m.KubernetesVersion)
	v.Summary = summaryRows(r)
	v.Charts = charts(r)
	return reportTemplate.Execute(w, v)
}

type reportView struct {
	R           *SoakResult
	Title       string
	MachineLine string
	Params      [][2]string
	Summary     [][2]string
	Charts      []Chart
}

func summaryRows(r *SoakResult) [][2]string {
	rs := r.Readiness
	rows := [][2]string{
		{"False NotReady transitions", fmt.Sprintf("%d (on %d nodes; %d deleted)", rs.FalseNotReady, rs.Nodes, rs.Deleted)},
		{"Intentional NotReady transitions", fmt.Sprint(rs.Intentional)},
		{"Ready nodes, min / max while measured", fmt.Sprintf("%d / %d", rs.ReadyMin, rs.ReadyMax)},
		{"Start-up to all nodes Ready", SecondsH(r.StartupSeconds)},
		{"Measured for", SecondsH(r.MeasuredSeconds)},
		{"Lease renewals", fmt.Sprintf("%.0f (%.1f/s), %.0f errors", r.Lease.Renewals, r.Lease.RenewalsPerSecond, r.Lease.Errors)},
		{"Lease renew p50 / p99 (simulator)", LatH(r.Lease.SimulatorP50) + " / " + LatH(r.Lease.SimulatorP99)},
		{"Heartbeat lag p99 (simulator)", LatH(r.Lease.HeartbeatLagP99)},
		{"Lease PUT p50 / p99 (API server)", LatH(r.Lease.APIServerP50) + " / " + LatH(r.Lease.APIServerP99)},
		{"etcd WAL bytes written / min", BytesP(r.Etcd.WALBytesPerMinute)},
		{"etcd process bytes written / min (/proc io)", BytesP(r.Etcd.ProcWriteBytesPerMinute)},
		{"etcd DB size start → end", BytesP(r.Etcd.DBSizeStartBytes) + " → " + BytesP(r.Etcd.DBSizeEndBytes)},
		{"etcd WAL fsync p99", LatH(r.Etcd.WALFsyncP99)},
	}
	return rows
}

func charts(r *SoakResult) []Chart {
	t0 := r.StartedAt
	sec := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	var marker float64
	if r.MeasuredFrom != nil {
		marker = sec(*r.MeasuredFrom)
	}
	var ready []XY
	for _, p := range r.Series.Ready {
		ready = append(ready, XY{sec(p.At), float64(p.Ready)})
	}
	names := make([]string, 0, len(r.Series.Processes))
	for n := range r.Series.Processes {
		names = append(names, n)
	}
	sort.Strings(names)
	var rss, cpu []Line
	for _, n := range names {
		ss := r.Series.Processes[n]
		var rs, cs []XY
		for i, s := range ss {
			rs = append(rs, XY{sec(s.At), float64(s.RSSBytes) / (1 << 20)})
			if i > 0 && ss[i-1].PID == s.PID {
				if dt := s.At.Sub(ss[i-1].At).Seconds(); dt > 0 {
					cs = append(cs, XY{sec(s.At), (s.CPUSeconds - ss[i-1].CPUSeconds) / dt})
				}
			}
		}
		rss = append(rss, Line{n, rs})
		cpu = append(cpu, Line{n, cs})
	}
	var simP99, apiP99, wal []XY
	for _, p := range r.Series.Intervals {
		if p.SimLeaseP99 != nil {
			simP99 = append(simP99, XY{sec(p.At), *p.SimLeaseP99 * 1000})
		}
		if p.APILeaseP99 != nil {
			apiP99 = append(apiP99, XY{sec(p.At), *p.APILeaseP99 * 1000})
		}
		if p.WALBytesPerMinute != nil {
			wal = append(wal, XY{sec(p.At), *p.WALBytesPerMinute / (1 << 20)})
		}
	}
	return []Chart{
		NewChart("Ready simulated nodes", "nodes", marker, []Line{{"Ready", ready}}),
		NewChart("Resident memory (RSS)", "MiB", marker, rss),
		NewChart("CPU used", "cores", marker, cpu),
		NewChart("Lease renewal p99 per scrape interval", "ms", marker, []Line{{"simulator (client)", simP99}, {"API server PUT leases", apiP99}}),
		NewChart("etcd WAL writes", "MiB/min", marker, []Line{{"etcd WAL", wal}}),
	}
}

var reportTemplate = reportTemplates("report", reportHTML)

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
