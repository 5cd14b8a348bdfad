package soak

import (
	"context"
	"fmt"
	"math"
	"time"

	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Metric names the soak reads. The simulator's are defined in
// pkg/nodesim/metrics.go; the others are upstream's.
const (
	metricSimLease      = "myriad_nodesim_lease_renew_duration_seconds"
	metricSimLeaseErr   = "myriad_nodesim_lease_renew_errors_total"
	metricSimLag        = "myriad_nodesim_heartbeat_lag_seconds"
	metricSimHBWrites   = "myriad_nodesim_heartbeat_write_bytes_total"
	metricSimHBCount    = "myriad_nodesim_heartbeat_writes_total"
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

// HeartbeatKinds are the simulator's "kind" label values.
var HeartbeatKinds = []string{"lease", "status"}

// Progress is what a measurement reports while it runs.
type Progress struct {
	Elapsed, Remaining time.Duration
	Ready              lab.ReadyPoint
	// LeaseP99 is the simulator's renewal p99 since measuring began, in
	// seconds; NaN until a renewal has been observed.
	LeaseP99 float64
	// HeartbeatP99 is the same for every heartbeat write (Lease renewals
	// and NodeStatus patches).
	HeartbeatP99 float64
}

// Meter measures a cluster that is already at size for Duration: metrics
// are scraped every ScrapeInterval and Progress is called every
// ProgressInterval. Process samples and readiness are recorded by the rig
// alongside.
type Meter struct {
	Duration         time.Duration
	ScrapeInterval   time.Duration
	ProgressInterval time.Duration
	Clock            clock.WithTicker
	Targets          lab.Targets
	Ready            *lab.Readiness
	Progress         func(Progress)
	// scrape replaces the scrape of Targets in tests; ticked is called
	// after each tick was handled, so a test can step its clock in turn.
	scrape func(context.Context) (reading, []error)
	ticked func()
}

// Measurement is what Meter.Measure observed.
type Measurement struct {
	From, To    time.Time
	Interrupted bool
	Intervals   []IntervalPoint
	// Window is every figure summed over consecutive good scrapes of its
	// source: a failed scrape costs no figure, only (at the ends of the
	// window) the time it would have covered.
	Window Window
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
	simLease, simLag        *lab.Histogram
	apiLease, walFsync      *lab.Histogram
	simHB                   *lab.Histogram // every heartbeat write, all kinds
	hb                      map[string]hbCount
	simErrors, wal, db      *float64
	apiRequests             *float64 // apiserver_request_total, all API servers
	simAt, apiAt, etcdAt    time.Time
	haveSim, haveAPI, haveE bool
	// trySim, tryAPI and tryE say the source was scraped at all.
	trySim, tryAPI, tryE bool
}

// hbCount is one kind of heartbeat write's counters.
type hbCount struct{ writes, bytes float64 }

// Measure runs until Duration has passed or ctx ends (then Interrupted).
func (s *Meter) Measure(ctx context.Context) Measurement {
	scrapeFn := s.scrape
	if scrapeFn == nil {
		scrapeFn = s.scrapeAll
	}
	m := Measurement{From: s.Clock.Now()}
	seen := map[string]bool{}
	scrape := func(ctx context.Context) reading {
		r, errs := scrapeFn(ctx)
		for _, err := range errs {
			if msg := err.Error(); !seen[msg] && len(m.ScrapeErrors) < maxScrapeErrorsKept {
				seen[msg] = true
				m.ScrapeErrors = append(m.ScrapeErrors, fmt.Sprintf("%s: %s", s.Clock.Now().Format(time.TimeOnly), msg))
			}
		}
		return r
	}
	last := scrape(ctx)
	m.Window.add(reading{}, last, errText(m.ScrapeErrors))
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
			n := len(m.ScrapeErrors)
			cur := scrape(sctx)
			m.Intervals = append(m.Intervals, interval(last, cur))
			m.Window.add(last, cur, errText(m.ScrapeErrors[n:]))
			last = fillMissing(cur, last)
			lastScrape = now
		}
		if s.Progress != nil {
			p := Progress{Elapsed: now.Sub(m.From), Remaining: max(0, s.Duration-now.Sub(m.From)), LeaseP99: math.NaN(), HeartbeatP99: math.NaN()}
			if s.Ready != nil {
				p.Ready = s.Ready.Current()
			}
			if h := m.Window.SimLease.H; h != nil {
				p.LeaseP99 = h.Quantile(0.99)
			}
			if h := m.Window.SimHB.H; h != nil {
				p.HeartbeatP99 = h.Quantile(0.99)
			}
			s.Progress(p)
		}
		if done {
			m.To = now
			return m
		}
		if s.ticked != nil {
			s.ticked()
		}
	}
}

func errText(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	return errs[0]
}

func (s *Meter) scrapeAll(ctx context.Context) (reading, []error) {
	r := reading{at: s.Clock.Now(), trySim: s.Targets.NodeSim != nil, tryAPI: len(s.Targets.APIServers) > 0, tryE: s.Targets.Etcd != nil}
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
			// A counter's series appears with its first write: a
			// simulator that answered without one has written nothing of
			// that kind yet.
			r.hb = map[string]hbCount{}
			for _, kind := range HeartbeatKinds {
				k := map[string]string{"kind": kind}
				w, _ := f.Value(metricSimHBCount, k)
				b, _ := f.Value(metricSimHBWrites, k)
				r.hb[kind] = hbCount{w, b}
			}
		}
	}
	// Several API servers share the load; their histograms add up.
	var api *lab.Histogram
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
		} else if merged, ok := lab.AddHistograms(*api, h); ok {
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

// fillMissing returns r with every source it lacks taken from older, so
// the next interval starts from the last good scrape of each source.
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

// interval is the chart point of cur against the last good scrape of each
// source; a source cur lacks gives no point.
func interval(prev, cur reading) IntervalPoint {
	p := IntervalPoint{At: cur.at}
	if cur.haveSim && cur.simLease != nil && prev.simLease != nil {
		d := cur.simLease.Sub(*prev.simLease)
		p.SimLeaseP99 = lab.Finite(d.Quantile(0.99))
		if secs := cur.simAt.Sub(prev.simAt).Seconds(); secs > 0 {
			p.RenewalsPerSecond = lab.Finite(d.Count / secs)
		}
	}
	if cur.haveSim && cur.simHB != nil && prev.simHB != nil {
		p.HeartbeatP99 = lab.Finite(cur.simHB.Sub(*prev.simHB).Quantile(0.99))
	}
	if cur.haveAPI && cur.apiLease != nil && prev.apiLease != nil {
		p.APILeaseP99 = lab.Finite(cur.apiLease.Sub(*prev.apiLease).Quantile(0.99))
	}
	if cur.haveAPI && cur.apiRequests != nil && prev.apiRequests != nil {
		if secs := cur.apiAt.Sub(prev.apiAt).Seconds(); secs > 0 && *cur.apiRequests >= *prev.apiRequests {
			p.APIRequestsPerSecond = lab.Finite((*cur.apiRequests - *prev.apiRequests) / secs)
		}
	}
	if cur.haveE && cur.wal != nil && prev.wal != nil {
		if mins := cur.etcdAt.Sub(prev.etcdAt).Minutes(); mins > 0 && *cur.wal >= *prev.wal {
			p.WALBytesPerMinute = lab.Finite((*cur.wal - *prev.wal) / mins)
		}
	}
	return p
}

func histogramPtr(h lab.Histogram, ok bool) *lab.Histogram {
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
