package broadcastjob

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// PhaseLabel marks each phase's pods, so that one pod watch follows both.
const PhaseLabel = "bench.myriad.dev/phase"

// Tracker follows one phase's pods as a pod informer delivers them: how
// many were created, have been Running and have Succeeded, and when each
// count first reached the phase's target. Every event costs O(1); it is
// safe for concurrent use.
type Tracker struct {
	Clock clock.PassiveClock

	mu    sync.Mutex
	phase string
	want  int
	start time.Time
	pods  map[types.UID]podState
	cnt   Counts
	first Firsts
	// series is sampled by Sample (once a second).
	series []Point
}

type podState struct {
	node                   string
	ran, succeeded, failed bool
	deleted                bool
}

// Counts are a phase's pods at one moment. Running counts pods that have
// been Running (a pod that went on to succeed still counts).
type Counts struct {
	Created   int `json:"created"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Deleted   int `json:"deleted"`
}

// Firsts are when each count first reached the phase's target.
type Firsts struct {
	Created, Running, Succeeded *time.Time
}

// Point is the counts T seconds after the phase's write.
type Point struct {
	T float64 `json:"t"`
	Counts
}

// NewTracker is a tracker with no phase begun.
func NewTracker(clk clock.PassiveClock) *Tracker {
	return &Tracker{Clock: clk, pods: map[types.UID]podState{}}
}

// Begin starts following the pods labelled phase, want of them; it
// returns the phase's start. Pods of other phases are ignored.
func (t *Tracker) Begin(phase string, want int) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.phase, t.want, t.start = phase, want, t.Clock.Now()
	t.pods, t.cnt, t.first = map[types.UID]podState{}, Counts{}, Firsts{}
	t.series = []Point{{}}
	return t.start
}

// Upsert records a pod as an informer's add or update delivered it.
func (t *Tracker) Upsert(p *corev1.Pod) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.phase == "" || p.Labels[PhaseLabel] != t.phase {
		return
	}
	s, seen := t.pods[p.UID]
	if !seen {
		t.cnt.Created++
	}
	if p.Spec.NodeName != "" {
		s.node = p.Spec.NodeName
	}
	// A pod may go from Pending to Succeeded between two events: it ran.
	switch p.Status.Phase {
	case corev1.PodRunning:
		s.ran = true
	case corev1.PodSucceeded:
		s.ran, s.succeeded = true, true
	case corev1.PodFailed:
		s.ran, s.failed = true, true
	}
	old := t.pods[p.UID]
	if s.ran && !old.ran {
		t.cnt.Running++
	}
	if s.succeeded && !old.succeeded {
		t.cnt.Succeeded++
	}
	if s.failed && !old.failed {
		t.cnt.Failed++
	}
	t.pods[p.UID] = s
	t.check()
}

// Delete records a pod's deletion; its counts stay (it was created).
func (t *Tracker) Delete(p *corev1.Pod) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.pods[p.UID]; ok && !s.deleted {
		s.deleted = true
		t.pods[p.UID] = s
		t.cnt.Deleted++
	}
}

func (t *Tracker) check() {
	now := t.Clock.Now()
	mark := func(f **time.Time, n int) {
		if *f == nil && n >= t.want {
			*f = &now
		}
	}
	mark(&t.first.Created, t.cnt.Created)
	mark(&t.first.Running, t.cnt.Running)
	mark(&t.first.Succeeded, t.cnt.Succeeded)
}

// Sample appends the counts now to the phase's series and returns them.
func (t *Tracker) Sample() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.series = append(t.series, Point{T: t.Clock.Since(t.start).Seconds(), Counts: t.cnt})
	return t.cnt
}

// Counts are the phase's pods now.
func (t *Tracker) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cnt
}

// PodFigures are what a phase's pods did.
type PodFigures struct {
	Final  Counts
	Firsts Firsts
	// PodsPerNode is, per node, the phase's pods bound to it that were
	// not deleted; Unbound counts those never bound.
	PodsPerNode map[string]int
	Unbound     int
	Series      []Point
}

// End returns the phase's figures and stops following it.
func (t *Tracker) End() PodFigures {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := PodFigures{Final: t.cnt, Firsts: t.first, PodsPerNode: map[string]int{}}
	for _, s := range t.pods {
		switch {
		case s.deleted:
		case s.node == "":
			f.Unbound++
		default:
			f.PodsPerNode[s.node]++
		}
	}
	f.Series = append(t.series, Point{T: t.Clock.Since(t.start).Seconds(), Counts: t.cnt})
	t.phase = ""
	return f
}

// NodeCheck compares where the pods went with the nodes: nodes that got
// no pod, and nodes that got more than one, each sorted.
func NodeCheck(nodes []string, perNode map[string]int) (missing, doubled []string) {
	for _, n := range nodes {
		if perNode[n] == 0 {
			missing = append(missing, n)
		}
	}
	for n, c := range perNode {
		if c > 1 {
			doubled = append(doubled, n)
		}
	}
	sort.Strings(missing)
	sort.Strings(doubled)
	return missing, doubled
}
