package lab

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"k8s.io/utils/clock"
)

// Metric names the soak reads. The simulator's are defined in
// pkg/nodesim/metrics.go; the others are upstream's.
const (
	metricSimLease      = "myriad_nodesim_lease_renew_duration_seconds"
	metricSimLeaseErr   = "myriad_nodesim_lease_renew_errors_total"
	metricSimLag        = "myriad_nodesim_heartbeat_lag_seconds"
	metricSimHBWrites   = "myriad_nodesim_heartbeat_writes_total"
	metricSimHBBytes    = "myriad_nodesim_heartbeat_write_bytes_total"
	metricSimHBLatency  = "myriad_nodesim_heartbeat_write_duration_seconds"
	metricAPIRequest    = "apiserver_request_duration_seconds"
	metricAPIRequests   = "apiserver_request_total"
	metricEtcdWALBytes  = "etcd_disk_wal_write_bytes_total"
	metricEtcdDBSize    = "etcd_mvcc_db_total_size_in_bytes"
	metricEtcdWALFsync  = "etcd_disk_wal_fsync_duration_seconds"
	maxScrapeErrorsKept = 20
)

// leaseWrites selects Lease renewals among the API server's requests.
var leaseWrites = map[string]string{"verb": "PUT", "resource": "leases"}

// Targets are the metrics endpoints of the cluster under test. Any may be
// nil (e.g. an existing cluster whose etcd is out of reach); the report
// then says the figure is absent.
type Targets struct {
	NodeSim    *Scraper
	APIServers []*Scraper
	Etcd       *Scraper
}

// Progress is what a soak reports while it runs.
type Progress struct {
	Elapsed, Remaining time.Duration
	Ready              ReadyPoint
	// LeaseP99 is the simulator's renewal p99 since the soak began, in
	// seconds; NaN until a renewal has been observed.
	LeaseP99 float64
	// HeartbeatP99 is the same for every heartbeat write (Lease renewals
	// and NodeStatus patches).
	HeartbeatP99 float64
}

// Soak measures a cluster that is already at size for Duration: metrics
// are scraped every ScrapeInterval and Progress is called every
// ProgressInterval. Process samples and readiness are recorded by the
// ProcSampler and Readiness running alongside.
type Soak struct {
	Duration         time.Duration
	ScrapeInterval   time.Duration
	ProgressInterval time.Duration
	Clock            clock.WithTicker
	Targets          Targets
	Ready            *Readiness
	Progress         func(Progress)
}

// Measurement is what Soak.Measure observed.
type Measurement struct {
	From, To    time.Time
	Interrupted bool
	Intervals   []IntervalPoint
	first, last reading
	// ScrapeErrors are the first distinct scrape failures.
	ScrapeErrors []string
}

// IntervalPoint is one scrape interval's rates and latencies.
type IntervalPoint struct {
	At                time.Time `json:"t"`
	SimLeaseP99       *float64  `json:"simLeaseP99,omitempty"`
	APILeaseP99       *float64  `json:"apiLeaseP99,omitempty"`
	RenewalsPerSecond *float64  `json:"renewalsPerSecond,omitempty"`
	WALBytesPerMinute *float64  `json:"walBytesPerMinute,omitempty"`
	// HeartbeatP99 is over every heartbeat write (Lease and NodeStatus).
	HeartbeatP99         *float64 `json:"heartbeatP99,omitempty"`
	APIRequestsPerSecond *float64 `json:"apiRequestsPerSecond,omitempty"`
}

// reading is the part of one round of scrapes the soak uses. A nil field
// was not available (scrape failed or metric absent).
type reading struct {
	at                      time.Time
	simLease, simLag        *Histogram
	apiLease, walFsync      *Histogram
	simHB                   *Histogram // every heartbeat write, all kinds
	hb                      map[string]hbCount
	simErrors, wal, db      *float64
	apiRequests             *float64 // apiserver_request_total, all API servers
	simAt, apiAt, etcdAt    time.Time
	haveSim, haveAPI, haveE bool
}

// hbCount is one kind of heartbeat write's counters.
type hbCount struct{ writes, bytes float64 }

// heartbeatKinds are the simulator's "kind" label values.
var heartbeatKinds = []string{"lease", "status"}

// Measure runs until Duration has passed or ctx ends (then Interrupted).
func (s *Soak) Measure(ctx context.Context) Measurement {
	m := Measurement{From: s.Clock.Now()}
	seen := map[string]bool{}
	scrape := func(ctx context.Context) reading {
		r, errs := s.scrapeAll(ctx)
		for _, err := range errs {
			if msg := err.Error(); !seen[msg] && len(m.ScrapeErrors) < maxScrapeErrorsKept {
				seen[msg] = true
				m.ScrapeErrors = append(m.ScrapeErrors, fmt.Sprintf("%s: %s", s.Clock.Now().Format(time.TimeOnly), msg))
			}
		}
		return r
	}
	m.first = scrape(ctx)
	m.last = m.first
	lastScrape := m.From
	t := s.Clock.NewTicker(s.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.Interrupted = true
		case <-t.C():
		}
		now := s.Clock.Now()
		done := m.Interrupted || now.Sub(m.From) >= s.Duration
		if done || now.Sub(lastScrape) >= s.ScrapeInterval {
			sctx := ctx
			if m.Interrupted {
				// One last scrape so the summary covers the whole run.
				var cancel context.CancelFunc
				sctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
			}
			cur := scrape(sctx)
			m.Intervals = append(m.Intervals, interval(m.last, cur))
			m.first = fillMissing(m.first, cur)
			m.last = fillMissing(cur, m.last)
			lastScrape = now
		}
		if s.Progress != nil {
			p := Progress{Elapsed: now.Sub(m.From), Remaining: max(0, s.Duration-now.Sub(m.From)), LeaseP99: math.NaN()}
			if s.Ready != nil {
				p.Ready = s.Ready.Current()
			}
			if m.first.simLease != nil && m.last.simLease != nil {
				p.LeaseP99 = m.last.simLease.Sub(*m.first.simLease).Quantile(0.99)
			}
			p.HeartbeatP99 = math.NaN()
			if m.first.simHB != nil && m.last.simHB != nil {
				p.HeartbeatP99 = m.last.simHB.Sub(*m.first.simHB).Quantile(0.99)
			}
			s.Progress(p)
		}
		if done {
			m.To = now
			return m
		}
	}
}

func (s *Soak) scrapeAll(ctx context.Context) (reading, []error) {
	r := reading{at: s.Clock.Now()}
	var errs []error
	if sc := s.Targets.NodeSim; sc != nil {
		if f, err := sc.Scrape(ctx); err != nil {
			errs = append(errs, err)
		} else {
			r.haveSim, r.simAt = true, s.Clock.Now()
			r.simLease = histogramPtr(f.Histogram(metricSimLease, nil))
			r.simLag = histogramPtr(f.Histogram(metricSimLag, nil))
			r.simErrors = valuePtr(f.Value(metricSimLeaseErr, nil))
			r.simHB = histogramPtr(f.Histogram(metricSimHBLatency, nil))
			for _, kind := range heartbeatKinds {
				k := map[string]string{"kind": kind}
				w, okW := f.Value(metricSimHBWrites, k)
				b, okB := f.Value(metricSimHBBytes, k)
				if okW && okB {
					if r.hb == nil {
						r.hb = map[string]hbCount{}
					}
					r.hb[kind] = hbCount{w, b}
				}
			}
		}
	}
	// Several API servers share the load; their histograms add up.
	var api *Histogram
	var requests *float64
	apiOK := len(s.Targets.APIServers) > 0
	for _, sc := range s.Targets.APIServers {
		f, err := sc.Scrape(ctx)
		if err != nil {
			errs = append(errs, err)
			apiOK = false
			continue
		}
		if v, ok := f.Value(metricAPIRequests, nil); ok {
			if requests != nil {
				v += *requests
			}
			requests = &v
		}
		h, ok := f.Histogram(metricAPIRequest, leaseWrites)
		if !ok {
			continue
		}
		if api == nil {
			api = &h
		} else if merged, ok := addHistograms(*api, h); ok {
			api = &merged
		}
	}
	if apiOK {
		r.haveAPI, r.apiAt, r.apiLease, r.apiRequests = true, s.Clock.Now(), api, requests
	}
	if sc := s.Targets.Etcd; sc != nil {
		if f, err := sc.Scrape(ctx); err != nil {
			errs = append(errs, err)
		} else {
			r.haveE, r.etcdAt = true, s.Clock.Now()
			r.wal = valuePtr(f.Value(metricEtcdWALBytes, nil))
			r.db = valuePtr(f.Value(metricEtcdDBSize, nil))
			r.walFsync = histogramPtr(f.Histogram(metricEtcdWALFsync, nil))
		}
	}
	return r, errs
}

// fillMissing returns r with every source it lacks taken from older, so a
// failed scrape does not lose the baseline or the latest value.
func fillMissing(r, older reading) reading {
	if !r.haveSim && older.haveSim {
		r.haveSim, r.simAt, r.simLease, r.simLag, r.simErrors = true, older.simAt, older.simLease, older.simLag, older.simErrors
		r.simHB, r.hb = older.simHB, older.hb
	}
	if !r.haveAPI && older.haveAPI {
		r.haveAPI, r.apiAt, r.apiLease, r.apiRequests = true, older.apiAt, older.apiLease, older.apiRequests
	}
	if !r.haveE && older.haveE {
		r.haveE, r.etcdAt, r.wal, r.db, r.walFsync = true, older.etcdAt, older.wal, older.db, older.walFsync
	}
	return r
}

func interval(prev, cur reading) IntervalPoint {
	p := IntervalPoint{At: cur.at}
	if cur.simLease != nil && prev.simLease != nil {
		d := cur.simLease.Sub(*prev.simLease)
		p.SimLeaseP99 = Finite(d.Quantile(0.99))
		if secs := cur.simAt.Sub(prev.simAt).Seconds(); secs > 0 {
			p.RenewalsPerSecond = Finite(d.Count / secs)
		}
	}
	if cur.simHB != nil && prev.simHB != nil {
		p.HeartbeatP99 = Finite(cur.simHB.Sub(*prev.simHB).Quantile(0.99))
	}
	if cur.apiLease != nil && prev.apiLease != nil {
		p.APILeaseP99 = Finite(cur.apiLease.Sub(*prev.apiLease).Quantile(0.99))
	}
	if cur.apiRequests != nil && prev.apiRequests != nil {
		if secs := cur.apiAt.Sub(prev.apiAt).Seconds(); secs > 0 && *cur.apiRequests >= *prev.apiRequests {
			p.APIRequestsPerSecond = Finite((*cur.apiRequests - *prev.apiRequests) / secs)
		}
	}
	if cur.wal != nil && prev.wal != nil {
		if mins := cur.etcdAt.Sub(prev.etcdAt).Minutes(); mins > 0 && *cur.wal >= *prev.wal {
			p.WALBytesPerMinute = Finite((*cur.wal - *prev.wal) / mins)
		}
	}
	return p
}

// addHistograms adds two histograms with the same bucket layout.
func addHistograms(a, b Histogram) (Histogram, bool) {
	if len(a.Buckets) != len(b.Buckets) {
		return a, false
	}
	out := Histogram{Count: a.Count + b.Count, Sum: a.Sum + b.Sum, Buckets: make([]Bucket, len(a.Buckets))}
	for i := range a.Buckets {
		if a.Buckets[i].UpperBound != b.Buckets[i].UpperBound {
			return a, false
		}
		out.Buckets[i] = Bucket{UpperBound: a.Buckets[i].UpperBound, Cumulative: a.Buckets[i].Cumulative + b.Buckets[i].Cumulative}
	}
	return out, true
}

func histogramPtr(h Histogram, ok bool) *Histogram {
	if !ok {
		return nil
	}
	return &h
}

func valuePtr(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

// SoakInput is everything a soak result is built from.
type SoakInput struct {
	Machine    Machine
	Parameters map[string]string
	Nodes      int
	Duration   time.Duration
	StartedAt  time.Time
	// StartupErr is why the cluster did not reach its size; nil if it did.
	StartupErr error
	// Measurement is nil when the soak never began.
	Measurement *Measurement
	Procs       map[string][]ProcSample
	Ready       *Readiness
	// StoppedAt is when recording ended (used when Measurement is nil).
	StoppedAt time.Time
}

// BuildSoakResult summarizes a soak and judges it: it passes only if the
// cluster reached its size, was measured for the whole duration, every
// node stayed Ready (no false NotReady) and no component restarted.
func BuildSoakResult(in SoakInput) *SoakResult {
	res := &SoakResult{
		Scenario:   "soak",
		Machine:    in.Machine,
		Parameters: in.Parameters,
		StartedAt:  in.StartedAt,
	}
	from, to := in.StartedAt, in.StoppedAt
	if m := in.Measurement; m != nil {
		from, to = m.From, m.To
		res.MeasuredFrom, res.MeasuredTo = &m.From, &m.To
		res.MeasuredSeconds = m.To.Sub(m.From).Seconds()
		res.StartupSeconds = m.From.Sub(in.StartedAt).Seconds()
		res.Lease, res.Etcd = leaseAndEtcd(m)
		res.Heartbeat = heartbeatWrites(m)
		res.APIRequestsPerSecond = apiRequestRate(m)
		res.ScrapeErrors = m.ScrapeErrors
		res.Series.Intervals = m.Intervals
	}
	names := make([]string, 0, len(in.Procs))
	for name := range in.Procs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ps := SummarizeProc(name, in.Procs[name], from, to)
		if ps.Samples > 0 {
			res.Processes = append(res.Processes, ps)
		}
		if name == "etcd" && ps.WriteBytesPerMinute != nil {
			res.Etcd.ProcWriteBytesPerMinute = ps.WriteBytesPerMinute
		}
	}
	res.Series.Processes = in.Procs
	if in.Ready != nil {
		res.Readiness = in.Ready.Summarize(from, to)
		res.Series.Ready = in.Ready.Points()
	}
	res.Verdict = judgeSoak(in, res)
	return res
}

func leaseAndEtcd(m *Measurement) (LeaseSummary, EtcdSummary) {
	var l LeaseSummary
	var e EtcdSummary
	f, z := m.first, m.last
	if f.simLease != nil && z.simLease != nil {
		d := z.simLease.Sub(*f.simLease)
		l.Renewals = d.Count
		if secs := z.simAt.Sub(f.simAt).Seconds(); secs > 0 {
			l.RenewalsPerSecond = d.Count / secs
		}
		l.SimulatorP50, l.SimulatorP99 = Finite(d.Quantile(0.5)), Finite(d.Quantile(0.99))
	}
	if f.simLag != nil && z.simLag != nil {
		l.HeartbeatLagP99 = Finite(z.simLag.Sub(*f.simLag).Quantile(0.99))
	}
	if f.simErrors != nil && z.simErrors != nil {
		l.Errors = max(0, *z.simErrors-*f.simErrors)
	}
	if f.apiLease != nil && z.apiLease != nil {
		d := z.apiLease.Sub(*f.apiLease)
		l.APIServerRequests = d.Count
		l.APIServerP50, l.APIServerP99 = Finite(d.Quantile(0.5)), Finite(d.Quantile(0.99))
	}
	if f.wal != nil && z.wal != nil {
		if mins := z.etcdAt.Sub(f.etcdAt).Minutes(); mins > 0 && *z.wal >= *f.wal {
			e.WALBytesPerMinute = Finite((*z.wal - *f.wal) / mins)
		}
	}
	e.DBSizeStartBytes, e.DBSizeEndBytes = f.db, z.db
	if f.walFsync != nil && z.walFsync != nil {
		e.WALFsyncP99 = Finite(z.walFsync.Sub(*f.walFsync).Quantile(0.99))
	}
	return l, e
}

// heartbeatWrites sums the simulator's heartbeat writes over the window;
// nil when the simulator did not export them.
func heartbeatWrites(m *Measurement) *HeartbeatWrites {
	f, z := m.first, m.last
	if f.hb == nil || z.hb == nil {
		return nil
	}
	var w HeartbeatWrites
	for _, kind := range heartbeatKinds {
		a, b := f.hb[kind], z.hb[kind]
		if b.writes < a.writes { // simulator restarted: what it did since
			a = hbCount{}
		}
		d := hbCount{b.writes - a.writes, b.bytes - a.bytes}
		switch kind {
		case "lease":
			w.LeaseWrites, w.LeaseBytes = d.writes, d.bytes
		case "status":
			w.StatusWrites, w.StatusBytes = d.writes, d.bytes
		}
	}
	if n := w.LeaseWrites + w.StatusWrites; n > 0 {
		w.BytesPerWrite = Finite((w.LeaseBytes + w.StatusBytes) / n)
		if secs := z.simAt.Sub(f.simAt).Seconds(); secs > 0 {
			w.WritesPerSecond = n / secs
		}
	}
	if f.simHB != nil && z.simHB != nil {
		d := z.simHB.Sub(*f.simHB)
		w.P50, w.P99 = Finite(d.Quantile(0.5)), Finite(d.Quantile(0.99))
	}
	return &w
}

func apiRequestRate(m *Measurement) *float64 {
	f, z := m.first, m.last
	if f.apiRequests == nil || z.apiRequests == nil || *z.apiRequests < *f.apiRequests {
		return nil
	}
	secs := z.apiAt.Sub(f.apiAt).Seconds()
	if secs <= 0 {
		return nil
	}
	return Finite((*z.apiRequests - *f.apiRequests) / secs)
}

func judgeSoak(in SoakInput, res *SoakResult) Verdict {
	var v Verdict
	fail := func(format string, a ...any) { v.Reasons = append(v.Reasons, fmt.Sprintf(format, a...)) }
	warn := func(format string, a ...any) { v.Warnings = append(v.Warnings, fmt.Sprintf(format, a...)) }
	m := in.Measurement
	switch {
	case in.StartupErr != nil:
		fail("the cluster did not reach %d Ready nodes: %v", in.Nodes, in.StartupErr)
	case m == nil:
		fail("the soak never began")
	case m.Interrupted:
		fail("interrupted after %s of %s", m.To.Sub(m.From).Round(time.Second), in.Duration)
	}
	r := res.Readiness
	if r.FalseNotReady > 0 {
		first := r.Examples[0]
		fail("%d false NotReady transition(s) on %d node(s); first %s at %s (%s %s)",
			r.FalseNotReady, r.Nodes, first.Node, first.At.Format(time.TimeOnly), first.To, first.Reason)
	}
	if r.Uncounted > 0 {
		fail("%d more transitions were not kept in memory", r.Uncounted)
	}
	if m != nil && r.ReadyMin < in.Nodes {
		fail("Ready nodes fell to %d of %d (at %s)", r.ReadyMin, in.Nodes, r.ReadyMinAt.Format(time.TimeOnly))
	}
	if m != nil {
		for _, p := range res.Processes {
			if p.Restarts > 0 {
				fail("%s restarted %d time(s) during the soak", p.Name, p.Restarts)
			}
		}
		// Nodes that heartbeat with NodeStatus alone write no Lease at all.
		if in.Parameters["heartbeatMode"] != "status" {
			if res.Lease.SimulatorP99 == nil {
				warn("no Lease renewal latency from the simulator (metrics not scraped)")
			}
			if res.Lease.APIServerP99 == nil {
				warn("no Lease PUT latency from the API server (metrics not scraped)")
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
	}
	v.Pass = len(v.Reasons) == 0
	return v
}
