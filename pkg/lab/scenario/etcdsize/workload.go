package etcdsize

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// EtcdStore is the etcd member under test.
type EtcdStore interface {
	// Put writes key and returns the revision it created.
	Put(ctx context.Context, key string, value []byte) (int64, error)
	Delete(ctx context.Context, key string) error
	// Compact drops history before rev and returns once it is physically
	// removed from the backend.
	Compact(ctx context.Context, rev int64) error
	Defragment(ctx context.Context) error
	// Size is the backend file's size and the part of it in use; the rest
	// is free pages, which is what the freelist indexes.
	Size() (total, inUse int64)
}

// ValueClass is a share of the writes with one value size.
type ValueClass struct {
	Bytes  int     `json:"bytes"`
	Weight float64 `json:"weight"`
}

// DefaultValueMix is shaped like a Kubernetes cluster's objects: many
// small ones (Leases, Endpoints, Events), most around a Pod's few KiB, and
// a tail of large ones (ConfigMaps, CRDs) that need several contiguous
// pages, which is where a freelist has to search.
var DefaultValueMix = []ValueClass{{512, 0.3}, {4 << 10, 0.45}, {16 << 10, 0.2}, {64 << 10, 0.05}}

// Workload is one growth run against one store.
type Workload struct {
	Freelist string
	Store    EtcdStore
	Workers  int
	// TargetBytes ends the run once the backend file is this large.
	TargetBytes int64
	// Duration ends the run if the target is not reached.
	Duration time.Duration
	// Compaction runs every CompactEvery and keeps the history written
	// since the previous one, as the API server does every 5 minutes.
	CompactEvery time.Duration
	// DefragEvery defragments periodically; 0 never does (the default:
	// defragmentation empties the freelist under test).
	DefragEvery time.Duration
	SampleEvery time.Duration
	Values      []ValueClass
	// CreateShare and DeleteShare of the writes create a new key or delete
	// one; the rest overwrite an existing key.
	CreateShare, DeleteShare float64
	// BandBytes groups latencies by database size for the comparison.
	BandBytes int64
	// DiskFree reports free bytes where the database lives; the run stops
	// when they fall below MinFreeBytes.
	DiskFree     func() (uint64, error)
	MinFreeBytes uint64
	Progress     func(Sample)
	Seed         uint64
	// Clock times the puts and paces the sampler and the compactor.
	Clock clock.WithTicker
}

// Sample is one sampling interval.
type Sample struct {
	T          float64  `json:"t"`
	DBBytes    int64    `json:"dbBytes"`
	InUseBytes int64    `json:"inUseBytes"`
	Writes     int      `json:"writes"`
	PutP50     *float64 `json:"putP50Seconds,omitempty"`
	PutP99     *float64 `json:"putP99Seconds,omitempty"`
	PutMax     *float64 `json:"putMaxSeconds,omitempty"`
	DiskFree   uint64   `json:"diskFreeBytes"`
}

// Compaction is one compaction.
type Compaction struct {
	T         float64 `json:"t"`
	Revision  int64   `json:"revision"`
	Revisions int64   `json:"revisionsRemoved"`
	Seconds   float64 `json:"seconds"`
	DBBytes   int64   `json:"dbBytes"`
	Err       string  `json:"error,omitempty"`
}

// Band is the latencies of one database size band.
type Band struct {
	FromBytes   int64         `json:"fromBytes"`
	ToBytes     int64         `json:"toBytes"`
	Put         lab.Latencies `json:"put"`
	Compactions lab.Latencies `json:"compactions"`
}

// Run is what one freelist's run did.
type Run struct {
	Freelist      string        `json:"freelist"`
	Seconds       float64       `json:"seconds"`
	StopReason    string        `json:"stopReason"`
	Err           string        `json:"error,omitempty"`
	Puts          int           `json:"puts"`
	Deletes       int           `json:"deletes"`
	Errors        int           `json:"errors"`
	PutsPerSecond float64       `json:"putsPerSecond"`
	ValueBytes    int64         `json:"valueBytesWritten"`
	DBBytes       int64         `json:"dbBytes"`
	InUseBytes    int64         `json:"inUseBytes"`
	Put           lab.Latencies `json:"put"`
	Compaction    lab.Latencies `json:"compaction"`
	Bands         []Band        `json:"bands"`
	Samples       []Sample      `json:"samples"`
	Compactions   []Compaction  `json:"compactions"`
	Defrags       int           `json:"defrags"`
}

// Stop reasons.
const (
	StopTarget   = "target size reached"
	StopDuration = "time limit reached"
	StopDisk     = "free disk below the limit"
	StopError    = "write failed"
	StopCanceled = "interrupted"
	// StopPartner ends a run grown side by side with another when that
	// one stopped, so both cover the same stretch of time.
	StopPartner = "stopped with its side-by-side partner"
)

// state is a run in progress.
type state struct {
	w       *Workload
	start   time.Time
	nextKey atomic.Int64
	lastRev atomic.Int64
	dbBytes atomic.Int64

	mu       sync.Mutex
	window   []float64
	byBand   map[int64][]float64
	compByBd map[int64][]float64
	run      Run
	stop     string
	err      error
}

// Run grows the database until a stop condition and returns what it saw.
func (w *Workload) Run(ctx context.Context) Run {
	s := &state{w: w, start: w.Clock.Now(), byBand: map[int64][]float64{}, compByBd: map[int64][]float64{},
		run: Run{Freelist: w.Freelist}}
	total, _ := w.Store.Size()
	s.dbBytes.Store(total)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range w.Workers {
		wg.Go(func() { s.worker(ctx, cancel, uint64(i)) })
	}
	var bg sync.WaitGroup
	bg.Go(func() { s.compactor(ctx) })
	if w.DefragEvery > 0 {
		bg.Go(func() { s.defragmenter(ctx) })
	}
	s.sampler(ctx, cancel)
	cancel()
	wg.Wait()
	bg.Wait()
	return s.finish()
}

func (s *state) stopWith(reason string, err error, cancel context.CancelFunc) {
	s.mu.Lock()
	if s.stop == "" {
		s.stop, s.err = reason, err
	}
	s.mu.Unlock()
	cancel()
}

func (s *state) worker(ctx context.Context, cancel context.CancelFunc, id uint64) {
	w := s.w
	rng := rand.New(rand.NewPCG(w.Seed, id))
	buf := make([]byte, maxValue(w.Values))
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for ctx.Err() == nil {
		op := rng.Float64()
		var (
			err     error
			deleted bool
			size    int
		)
		start := s.w.Clock.Now()
		switch n := s.nextKey.Load(); {
		case op < w.DeleteShare && n > 0:
			err = w.Store.Delete(ctx, key(rng.Int64N(n)))
			deleted = true
		default:
			k := int64(0)
			if op < w.DeleteShare+w.CreateShare || n == 0 {
				k = s.nextKey.Add(1) - 1
			} else {
				k = rng.Int64N(n)
			}
			size = pickSize(w.Values, rng.Float64())
			// A different slice of random bytes each time: nothing
			// compresses or dedupes.
			off := rng.IntN(len(buf) - size + 1)
			var rev int64
			rev, err = w.Store.Put(ctx, key(k), buf[off:off+size])
			if err == nil {
				for {
					last := s.lastRev.Load()
					if rev <= last || s.lastRev.CompareAndSwap(last, rev) {
						break
					}
				}
			}
		}
		d := s.w.Clock.Since(start).Seconds()
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		switch {
		case err != nil:
			s.run.Errors++
		case deleted:
			s.run.Deletes++
		default:
			s.run.Puts++
			s.run.ValueBytes += int64(size)
			s.window = append(s.window, d)
			band := s.band()
			s.byBand[band] = append(s.byBand[band], d)
		}
		s.mu.Unlock()
		if err != nil {
			s.stopWith(StopError, err, cancel)
			return
		}
	}
}

func key(k int64) string { return fmt.Sprintf("/registry/bench/objects/%012d", k) }

func (s *state) band() int64 {
	if s.w.BandBytes <= 0 {
		return 0
	}
	return s.dbBytes.Load() / s.w.BandBytes
}

func maxValue(vs []ValueClass) int {
	m := 1
	for _, v := range vs {
		m = max(m, v.Bytes)
	}
	return m
}

// pickSize maps u in [0,1) onto the classes by weight.
func pickSize(vs []ValueClass, u float64) int {
	total := 0.0
	for _, v := range vs {
		total += v.Weight
	}
	acc := 0.0
	for _, v := range vs {
		acc += v.Weight / total
		if u < acc {
			return v.Bytes
		}
	}
	return vs[len(vs)-1].Bytes
}

// sampler follows the database size every half second (latencies are
// banded by it, and the target is checked against it), records a sample
// every SampleEvery, and decides when to stop.
func (s *state) sampler(ctx context.Context, cancel context.CancelFunc) {
	w := s.w
	t := s.w.Clock.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	deadline := s.start.Add(w.Duration)
	nextSample := s.start.Add(w.SampleEvery)
	for {
		select {
		case <-ctx.Done():
			s.sample()
			s.stopWith(StopCanceled, nil, cancel)
			return
		case <-t.C():
		}
		total, _ := w.Store.Size()
		s.dbBytes.Store(total)
		now := s.w.Clock.Now()
		stop := ""
		switch {
		case total >= w.TargetBytes:
			stop = StopTarget
		case !now.Before(deadline):
			stop = StopDuration
		}
		if stop == "" && now.Before(nextSample) {
			continue
		}
		nextSample = nextSample.Add(w.SampleEvery)
		smp := s.sample()
		if w.Progress != nil {
			w.Progress(smp)
		}
		if stop == "" && w.DiskFree != nil && smp.DiskFree < w.MinFreeBytes {
			stop = StopDisk
		}
		if stop != "" {
			s.stopWith(stop, nil, cancel)
			return
		}
	}
}

func (s *state) sample() Sample {
	total, inUse := s.w.Store.Size()
	s.dbBytes.Store(total)
	smp := Sample{T: s.w.Clock.Since(s.start).Seconds(), DBBytes: total, InUseBytes: inUse}
	if s.w.DiskFree != nil {
		if free, err := s.w.DiskFree(); err == nil {
			smp.DiskFree = free
		}
	}
	s.mu.Lock()
	lat := s.window
	s.window = nil
	s.mu.Unlock()
	l := lab.SummarizeLatencies(lat)
	smp.Writes, smp.PutP50, smp.PutP99, smp.PutMax = l.Count, l.P50, l.P99, l.Max
	s.mu.Lock()
	s.run.Samples = append(s.run.Samples, smp)
	s.mu.Unlock()
	return smp
}

// compactor compacts every interval to the revision reached at the
// previous one, keeping one interval of history.
func (s *state) compactor(ctx context.Context) {
	t := s.w.Clock.NewTicker(s.w.CompactEvery)
	defer t.Stop()
	var prev, done int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if prev > done {
			start := s.w.Clock.Now()
			err := s.w.Store.Compact(ctx, prev)
			if ctx.Err() != nil {
				return
			}
			c := Compaction{T: s.w.Clock.Since(s.start).Seconds(), Revision: prev, Revisions: prev - done,
				Seconds: s.w.Clock.Since(start).Seconds(), DBBytes: s.dbBytes.Load()}
			if err != nil {
				c.Err = err.Error()
			} else {
				done = prev
			}
			s.mu.Lock()
			s.run.Compactions = append(s.run.Compactions, c)
			if err == nil {
				band := s.band()
				s.compByBd[band] = append(s.compByBd[band], c.Seconds)
			}
			s.mu.Unlock()
		}
		prev = s.lastRev.Load()
	}
}

func (s *state) defragmenter(ctx context.Context) {
	t := s.w.Clock.NewTicker(s.w.DefragEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if err := s.w.Store.Defragment(ctx); err == nil {
			s.mu.Lock()
			s.run.Defrags++
			s.mu.Unlock()
		}
	}
}

func (s *state) finish() Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.run
	r.Seconds = s.w.Clock.Since(s.start).Seconds()
	r.StopReason = s.stop
	if s.err != nil && !errors.Is(s.err, context.Canceled) {
		r.Err = s.err.Error()
	}
	r.DBBytes, r.InUseBytes = s.w.Store.Size()
	if r.Seconds > 0 {
		r.PutsPerSecond = float64(r.Puts) / r.Seconds
	}
	var all, comps []float64
	bands := make([]int64, 0, len(s.byBand))
	for b, lat := range s.byBand {
		bands = append(bands, b)
		all = append(all, lat...)
	}
	sort.Slice(bands, func(i, j int) bool { return bands[i] < bands[j] })
	for _, b := range bands {
		r.Bands = append(r.Bands, Band{FromBytes: b * s.w.BandBytes, ToBytes: (b + 1) * s.w.BandBytes,
			Put: lab.SummarizeLatencies(s.byBand[b]), Compactions: lab.SummarizeLatencies(s.compByBd[b])})
	}
	for _, c := range r.Compactions {
		if c.Err == "" {
			comps = append(comps, c.Seconds)
		}
	}
	r.Put, r.Compaction = lab.SummarizeLatencies(all), lab.SummarizeLatencies(comps)
	return r
}
