package lab

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Coverage follows, as a pod informer of one workload's pods delivers
// them, how many of a phase's slots are without a ready pod: no pod of the
// workload in the slot is Ready (with InPlaceUpdateReady not False) and
// not terminating. A slot is what Key says of a pod: its node for a
// DaemonSet (PodNode: nodes without a ready agent), its name for a
// StatefulSet (PodName: ordinals unavailable, missing pods among them).
// It is updated at every pod event, so the most seen is exact to the
// watch, not to a sampling interval; every event costs O(1). It is safe
// for concurrent use and is an informer's event handler.
type Coverage struct {
	Clock clock.PassiveClock
	// Key is a pod's slot; "" is none.
	Key func(*corev1.Pod) string

	mu   sync.Mutex
	pods map[types.UID]slotPod
	// ready is, per slot, its ready pods (any slot, phase or not).
	ready map[string]int
	// slots are the phase's; covered how many of them have a ready pod.
	slots   map[string]bool
	covered int
	ph      *coveragePhase
}

type slotPod struct {
	slot  string
	ready bool
}

type coveragePhase struct {
	start time.Time
	fig   CoverageFigures
}

// CoveragePoint is the slots without a ready pod in the second from T
// (seconds after the phase's start): Without at its last event, Peak the
// most at any moment of it.
type CoveragePoint struct {
	T       float64 `json:"t"`
	Without int     `json:"without"`
	Peak    int     `json:"peak"`
}

// CoverageFigures are what a phase's slots went through.
type CoverageFigures struct {
	// Slots is how many slots the phase followed.
	Slots int
	// MaxWithout is the most slots without a ready pod at once, first
	// reached MaxAtSeconds after the start; AtStart and Final the count
	// at the start and the end.
	MaxWithout     int
	MaxAtSeconds   float64
	AtStart, Final int
	// Series is one point per second that saw an event, and the end.
	Series []CoveragePoint
}

var _ cache.ResourceEventHandler = (*Coverage)(nil)

// PodNode is a DaemonSet's slot: the pod's node.
func PodNode(p *corev1.Pod) string { return p.Spec.NodeName }

// PodName is a StatefulSet's slot: the pod's name (its ordinal).
func PodName(p *corev1.Pod) string { return p.Name }

// NewCoverage is a coverage of the slots key names, with no phase begun.
func NewCoverage(clk clock.PassiveClock, key func(*corev1.Pod) string) *Coverage {
	return &Coverage{Clock: clk, Key: key, pods: map[types.UID]slotPod{}, ready: map[string]int{}, slots: map[string]bool{}}
}

func (c *Coverage) slotPodOf(p *corev1.Pod) slotPod {
	a := slotPod{slot: c.Key(p)}
	if p.DeletionTimestamp != nil || a.slot == "" {
		return a
	}
	ready, gateOpen := false, true
	for _, c := range p.Status.Conditions {
		switch c.Type {
		case corev1.PodReady:
			ready = c.Status == corev1.ConditionTrue
		case pub.InPlaceUpdateReady:
			gateOpen = c.Status != corev1.ConditionFalse
		}
	}
	a.ready = ready && gateOpen
	return a
}

// count adds sign times a's readiness to its slot; called with mu held.
func (c *Coverage) count(a slotPod, sign int) {
	if !a.ready {
		return
	}
	before := c.ready[a.slot]
	c.ready[a.slot] = before + sign
	if c.ready[a.slot] == 0 {
		delete(c.ready, a.slot)
	}
	if !c.slots[a.slot] {
		return
	}
	switch {
	case before == 0 && sign > 0:
		c.covered++
	case before == 1 && sign < 0:
		c.covered--
	}
}

// Upsert records a pod as an informer's add or update delivered it.
func (c *Coverage) Upsert(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.pods[p.UID]; ok {
		c.count(old, -1)
	}
	a := c.slotPodOf(p)
	c.pods[p.UID] = a
	c.count(a, +1)
	c.record(c.Clock.Now())
}

// Delete records a pod's deletion.
func (c *Coverage) Delete(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.pods[uid]; ok {
		c.count(old, -1)
		delete(c.pods, uid)
	}
	c.record(c.Clock.Now())
}

// OnAdd, OnUpdate and OnDelete make a Coverage an informer's handler.
func (c *Coverage) OnAdd(obj any, _ bool) {
	if p, ok := obj.(*corev1.Pod); ok {
		c.Upsert(p)
	}
}

func (c *Coverage) OnUpdate(_, obj any) { c.OnAdd(obj, false) }

func (c *Coverage) OnDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		c.Delete(p.UID)
	}
}

// without is the phase's slots without a ready pod; mu held.
func (c *Coverage) without() int { return len(c.slots) - c.covered }

// record notes the count now in the phase's figures; mu held.
func (c *Coverage) record(now time.Time) {
	ph := c.ph
	if ph == nil {
		return
	}
	w, el := c.without(), now.Sub(ph.start).Seconds()
	f := &ph.fig
	if w > f.MaxWithout {
		f.MaxWithout, f.MaxAtSeconds = w, el
	}
	sec := float64(int64(max(el, 0)))
	last := &f.Series[len(f.Series)-1]
	if last.T == sec {
		last.Without, last.Peak = w, max(last.Peak, w)
		return
	}
	// The count held since the last event: it is part of this second too.
	f.Series = append(f.Series, CoveragePoint{T: sec, Without: w, Peak: max(w, last.Without)})
}

// Begin starts a phase over slots (the nodes owed an agent, the names of
// the pods owed) and returns its start.
func (c *Coverage) Begin(slots []string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Clock.Now()
	c.slots, c.covered = make(map[string]bool, len(slots)), 0
	for _, n := range slots {
		if c.slots[n] {
			continue
		}
		c.slots[n] = true
		if c.ready[n] > 0 {
			c.covered++
		}
	}
	w := c.without()
	c.ph = &coveragePhase{start: now, fig: CoverageFigures{Slots: len(c.slots), AtStart: w, MaxWithout: w,
		Series: []CoveragePoint{{T: 0, Without: w, Peak: w}}}}
	return now
}

// Without is the phase's slots without a ready pod now.
func (c *Coverage) Without() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.without()
}

// Uncovered names up to n of the phase's slots without a ready pod,
// sorted: a phase that did not finish says where.
func (c *Coverage) Uncovered(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for slot := range c.slots {
		if c.ready[slot] == 0 {
			out = append(out, slot)
		}
	}
	sort.Strings(out)
	return out[:min(n, len(out))]
}

// End closes the phase and returns its figures.
func (c *Coverage) End() CoverageFigures {
	c.mu.Lock()
	defer c.mu.Unlock()
	ph := c.ph
	if ph == nil {
		return CoverageFigures{}
	}
	w := c.without()
	ph.fig.Final = w
	ph.fig.Series = append(ph.fig.Series, CoveragePoint{T: c.Clock.Since(ph.start).Seconds(), Without: w, Peak: w})
	c.ph = nil
	return ph.fig
}
