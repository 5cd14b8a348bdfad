package daemonset

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

// Coverage follows, as a pod informer of one DaemonSet's pods delivers
// them, how many of a phase's nodes are without a ready agent: no pod of
// the DaemonSet on the node is Ready (with InPlaceUpdateReady not False)
// and not terminating. It is updated at every pod event, so the most seen
// is exact to the watch, not to a sampling interval; every event costs
// O(1). It is safe for concurrent use and is an informer's event handler.
type Coverage struct {
	Clock clock.PassiveClock

	mu   sync.Mutex
	pods map[types.UID]agent
	// ready is, per node, its ready agents (any node, phase or not).
	ready map[string]int
	// nodes are the phase's; covered how many of them have a ready agent.
	nodes   map[string]bool
	covered int
	ph      *coveragePhase
}

type agent struct {
	node  string
	ready bool
}

type coveragePhase struct {
	start time.Time
	fig   CoverageFigures
}

// CoveragePoint is the nodes without a ready agent in the second from T
// (seconds after the phase's start): Without at its last event, Peak the
// most at any moment of it.
type CoveragePoint struct {
	T       float64 `json:"t"`
	Without int     `json:"without"`
	Peak    int     `json:"peak"`
}

// CoverageFigures are what a phase's nodes went through.
type CoverageFigures struct {
	// Nodes is how many nodes the phase followed.
	Nodes int
	// MaxWithout is the most nodes without a ready agent at once, first
	// reached MaxAtSeconds after the start; AtStart and Final the count
	// at the start and the end.
	MaxWithout     int
	MaxAtSeconds   float64
	AtStart, Final int
	// Series is one point per second that saw an event, and the end.
	Series []CoveragePoint
}

var _ cache.ResourceEventHandler = (*Coverage)(nil)

// NewCoverage is a coverage with no phase begun.
func NewCoverage(clk clock.PassiveClock) *Coverage {
	return &Coverage{Clock: clk, pods: map[types.UID]agent{}, ready: map[string]int{}, nodes: map[string]bool{}}
}

func agentOf(p *corev1.Pod) agent {
	a := agent{node: p.Spec.NodeName}
	if p.DeletionTimestamp != nil || a.node == "" {
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

// count adds sign times a's readiness to its node; called with mu held.
func (c *Coverage) count(a agent, sign int) {
	if !a.ready {
		return
	}
	before := c.ready[a.node]
	c.ready[a.node] = before + sign
	if c.ready[a.node] == 0 {
		delete(c.ready, a.node)
	}
	if !c.nodes[a.node] {
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
	a := agentOf(p)
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

// without is the phase's nodes without a ready agent; mu held.
func (c *Coverage) without() int { return len(c.nodes) - c.covered }

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

// Begin starts a phase over nodes (the names of the nodes that are to run
// an agent) and returns its start.
func (c *Coverage) Begin(nodes []string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Clock.Now()
	c.nodes, c.covered = make(map[string]bool, len(nodes)), 0
	for _, n := range nodes {
		if c.nodes[n] {
			continue
		}
		c.nodes[n] = true
		if c.ready[n] > 0 {
			c.covered++
		}
	}
	w := c.without()
	c.ph = &coveragePhase{start: now, fig: CoverageFigures{Nodes: len(c.nodes), AtStart: w, MaxWithout: w,
		Series: []CoveragePoint{{T: 0, Without: w, Peak: w}}}}
	return now
}

// Without is the phase's nodes without a ready agent now.
func (c *Coverage) Without() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.without()
}

// Uncovered names up to n of the phase's nodes without a ready agent,
// sorted: a phase that did not finish says where.
func (c *Coverage) Uncovered(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for node := range c.nodes {
		if c.ready[node] == 0 {
			out = append(out, node)
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
