package heartbeat

import (
	"fmt"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/soak"
)

// Rows are the comparison: each figure in both modes and, where the
// comparison is the point, status/lease.
func (r *Result) Rows() [][]string {
	get := func(f func(*Figures) string, m *Figures) string {
		if m == nil {
			return "not run"
		}
		return f(m)
	}
	row := func(name string, f func(*Figures) string, ratio *float64) []string {
		rs := ""
		if ratio != nil {
			rs = fmt.Sprintf("%.1f×", *ratio)
		}
		return []string{name, get(f, r.Lease), get(f, r.Status), rs}
	}
	perMin := func(p *float64) string {
		if p == nil {
			return "—"
		}
		return lab.BytesH(*p) + "/min"
	}
	return [][]string{
		{"", "lease", "status", "status / lease"},
		row("etcd WAL bytes written", func(m *Figures) string { return perMin(m.EtcdWALBytesPerMinute) }, r.Ratio.EtcdWALBytesPerMinute),
		row("etcd process disk writes (/proc io)", func(m *Figures) string { return perMin(m.EtcdProcWriteBytesPerMinute) }, r.Ratio.EtcdProcWriteBytesPerMinute),
		row("Mean request bytes per heartbeat write", func(m *Figures) string { return lab.BytesP(m.BytesPerHeartbeat) }, r.Ratio.BytesPerHeartbeat),
		row("kube-apiserver CPU (cores)", func(m *Figures) string { return lab.FmtOpt(m.APIServerCores, "%.2f") }, r.Ratio.APIServerCores),
		row("etcd CPU (cores)", func(m *Figures) string { return lab.FmtOpt(m.EtcdCores, "%.2f") }, r.Ratio.EtcdCores),
		row("kube-apiserver RSS max", func(m *Figures) string { return lab.BytesP(m.APIServerRSSMaxBytes) }, nil),
		row("etcd RSS max", func(m *Figures) string { return lab.BytesP(m.EtcdRSSMaxBytes) }, nil),
		row("API requests served", func(m *Figures) string { return lab.FmtOpt(m.APIRequestsPerSecond, "%.1f/s") }, nil),
		row("Heartbeat writes (Lease + NodeStatus)", func(m *Figures) string {
			return fmt.Sprintf("%.1f/s (%.0f Lease, %.0f NodeStatus)", m.HeartbeatWritesPerSecond, m.LeaseWrites, m.StatusWrites)
		}, nil),
		row("Heartbeat write p50 / p99 (simulator)", func(m *Figures) string { return lab.LatH(m.HeartbeatP50) + " / " + lab.LatH(m.HeartbeatP99) }, nil),
		row("Stored Node / Lease object (protobuf)", func(m *Figures) string {
			lease := lab.BytesP(m.LeaseObjectBytes)
			if m.LeaseObjectBytes == nil {
				lease = "none"
			}
			return lab.BytesP(m.NodeObjectBytes) + " / " + lease
		}, nil),
		row("False NotReady transitions", func(m *Figures) string { return fmt.Sprint(m.FalseNotReady) }, nil),
		row("Ready nodes, min while measured", func(m *Figures) string { return fmt.Sprintf("%d / %d", m.ReadyMin, m.Nodes) }, nil),
		row("Start-up to all nodes Ready", func(m *Figures) string { return lab.SecondsH(m.StartupSeconds) }, nil),
		row("Measured for", func(m *Figures) string { return lab.SecondsH(m.MeasuredSeconds) }, nil),
	}
}

// Page is the comparison's report.
func (r *Result) Page() *lab.Page {
	p := lab.NewPage(fmt.Sprintf("Myriad heartbeat: %d nodes, Lease vs NodeStatus every 10 s", r.Nodes), &r.RunInfo,
		"The same cluster size run twice on fresh data directories: lease — a Lease renewed every 10 s, NodeStatus every 5 min (kubelets since NodeLease); "+
			"status — no Lease, a NodeStatus patch every 10 s computed from the node's previous status, as kubelets sent before NodeLease "+
			"(the conditions, whose heartbeat times move every time; the whole status only when it changed).",
		"Figures are over each run's measured window, after all nodes were Ready, each summed over consecutive good scrapes.")
	rows := r.Rows()
	p.Tables = append(p.Tables, lab.Table{Title: "Summary", Head: rows[0], Rows: rows[1:]})
	for _, f := range []*Figures{r.Lease, r.Status} {
		if f == nil || f.Run == nil {
			continue
		}
		p.Tables = append(p.Tables, soak.MeasuredProcessTable(f.Run.MeasuredProcesses, "Processes, "+f.Mode+" run (measured window)"))
		if len(f.Run.ScrapeErrors) > 0 {
			t := lab.Table{Title: "Scrape errors, " + f.Mode + " run"}
			for _, e := range f.Run.ScrapeErrors {
				t.Rows = append(t.Rows, []string{e})
			}
			p.Tables = append(p.Tables, t)
		}
	}
	p.Meaning = []string{
		"status / lease above 1 is what NodeLease saves. etcd's WAL bytes are what heartbeats cost the cluster's storage: a NodeStatus patch, " +
			"however small, makes the API server rewrite the whole Node object (images included), where a renewal rewrites a Lease of a few hundred bytes. " +
			"kube-apiserver CPU is what applying and storing them costs.",
		"Request bytes per heartbeat are what each write carries on the wire: a status-mode patch holds the conditions' type and heartbeat time, " +
			"about a Lease's size, so that ratio is near 1; it says nothing about what the write costs behind the API server.",
	}
	p.Charts = r.charts()
	return p
}

// charts put both modes on one chart, time counted from the start of each
// run's measured window so the two line up.
func (r *Result) charts() []lab.Chart {
	var wal, api, etcd, p99 []lab.Line
	for _, f := range []*Figures{r.Lease, r.Status} {
		if f == nil || f.Run == nil || f.Run.MeasuredFrom == nil {
			continue
		}
		from, to := *f.Run.MeasuredFrom, *f.Run.MeasuredTo
		sec := func(t time.Time) float64 { return t.Sub(from).Seconds() }
		var w, l []lab.XY
		for _, p := range f.Run.Series.Intervals {
			if p.WALBytesPerMinute != nil {
				w = append(w, lab.XY{X: sec(p.At), Y: *p.WALBytesPerMinute / (1 << 20)})
			}
			if p.HeartbeatP99 != nil {
				l = append(l, lab.XY{X: sec(p.At), Y: *p.HeartbeatP99 * 1000})
			}
		}
		wal = append(wal, lab.Line{Name: f.Mode, Points: w})
		p99 = append(p99, lab.Line{Name: f.Mode, Points: l})
		cores := func(prefix string) []lab.XY {
			var out []lab.XY
			for name, ss := range f.Run.ProcessSeries {
				if name != prefix && !strings.HasPrefix(name, prefix+"-") {
					continue
				}
				for i := 1; i < len(ss); i++ {
					a, b := ss[i-1], ss[i]
					if a.PID != b.PID || b.At.Before(from) || b.At.After(to) {
						continue
					}
					if dt := b.At.Sub(a.At).Seconds(); dt > 0 {
						out = append(out, lab.XY{X: sec(b.At), Y: (b.CPUSeconds - a.CPUSeconds) / dt})
					}
				}
			}
			return out
		}
		api = append(api, lab.Line{Name: f.Mode, Points: cores("kube-apiserver")})
		etcd = append(etcd, lab.Line{Name: f.Mode, Points: cores("etcd")})
	}
	const x = "; x: time since measuring began"
	return []lab.Chart{
		lab.NewChart("etcd WAL writes, per scrape interval", "MiB/min"+x, 0, wal),
		lab.NewChart("kube-apiserver CPU", "cores"+x, 0, api),
		lab.NewChart("etcd CPU", "cores"+x, 0, etcd),
		lab.NewChart("Heartbeat write p99 (simulator), per scrape interval", "ms"+x, 0, p99),
	}
}
