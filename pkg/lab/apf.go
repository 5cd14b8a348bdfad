package lab

import (
	"fmt"
	"sort"
)

// API Priority and Fairness as the API server counts it, per priority
// level: what it let through, what it refused, how long admitted requests
// waited in its queues, and the seats it was given. These are the figures
// that say whether heartbeats get through while bulk work waits.

const (
	metricAPFDispatched = "apiserver_flowcontrol_dispatched_requests_total"
	metricAPFRejected   = "apiserver_flowcontrol_rejected_requests_total"
	metricAPFWait       = "apiserver_flowcontrol_request_wait_duration_seconds"
	metricAPFSeats      = "apiserver_flowcontrol_nominal_limit_seats"
)

// APFLevel is one priority level's counters at one moment, summed over
// the API servers.
type APFLevel struct {
	Dispatched, Rejected float64
	// Wait is the time admitted requests spent queued (execute="true").
	Wait Histogram
	// Seats is the level's nominal concurrency limit, a gauge.
	Seats float64
}

// APFLevels are the priority levels by name.
type APFLevels map[string]APFLevel

// ReadAPF reads every priority level's counters from one scrape; nil when
// the scrape has none (APF disabled).
func ReadAPF(f Families) APFLevels {
	levels := APFLevels{}
	add := func(name string, field func(*APFLevel) *float64) {
		for _, m := range f[name].GetMetric() {
			level := metricLabel(m, "priority_level")
			l := levels[level]
			*field(&l) += m.GetCounter().GetValue() + m.GetGauge().GetValue() // one of the two is set
			levels[level] = l
		}
	}
	add(metricAPFDispatched, func(l *APFLevel) *float64 { return &l.Dispatched })
	add(metricAPFRejected, func(l *APFLevel) *float64 { return &l.Rejected })
	add(metricAPFSeats, func(l *APFLevel) *float64 { return &l.Seats })
	if len(levels) == 0 {
		return nil
	}
	for name, l := range levels {
		if h, ok := f.Histogram(metricAPFWait, map[string]string{"priority_level": name, "execute": "true"}); ok {
			l.Wait = h
		}
		levels[name] = l
	}
	return levels
}

// Add sums two API servers' levels; seats add up too (each server has its
// own).
func (a APFLevels) Add(b APFLevels) APFLevels {
	if a == nil {
		return b
	}
	out := APFLevels{}
	for name, l := range a {
		out[name] = l
	}
	for name, l := range b {
		o, ok := out[name]
		if !ok {
			out[name] = l
			continue
		}
		o.Dispatched += l.Dispatched
		o.Rejected += l.Rejected
		o.Seats += l.Seats
		if h, ok := addHistograms(o.Wait, l.Wait); ok {
			o.Wait = h
		}
		out[name] = o
	}
	return out
}

// APFLevelFigures are what one priority level did between two readings.
type APFLevelFigures struct {
	Level        string  `json:"priorityLevel"`
	NominalSeats float64 `json:"nominalSeats"`
	Dispatched   float64 `json:"dispatched"`
	Rejected     float64 `json:"rejected"`
	// QueueWait is the admitted requests' time in the level's queues; nil
	// when none was admitted.
	QueueWaitP50 *float64 `json:"queueWaitP50Seconds,omitempty"`
	QueueWaitP99 *float64 `json:"queueWaitP99Seconds,omitempty"`
}

// Since is what each level did between before and a, busiest first;
// levels that neither dispatched nor rejected anything are left out.
func (a APFLevels) Since(before APFLevels) []APFLevelFigures {
	var out []APFLevelFigures
	for name, l := range a {
		b := before[name]
		f := APFLevelFigures{Level: name, NominalSeats: l.Seats,
			Dispatched: counterIncrease(l.Dispatched, b.Dispatched), Rejected: counterIncrease(l.Rejected, b.Rejected)}
		if f.Dispatched == 0 && f.Rejected == 0 {
			continue
		}
		w := l.Wait.Sub(b.Wait)
		f.QueueWaitP50, f.QueueWaitP99 = Finite(w.Quantile(0.5)), Finite(w.Quantile(0.99))
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dispatched != out[j].Dispatched {
			return out[i].Dispatched > out[j].Dispatched
		}
		return out[i].Level < out[j].Level
	})
	return out
}

// APFTable shows the levels of one phase: seats, requests let through and
// refused, and the queue wait of those let through.
func APFTable(title string, levels []APFLevelFigures) Table {
	t := Table{Title: title, Head: []string{"priority level", "nominal seats", "dispatched", "rejected (429)", "queue wait p50", "queue wait p99"}}
	for _, l := range levels {
		t.Rows = append(t.Rows, []string{l.Level, fmt.Sprintf("%.0f", l.NominalSeats), fmt.Sprintf("%.0f", l.Dispatched),
			fmt.Sprintf("%.0f", l.Rejected), SecOpt(l.QueueWaitP50), SecOpt(l.QueueWaitP99)})
	}
	t.Note = "API Priority and Fairness's own counters (apiserver_flowcontrol_*), summed over the API servers. " +
		"Exempt requests (system:masters, the bench's admin) are dispatched without seats or queues."
	return t
}
