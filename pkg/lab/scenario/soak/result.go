package soak

import (
	"fmt"
	"sort"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Result is result.json of the soak. Durations and latencies are in
// seconds, sizes in bytes; a nil figure was not measured.
type Result struct {
	lab.RunInfo
	Nodes int `json:"nodes"`
	// StartupSeconds is how long the cluster took to reach its size.
	StartupSeconds  float64    `json:"startupSeconds"`
	MeasuredFrom    *time.Time `json:"measuredFrom,omitempty"`
	MeasuredTo      *time.Time `json:"measuredTo,omitempty"`
	MeasuredSeconds float64    `json:"measuredSeconds"`
	// MeasuredProcesses are the processes over the measured window (the
	// head's processes are over the whole run, start-up included).
	MeasuredProcesses []lab.ProcSummary `json:"measuredProcesses"`
	Lease             LeaseSummary      `json:"lease"`
	Etcd              EtcdSummary       `json:"etcd"`
	// Heartbeat is every heartbeat write of the simulator, Lease and
	// NodeStatus; nil when its metrics were not scraped.
	Heartbeat *HeartbeatWrites `json:"heartbeat,omitempty"`
	// APIRequestsPerSecond is every request the API server(s) served.
	APIRequestsPerSecond *float64             `json:"apiserverRequestsPerSecond,omitempty"`
	Scrapes              map[string]Source    `json:"scrapes,omitempty"`
	Readiness            lab.ReadinessSummary `json:"readiness"`
	ScrapeErrors         []string             `json:"scrapeErrors,omitempty"`
	Series               Series               `json:"series"`
	// Missing says why a figure that is nil was not measured, by figure.
	Missing map[string]string `json:"missing,omitempty"`
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

// Series are the time series behind the charts (process samples are in
// the head).
type Series struct {
	Ready     []lab.ReadyPoint `json:"ready"`
	Intervals []IntervalPoint  `json:"intervals"`
}

// Figures whose absence Missing explains.
const (
	FigureBytesPerHeartbeat = "heartbeat.bytesPerWrite"
	FigureWAL               = "etcd.walBytesPerMinute"
	FigureAPIRequests       = "apiserverRequestsPerSecond"
	FigureLeaseLatency      = "lease.simulatorP99Seconds"
	FigureAPILeaseLatency   = "lease.apiserverP99Seconds"
)

// Input is everything a soak result is built from.
type Input struct {
	Info     lab.RunInfo // scenario, machine, parameters, start
	Nodes    int
	Duration time.Duration
	// HeartbeatMode is the simulator's (lease or status): nodes that
	// heartbeat with NodeStatus alone renew no Lease.
	HeartbeatMode string
	// StartupErr is why the cluster did not reach its size; "" if it did.
	StartupErr string
	// Measurement is nil when measuring never began.
	Measurement *Measurement
	Procs       map[string][]lab.ProcSample
	Ready       *lab.Readiness
	// StoppedAt is when recording ended.
	StoppedAt time.Time
}

// Build summarizes a soak and judges it: it passes only if the cluster
// reached its size, was measured for the whole duration, every node stayed
// Ready (no false NotReady) and no component restarted.
func Build(in Input) *Result {
	res := &Result{RunInfo: in.Info, Nodes: in.Nodes, Missing: map[string]string{}}
	from, to := in.Info.StartedAt, in.StoppedAt
	if m := in.Measurement; m != nil {
		from, to = m.From, m.To
		res.MeasuredFrom, res.MeasuredTo = &m.From, &m.To
		res.MeasuredSeconds = m.To.Sub(m.From).Seconds()
		res.StartupSeconds = m.From.Sub(in.Info.StartedAt).Seconds()
		res.figures(m.Window)
		res.ScrapeErrors = m.ScrapeErrors
		res.Series.Intervals = m.Intervals
		res.Scrapes = map[string]Source{"nodes": m.Window.Sim, "kube-apiserver": m.Window.API, "etcd": m.Window.Etcd}
	} else {
		res.Missing[FigureBytesPerHeartbeat] = "the cluster was never measured"
		res.Missing[FigureWAL] = "the cluster was never measured"
	}
	names := make([]string, 0, len(in.Procs))
	for name := range in.Procs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ps := lab.SummarizeProc(name, in.Procs[name], from, to)
		if ps.Samples > 0 {
			res.MeasuredProcesses = append(res.MeasuredProcesses, ps)
		}
		if name == "etcd" && ps.WriteBytesPerMinute != nil {
			res.Etcd.ProcWriteBytesPerMinute = ps.WriteBytesPerMinute
		}
	}
	if in.Ready != nil {
		res.Readiness = in.Ready.Summarize(from, to)
		res.Series.Ready = in.Ready.Points()
	}
	end := in.StoppedAt
	if end.IsZero() {
		end = to
	}
	res.Finish(end, in.Procs)
	switch m := in.Measurement; {
	case in.StartupErr != "":
		res.StoppedEarly = fmt.Sprintf("the cluster did not reach %d Ready nodes: %s", in.Nodes, in.StartupErr)
	case m == nil:
		res.StoppedEarly = "measuring never began"
	case m.Interrupted:
		res.StoppedEarly = fmt.Sprintf("interrupted after %s of %s", m.To.Sub(m.From).Round(time.Second), in.Duration)
	}
	reasons, warnings := judge(in, res)
	res.Judge(reasons, warnings)
	return res
}

// figures reduces the window to the result's figures and says why each
// missing one is missing.
func (res *Result) figures(w Window) {
	l := &res.Lease
	if t := w.SimLease.H; t != nil {
		l.Renewals = t.Count
		if w.SimLease.Seconds > 0 {
			l.RenewalsPerSecond = t.Count / w.SimLease.Seconds
		}
	}
	l.SimulatorP50, l.SimulatorP99 = w.SimLease.Quantile(0.5), w.SimLease.Quantile(0.99)
	l.HeartbeatLagP99 = w.SimLag.Quantile(0.99)
	if e := w.SimErrors.Total(); e != nil {
		l.Errors = *e
	}
	if t := w.APILease.H; t != nil {
		l.APIServerRequests = t.Count
	}
	l.APIServerP50, l.APIServerP99 = w.APILease.Quantile(0.5), w.APILease.Quantile(0.99)
	if l.SimulatorP99 == nil {
		res.Missing[FigureLeaseLatency] = w.Sim.Why("the simulator")
	}
	if l.APIServerP99 == nil {
		res.Missing[FigureAPILeaseLatency] = w.API.Why("the API server")
	}

	e := &res.Etcd
	e.WALBytesPerMinute = lab.ScaledPtr(w.WAL.PerSecond(), 60)
	if e.WALBytesPerMinute == nil {
		res.Missing[FigureWAL] = w.Etcd.Why("etcd")
	}
	e.DBSizeStartBytes, e.DBSizeEndBytes = w.DBFirst, w.DBLast
	e.WALFsyncP99 = w.WALFsync.Quantile(0.99)

	res.APIRequestsPerSecond = w.APIRequests.PerSecond()
	if res.APIRequestsPerSecond == nil {
		res.Missing[FigureAPIRequests] = w.API.Why("the API server")
	}

	res.Heartbeat = heartbeatWrites(w)
	if res.Heartbeat == nil || res.Heartbeat.BytesPerWrite == nil {
		why := w.Sim.Why("the simulator")
		if res.Heartbeat != nil {
			why = "the simulator wrote no heartbeat in the window"
		}
		res.Missing[FigureBytesPerHeartbeat] = why
	}
}

// heartbeatWrites are the simulator's heartbeat writes over the window;
// nil when no two good scrapes of it were had.
func heartbeatWrites(w Window) *HeartbeatWrites {
	lw, lb := w.HeartbeatWrites["lease"], w.HeartbeatBytes["lease"]
	sw, sb := w.HeartbeatWrites["status"], w.HeartbeatBytes["status"]
	if lw.Total() == nil && sw.Total() == nil {
		return nil
	}
	val := func(c *CounterSum) float64 {
		if t := c.Total(); t != nil {
			return *t
		}
		return 0
	}
	hw := HeartbeatWrites{LeaseWrites: val(lw), LeaseBytes: val(lb), StatusWrites: val(sw), StatusBytes: val(sb)}
	if n := hw.LeaseWrites + hw.StatusWrites; n > 0 {
		hw.BytesPerWrite = lab.Finite((hw.LeaseBytes + hw.StatusBytes) / n)
		if secs := max(lw.Seconds, sw.Seconds); secs > 0 {
			hw.WritesPerSecond = n / secs
		}
	}
	hw.P50, hw.P99 = w.SimHB.Quantile(0.5), w.SimHB.Quantile(0.99)
	return &hw
}

func judge(in Input, res *Result) (reasons, warnings []string) {
	fail := func(format string, a ...any) { reasons = append(reasons, fmt.Sprintf(format, a...)) }
	warn := func(format string, a ...any) { warnings = append(warnings, fmt.Sprintf(format, a...)) }
	r := res.Readiness
	if r.FalseNotReady > 0 {
		first := r.Examples[0]
		fail("%d false NotReady transition(s) on %d node(s); first %s at %s (%s %s)",
			r.FalseNotReady, r.Nodes, first.Node, first.At.Format(time.TimeOnly), first.To, first.Reason)
	}
	if r.Uncounted > 0 {
		fail("%d more transitions were not kept in memory", r.Uncounted)
	}
	if in.Measurement == nil {
		return reasons, warnings
	}
	if in.Ready == nil || len(res.Series.Ready) == 0 {
		fail("%s", lab.NoData("Ready nodes while measured", "the node watch recorded nothing"))
	} else if r.ReadyMin < in.Nodes {
		fail("Ready nodes fell to %d of %d (at %s)", r.ReadyMin, in.Nodes, r.ReadyMinAt.Format(time.TimeOnly))
	}
	for _, p := range res.MeasuredProcesses {
		if p.Restarts > 0 {
			fail("%s restarted %d time(s) during the soak", p.Name, p.Restarts)
		}
	}
	if in.HeartbeatMode != "status" {
		if res.Lease.SimulatorP99 == nil {
			warn("no Lease renewal latency from the simulator (%s)", res.Missing[FigureLeaseLatency])
		}
		if res.Lease.APIServerP99 == nil {
			warn("no Lease PUT latency from the API server (%s)", res.Missing[FigureAPILeaseLatency])
		}
	}
	if res.Lease.Errors > 0 {
		warn("%.0f Lease renewals failed (myriad_nodesim_lease_renew_errors_total)", res.Lease.Errors)
	}
	if res.Etcd.ProcWriteBytesPerMinute == nil {
		warn("/proc/<pid>/io of etcd was not readable; disk writes per process are absent")
	}
	if len(res.ScrapeErrors) > 0 {
		warn("%d distinct scrape error(s), see scrapeErrors", len(res.ScrapeErrors))
	}
	return reasons, warnings
}
