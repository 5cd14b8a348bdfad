package lab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Metric names the density scenario reads besides the soak's.
const (
	metricResourceObjects = "apiserver_resource_objects"
	// metricStorageSize is the API server's view of etcd's file size: the
	// DB size of a cluster whose etcd the bench cannot reach.
	metricStorageSize = "apiserver_storage_size_bytes"
)

// APISnapshot is one round of scrapes of the API server(s) and etcd,
// cumulative since each process started. A nil field was not available.
type APISnapshot struct {
	At        time.Time
	Latencies APILatencies // nil when an API server scrape failed
	Requests  *float64     // apiserver_request_total, all API servers
	// Objects is apiserver_resource_objects summed: what the API server
	// last counted in etcd (it recounts about once a minute).
	Objects *float64
	// EtcdDBBytes is etcd's database file size.
	EtcdDBBytes *float64
	// APF is API Priority and Fairness per priority level, all API
	// servers; nil when a scrape failed or APF is off.
	APF APFLevels
}

// APIPoint is one scrape interval of the density run.
type APIPoint struct {
	At time.Time `json:"t"`
	// VerbP99 is the p99 per verb over the interval, every SLO request.
	VerbP99           map[string]float64 `json:"verbP99Seconds,omitempty"`
	RequestsPerSecond *float64           `json:"requestsPerSecond,omitempty"`
	Objects           *float64           `json:"objects,omitempty"`
	EtcdDBBytes       *float64           `json:"etcdDBBytes,omitempty"`
}

// APIRecorder scrapes the API server(s) and etcd every Interval, keeps one
// APIPoint per interval for the charts, and keeps the last good sample of
// the latency histograms: a boundary (a phase's start or end, a window's
// edge) uses the last good scrape at or before it, so a scrape that times
// out while the API server is saturated costs one interval, not the phase.
// Scrapes are serialized, so a boundary never races the periodic one; each
// gives up after one Interval.
type APIRecorder struct {
	APIServers []*Scraper
	// Etcd may be nil (a cluster whose etcd is out of reach); the DB size
	// then comes from the API server's apiserver_storage_size_bytes.
	Etcd     *Scraper
	Interval time.Duration
	Clock    clock.WithTicker
	// Window is the width of the latency windows OpenWindows starts.
	Window time.Duration

	scrapeMu sync.Mutex
	mu       sync.Mutex
	last     APISnapshot
	// good is the last snapshot whose latencies were read.
	good APISnapshot
	// While windows are open (OpenWindows to CloseWindows), grid holds the
	// last good sample at or before each Window edge passed; nextEdge is
	// the next edge.
	open     bool
	nextEdge time.Time
	grid     []APISnapshot
	points   []APIPoint
	errs     []string
	seenErrs map[string]bool
}

// Run scrapes every Interval until ctx ends.
func (r *APIRecorder) Run(ctx context.Context) {
	t := r.Clock.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			r.Snapshot(ctx)
		}
	}
}

// Snapshot scrapes now, appends an interval point and returns the
// snapshot. What a scrape could not read stays nil (and the failure is
// kept for the report): figures are never carried over from an earlier
// scrape, which would pass a window off as measured when it was not.
func (r *APIRecorder) Snapshot(ctx context.Context) APISnapshot {
	r.scrapeMu.Lock()
	defer r.scrapeMu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, max(r.Interval, time.Second))
	defer cancel()
	cur, err := r.scrape(sctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		// Stopped mid-scrape: nothing went wrong, nothing was measured.
		return APISnapshot{At: cur.At}
	}
	if err != nil {
		r.noteError(err)
	}
	if !r.last.At.IsZero() {
		r.points = append(r.points, apiInterval(r.last, cur))
	}
	r.last = cur
	if cur.Latencies != nil {
		// Every edge before this sample has its last good sample now.
		for r.open && cur.At.After(r.nextEdge) {
			r.grid = append(r.grid, r.good)
			r.nextEdge = r.nextEdge.Add(r.Window)
		}
		r.good = cur
	}
	return cur
}

// boundary scrapes now and returns the last good sample at or before now:
// this scrape's, or, when it could not read the latencies, the one before.
// Without any good sample it is the failed scrape (Latencies nil).
func (r *APIRecorder) boundary(ctx context.Context) APISnapshot {
	cur := r.Snapshot(ctx)
	if cur.Latencies != nil {
		return cur
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.good.Latencies == nil {
		return cur
	}
	return r.good
}

// OpenWindows returns the sample that opens a phase (the last good one at
// or before now) and starts a grid of Window-wide windows there.
func (r *APIRecorder) OpenWindows(ctx context.Context) APISnapshot {
	start := r.boundary(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open, r.grid = r.Window > 0, nil
	r.nextEdge = r.Clock.Now().Add(r.Window)
	return start
}

// CloseWindows returns the samples of the window edges passed since
// OpenWindows (the last good one at or before each) and the sample that
// closes the phase (the last good one at or before now).
func (r *APIRecorder) CloseWindows(ctx context.Context) (grid []APISnapshot, end APISnapshot) {
	end = r.boundary(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Clock.Now()
	for r.open && !r.nextEdge.After(now) {
		r.grid = append(r.grid, r.good)
		r.nextEdge = r.nextEdge.Add(r.Window)
	}
	grid, r.grid, r.open = r.grid, nil, false
	return grid, end
}

// Last is the latest snapshot without scraping.
func (r *APIRecorder) Last() APISnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Points are the interval points so far.
func (r *APIRecorder) Points() []APIPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]APIPoint(nil), r.points...)
}

// Errors are the first distinct scrape failures.
func (r *APIRecorder) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func (r *APIRecorder) noteError(err error) {
	if r.seenErrs == nil {
		r.seenErrs = map[string]bool{}
	}
	msg := err.Error()
	if !r.seenErrs[msg] && len(r.errs) < maxScrapeErrorsKept {
		r.seenErrs[msg] = true
		r.errs = append(r.errs, fmt.Sprintf("%s: %s", r.Clock.Now().Format(time.TimeOnly), msg))
	}
}

func (r *APIRecorder) scrape(ctx context.Context) (APISnapshot, error) {
	s := APISnapshot{At: r.Clock.Now()}
	var errs []error
	var lat APILatencies
	var requests, objects, storage *float64
	var apf APFLevels
	complete := len(r.APIServers) > 0
	for _, sc := range r.APIServers {
		f, err := sc.Scrape(ctx)
		if err != nil {
			errs = append(errs, err)
			complete = false
			continue
		}
		if l, ok := RequestLatencies(f); ok {
			lat = lat.Add(l)
		}
		requests = addOpt(requests, f, metricAPIRequests)
		apf = apf.Add(ReadAPF(f))
		// Every API server counts the same etcd: one answer is enough.
		if objects == nil {
			objects = storedObjects(f)
		}
		if storage == nil {
			storage = valuePtr(f.Value(metricStorageSize, nil))
		}
	}
	// A partial sum across API servers would read as a drop in counts.
	if complete {
		s.Latencies, s.Requests, s.APF = lat, requests, apf
		if s.Latencies == nil {
			s.Latencies = APILatencies{}
		}
	}
	s.Objects = objects
	if r.Etcd != nil {
		if f, err := r.Etcd.Scrape(ctx); err != nil {
			errs = append(errs, err)
		} else {
			s.EtcdDBBytes = valuePtr(f.Value(metricEtcdDBSize, nil))
		}
	} else {
		s.EtcdDBBytes = storage
	}
	return s, errors.Join(errs...)
}

// addOpt adds the metric's value in f to sum; nil stays nil when absent.
func addOpt(sum *float64, f Families, name string) *float64 {
	v, ok := f.Value(name, nil)
	if !ok {
		return sum
	}
	if sum != nil {
		v += *sum
	}
	return &v
}

func apiInterval(prev, cur APISnapshot) APIPoint {
	p := APIPoint{At: cur.At, Objects: cur.Objects, EtcdDBBytes: cur.EtcdDBBytes}
	if cur.Latencies != nil && prev.Latencies != nil {
		for verb, h := range cur.Latencies.Sub(prev.Latencies).ByVerb() {
			if q := Finite(h.Quantile(0.99)); q != nil {
				if p.VerbP99 == nil {
					p.VerbP99 = map[string]float64{}
				}
				p.VerbP99[verb] = *q
			}
		}
	}
	p.RequestsPerSecond = RequestRate(prev, cur)
	return p
}

// storedObjects sums apiserver_resource_objects, skipping the -1 of a
// failed count; nil before the API server's first count (all zero).
func storedObjects(f Families) *float64 {
	mf, ok := f[metricResourceObjects]
	if !ok {
		return nil
	}
	sum := 0.0
	for _, m := range mf.GetMetric() {
		if v := m.GetGauge().GetValue(); v > 0 {
			sum += v
		}
	}
	if sum == 0 {
		return nil
	}
	return &sum
}

// RequestRate is the API servers' requests per second between two
// snapshots; nil when either lacks the count.
func RequestRate(from, to APISnapshot) *float64 {
	return counterRate(from.Requests, to.Requests, to.At.Sub(from.At))
}

// counterRate is a counter's increase per second; nil when either reading
// is missing or the counter went back (its process restarted).
func counterRate(prev, cur *float64, over time.Duration) *float64 {
	if prev == nil || cur == nil || *cur < *prev || over <= 0 {
		return nil
	}
	return Finite((*cur - *prev) / over.Seconds())
}

// SLOWindow is the width of SIG scalability's API latency windows.
const SLOWindow = 5 * time.Minute
