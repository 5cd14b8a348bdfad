package soak

import (
	"fmt"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Window holds the measured window's figures, each the sum of the deltas
// between consecutive good scrapes of its source. Figures used to be the
// difference of the first and the last scrape, so one failed scrape at
// either end lost the figure; now a failed scrape only shortens the time
// its source covers, and a figure is missing only when its source answered
// fewer than twice.
type Window struct {
	Sim, API, Etcd Source

	SimLease, SimLag, SimHB, APILease, WALFsync HistSum
	SimErrors, WAL, APIRequests                 CounterSum
	// Heartbeat holds the simulator's writes and bytes by kind.
	HeartbeatWrites, HeartbeatBytes map[string]*CounterSum

	DBFirst, DBLast *float64
}

// Source counts one metrics endpoint's scrapes over the window.
type Source struct {
	Scrapes int `json:"scrapes"`
	Good    int `json:"good"`
	// FirstError is the first failure, kept to say why a figure is missing.
	FirstError string `json:"firstError,omitempty"`
}

// Why says why a figure from this source is missing.
func (s Source) Why(name string) string {
	switch {
	case s.Scrapes == 0:
		return name + " was not scraped"
	case s.Good < 2:
		why := fmt.Sprintf("%d of %d scrapes of %s succeeded, 2 are needed", s.Good, s.Scrapes, name)
		if s.FirstError != "" {
			why += "; first error: " + s.FirstError
		}
		return why
	}
	return name + " did not export it"
}

// CounterSum is a counter's increase summed over consecutive good scrapes,
// with the seconds those pairs covered. A decrease (the process restarted)
// drops only its own pair.
type CounterSum struct {
	Sum, Seconds float64
	Pairs        int
}

func (c *CounterSum) add(prev, cur *float64, secs float64) {
	if prev == nil || cur == nil || *cur < *prev || secs <= 0 {
		return
	}
	c.Sum += *cur - *prev
	c.Seconds += secs
	c.Pairs++
}

// Total is the increase, nil when no pair of scrapes had the counter.
func (c *CounterSum) Total() *float64 {
	if c == nil || c.Pairs == 0 {
		return nil
	}
	return lab.Some(c.Sum)
}

// PerSecond is the rate over the time covered.
func (c *CounterSum) PerSecond() *float64 {
	if c == nil || c.Pairs == 0 || c.Seconds <= 0 {
		return nil
	}
	return lab.Finite(c.Sum / c.Seconds)
}

// HistSum is a histogram's observations summed over consecutive good
// scrapes.
type HistSum struct {
	H       *lab.Histogram
	Seconds float64
}

func (s *HistSum) add(prev, cur *lab.Histogram, secs float64) {
	if prev == nil || cur == nil || cur.Count < prev.Count {
		return
	}
	d := cur.Sub(*prev)
	if s.H == nil {
		s.H = &d
	} else if sum, ok := lab.AddHistograms(*s.H, d); ok {
		s.H = &sum
	} else {
		return
	}
	s.Seconds += secs
}

// Quantile is q of the window's observations, nil without any.
func (s HistSum) Quantile(q float64) *float64 {
	if s.H == nil || s.H.Count == 0 {
		return nil
	}
	return lab.Finite(s.H.Quantile(q))
}

// add takes cur into the window; prev is the last good scrape of each
// source (the zero reading before the first), errs the first error of
// this round.
func (w *Window) add(prev, cur reading, firstErr string) {
	count := func(s *Source, tried, good bool) {
		if !tried {
			return
		}
		s.Scrapes++
		if good {
			s.Good++
		} else if s.FirstError == "" {
			s.FirstError = firstErr
		}
	}
	count(&w.Sim, cur.trySim, cur.haveSim)
	count(&w.API, cur.tryAPI, cur.haveAPI)
	count(&w.Etcd, cur.tryE, cur.haveE)
	if w.HeartbeatWrites == nil {
		w.HeartbeatWrites, w.HeartbeatBytes = map[string]*CounterSum{}, map[string]*CounterSum{}
		for _, k := range HeartbeatKinds {
			w.HeartbeatWrites[k], w.HeartbeatBytes[k] = &CounterSum{}, &CounterSum{}
		}
	}
	if cur.haveSim && prev.haveSim {
		secs := cur.simAt.Sub(prev.simAt).Seconds()
		w.SimLease.add(prev.simLease, cur.simLease, secs)
		w.SimLag.add(prev.simLag, cur.simLag, secs)
		w.SimHB.add(prev.simHB, cur.simHB, secs)
		w.SimErrors.add(prev.simErrors, cur.simErrors, secs)
		for _, k := range HeartbeatKinds {
			a, okA := prev.hb[k]
			b, okB := cur.hb[k]
			if !okA || !okB {
				continue
			}
			w.HeartbeatWrites[k].add(&a.writes, &b.writes, secs)
			w.HeartbeatBytes[k].add(&a.bytes, &b.bytes, secs)
		}
	}
	if cur.haveAPI && prev.haveAPI {
		secs := cur.apiAt.Sub(prev.apiAt).Seconds()
		w.APILease.add(prev.apiLease, cur.apiLease, secs)
		w.APIRequests.add(prev.apiRequests, cur.apiRequests, secs)
	}
	if cur.haveE {
		if w.DBFirst == nil {
			w.DBFirst = cur.db
		}
		if cur.db != nil {
			w.DBLast = cur.db
		}
		if prev.haveE {
			secs := cur.etcdAt.Sub(prev.etcdAt).Seconds()
			w.WAL.add(prev.wal, cur.wal, secs)
			w.WALFsync.add(prev.walFsync, cur.walFsync, secs)
		}
	}
}
