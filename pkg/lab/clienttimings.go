package lab

import (
	"math"
	"sort"
	"sync"
	"time"
)

// ClientTimings records how long the bench's own API calls took as the
// bench saw them: request sent to response read, network and TLS included,
// the bench's write pacing (which waits before the call) not. Durations
// are kept exactly, one float32 per call, so even 10^6 calls cost 4 MB.
type ClientTimings struct {
	mu    sync.Mutex
	phase string
	calls map[clientKey]*clientCalls
	order []clientKey
}

type clientKey struct{ phase, call string }

type clientCalls struct {
	seconds []float32
	errors  int
}

// SetPhase attributes the calls from now on to phase.
func (c *ClientTimings) SetPhase(phase string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phase = phase
}

// Observe records one call, named "VERB resource" (e.g. "POST configmaps").
func (c *ClientTimings) Observe(call string, d time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[clientKey]*clientCalls{}
	}
	k := clientKey{c.phase, call}
	cc, ok := c.calls[k]
	if !ok {
		cc = &clientCalls{}
		c.calls[k] = cc
		c.order = append(c.order, k)
	}
	if err != nil {
		cc.errors++
		return
	}
	cc.seconds = append(cc.seconds, float32(d.Seconds()))
}

// Time runs call and records it.
func (c *ClientTimings) Time(call string, f func() error) error {
	start := time.Now()
	err := f()
	c.Observe(call, time.Since(start), err)
	return err
}

// ClientLatencyRow is one kind of call in one phase.
type ClientLatencyRow struct {
	Phase  string `json:"phase"`
	Call   string `json:"call"`
	Errors int    `json:"errors"`
	Latencies
}

// Rows summarizes every phase and call, phases in the order first seen,
// calls of a phase by name.
func (c *ClientTimings) Rows() []ClientLatencyRow {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := append([]clientKey(nil), c.order...)
	phaseOrder := map[string]int{}
	for _, k := range keys {
		if _, ok := phaseOrder[k.phase]; !ok {
			phaseOrder[k.phase] = len(phaseOrder)
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if a, b := phaseOrder[keys[i].phase], phaseOrder[keys[j].phase]; a != b {
			return a < b
		}
		return keys[i].call < keys[j].call
	})
	rows := make([]ClientLatencyRow, 0, len(keys))
	for _, k := range keys {
		cc := c.calls[k]
		v := make([]float64, len(cc.seconds))
		for i, s := range cc.seconds {
			v[i] = math.Round(float64(s)*1e6) / 1e6 // float32 carries ~7 digits
		}
		rows = append(rows, ClientLatencyRow{Phase: k.phase, Call: k.call, Errors: cc.errors, Latencies: SummarizeLatencies(v)})
	}
	return rows
}
