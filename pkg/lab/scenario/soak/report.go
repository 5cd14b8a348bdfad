package soak

import (
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Rows are the summary the command prints.
func (r *Result) Rows() [][]string {
	rows := [][]string{
		{"false NotReady", fmt.Sprint(r.Readiness.FalseNotReady)},
		{"Ready nodes, min while measured", fmt.Sprintf("%d / %d", r.Readiness.ReadyMin, r.Nodes)},
		{"measured for", lab.SecondsH(r.MeasuredSeconds)},
		{"lease renew p50 / p99 (simulator)", lab.LatH(r.Lease.SimulatorP50) + " / " + lab.LatH(r.Lease.SimulatorP99)},
		{"lease PUT p50 / p99 (API server)", lab.LatH(r.Lease.APIServerP50) + " / " + lab.LatH(r.Lease.APIServerP99)},
		{"lease renewals", fmt.Sprintf("%.1f/s, %.0f errors", r.Lease.RenewalsPerSecond, r.Lease.Errors)},
		{"etcd writes / min (WAL, /proc io)", lab.BytesP(r.Etcd.WALBytesPerMinute) + ", " + lab.BytesP(r.Etcd.ProcWriteBytesPerMinute)},
	}
	for _, p := range r.MeasuredProcesses {
		rows = append(rows, []string{"  " + p.Name, fmt.Sprintf("RSS max %s, CPU %.2f cores", lab.BytesH(float64(p.RSSMaxBytes)), p.Cores)})
	}
	return rows
}

// Page is the soak's report.
func (r *Result) Page() *lab.Page {
	p := lab.NewPage(fmt.Sprintf("Myriad soak: %d nodes", r.Nodes), &r.RunInfo,
		"The cluster is started, then measured once every simulated node is Ready: it passes only if every node stayed Ready for the whole measured window and no component restarted.")
	rs := r.Readiness
	p.Tables = append(p.Tables, lab.Table{Title: "Summary", Rows: [][]string{
		{"False NotReady transitions", fmt.Sprintf("%d (on %d nodes; %d deleted)", rs.FalseNotReady, rs.Nodes, rs.Deleted)},
		{"Intentional NotReady transitions", fmt.Sprint(rs.Intentional)},
		{"Ready nodes, min / max while measured", fmt.Sprintf("%d / %d", rs.ReadyMin, rs.ReadyMax)},
		{"Start-up to all nodes Ready", lab.SecondsH(r.StartupSeconds)},
		{"Measured for", lab.SecondsH(r.MeasuredSeconds)},
		{"Lease renewals", fmt.Sprintf("%.0f (%.1f/s), %.0f errors", r.Lease.Renewals, r.Lease.RenewalsPerSecond, r.Lease.Errors)},
		{"Lease renew p50 / p99 (simulator)", lab.LatH(r.Lease.SimulatorP50) + " / " + lab.LatH(r.Lease.SimulatorP99)},
		{"Heartbeat lag p99 (simulator)", lab.LatH(r.Lease.HeartbeatLagP99)},
		{"Lease PUT p50 / p99 (API server)", lab.LatH(r.Lease.APIServerP50) + " / " + lab.LatH(r.Lease.APIServerP99)},
		{"etcd WAL bytes written / min", lab.BytesP(r.Etcd.WALBytesPerMinute)},
		{"etcd process bytes written / min (/proc io)", lab.BytesP(r.Etcd.ProcWriteBytesPerMinute)},
		{"etcd DB size start → end", lab.BytesP(r.Etcd.DBSizeStartBytes) + " → " + lab.BytesP(r.Etcd.DBSizeEndBytes)},
		{"etcd WAL fsync p99", lab.LatH(r.Etcd.WALFsyncP99)},
	}, Note: "Figures are over the measured window (after all nodes were Ready), each summed over consecutive good scrapes."})
	p.Tables = append(p.Tables, MeasuredProcessTable(r.MeasuredProcesses, "Processes (measured window)"))
	if ex := rs.Examples; len(ex) > 0 {
		t := lab.Table{Title: fmt.Sprintf("False NotReady transitions (first %d)", len(ex)), Head: []string{"node", "at", "to", "reason", "message"}}
		for _, e := range ex {
			t.Rows = append(t.Rows, []string{e.Node, e.At.Format(time.TimeOnly), string(e.To), e.Reason, e.Message})
		}
		p.Tables = append(p.Tables, t)
	}
	if len(r.ScrapeErrors) > 0 {
		t := lab.Table{Title: "Scrape errors"}
		for _, e := range r.ScrapeErrors {
			t.Rows = append(t.Rows, []string{e})
		}
		p.Tables = append(p.Tables, t)
	}
	p.Charts = r.charts()
	return p
}

// MeasuredProcessTable lists processes over a measured window.
func MeasuredProcessTable(ps []lab.ProcSummary, title string) lab.Table {
	t := lab.Table{Title: title, Head: []string{"process", "RSS max", "RSS avg", "CPU s", "cores", "disk writes / min", "restarts"}}
	for _, p := range ps {
		t.Rows = append(t.Rows, []string{p.Name, lab.BytesH(float64(p.RSSMaxBytes)), lab.BytesH(float64(p.RSSAvgBytes)),
			fmt.Sprintf("%.1f", p.CPUSeconds), fmt.Sprintf("%.2f", p.Cores), lab.BytesP(p.WriteBytesPerMinute), fmt.Sprint(p.Restarts)})
	}
	return t
}

func (r *Result) charts() []lab.Chart {
	t0 := r.StartedAt
	sec := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	var marker float64
	if r.MeasuredFrom != nil {
		marker = sec(*r.MeasuredFrom)
	}
	var ready []lab.XY
	for _, p := range r.Series.Ready {
		ready = append(ready, lab.XY{X: sec(p.At), Y: float64(p.Ready)})
	}
	var simP99, apiP99, wal []lab.XY
	for _, p := range r.Series.Intervals {
		if p.SimLeaseP99 != nil {
			simP99 = append(simP99, lab.XY{X: sec(p.At), Y: *p.SimLeaseP99 * 1000})
		}
		if p.APILeaseP99 != nil {
			apiP99 = append(apiP99, lab.XY{X: sec(p.At), Y: *p.APILeaseP99 * 1000})
		}
		if p.WALBytesPerMinute != nil {
			wal = append(wal, lab.XY{X: sec(p.At), Y: *p.WALBytesPerMinute / (1 << 20)})
		}
	}
	return []lab.Chart{
		lab.NewChart("Ready simulated nodes", "nodes", marker, []lab.Line{{Name: "Ready", Points: ready}}),
		lab.NewChart("Lease renewal p99 per scrape interval", "ms", marker, []lab.Line{{Name: "simulator (client)", Points: simP99}, {Name: "API server PUT leases", Points: apiP99}}),
		lab.NewChart("etcd WAL writes", "MiB/min", marker, []lab.Line{{Name: "etcd WAL", Points: wal}}),
	}
}
