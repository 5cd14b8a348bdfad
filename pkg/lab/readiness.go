package lab

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// maxTransitions bounds what Readiness keeps in memory: enough to count
// every node of a 10k cluster flapping a few times; the count never caps.
const maxTransitions = 50_000

// Transition is a node's Ready condition leaving True (or the node leaving
// the cluster while Ready).
type Transition struct {
	Node string    `json:"node"`
	At   time.Time `json:"t"`
	// To is the new Ready status ("False", "Unknown", "" when the condition
	// is missing) or "Deleted".
	To      string `json:"to"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Intentional says the scenario failed this node on purpose.
	Intentional bool `json:"intentional,omitempty"`
}

// ReadyPoint is the number of Ready simulated nodes at one time.
type ReadyPoint struct {
	At    time.Time `json:"t"`
	Ready int       `json:"ready"`
	Total int       `json:"total"`
}

// Readiness watches simulated nodes with one shared informer and records
// every transition of a node's Ready condition away from True, and the
// number of Ready nodes over time.
type Readiness struct {
	Clock clock.WithTicker
	// Intentional says whether a scenario made this node fail on purpose;
	// nil means "carries nodesim's failure annotation".
	Intentional func(*corev1.Node) bool

	mu          sync.Mutex
	ready       map[string]bool
	readyCount  int
	transitions []Transition
	dropped     int
	points      []ReadyPoint
}

// NewReadiness returns an empty tracker using clk.
func NewReadiness(clk clock.WithTicker) *Readiness {
	return &Readiness{Clock: clk, ready: map[string]bool{}}
}

// Run watches nodes labelled nodes.myriad.dev/simulated=true through cs and
// records the Ready count every interval until ctx ends. The informer
// retries while the API server is not up yet, so Run may start before it.
func (r *Readiness) Run(ctx context.Context, cs kubernetes.Interface, interval time.Duration) {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = nodesim.SimulatedLabel + "=true"
	}))
	inf := factory.Core().V1().Nodes().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.Observe(obj.(*corev1.Node)) },
		UpdateFunc: func(_, obj any) { r.Observe(obj.(*corev1.Node)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				r.Forget(n)
			}
		},
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	t := r.Clock.NewTicker(interval)
	defer t.Stop()
	synced := false
	for {
		if !synced {
			synced = inf.HasSynced()
		}
		if synced {
			r.Sample()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Observe records the current state of a node; a Ready node that is no
// longer Ready is a transition.
func (r *Readiness) Observe(n *corev1.Node) {
	if n.Labels[nodesim.SimulatedLabel] != "true" {
		return
	}
	cond := readyCondition(n)
	now := cond != nil && cond.Status == corev1.ConditionTrue
	r.mu.Lock()
	defer r.mu.Unlock()
	was, known := r.ready[n.Name]
	r.ready[n.Name] = now
	switch {
	case now && (!known || !was):
		r.readyCount++
	case !now && known && was:
		r.readyCount--
		t := Transition{Node: n.Name, At: r.Clock.Now(), Intentional: r.intentional(n)}
		if cond != nil {
			t.To, t.Reason, t.Message = string(cond.Status), cond.Reason, cond.Message
		}
		r.record(t)
	}
}

// Forget records a node's deletion.
func (r *Readiness) Forget(n *corev1.Node) {
	r.mu.Lock()
	defer r.mu.Unlock()
	was, known := r.ready[n.Name]
	if !known {
		return
	}
	delete(r.ready, n.Name)
	if was {
		r.readyCount--
		r.record(Transition{Node: n.Name, At: r.Clock.Now(), To: "Deleted", Intentional: r.intentional(n)})
	}
}

func (r *Readiness) record(t Transition) {
	if len(r.transitions) >= maxTransitions {
		r.dropped++
		return
	}
	r.transitions = append(r.transitions, t)
}

func (r *Readiness) intentional(n *corev1.Node) bool {
	if r.Intentional != nil {
		return r.Intentional(n)
	}
	_, failed := n.Annotations[nodesim.FailureAnnotation]
	return failed
}

// Sample appends the current Ready count to the series and returns it.
func (r *Readiness) Sample() ReadyPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := ReadyPoint{At: r.Clock.Now(), Ready: r.readyCount, Total: len(r.ready)}
	r.points = append(r.points, p)
	return p
}

// Current is the Ready count now, without recording it.
func (r *Readiness) Current() ReadyPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReadyPoint{At: r.Clock.Now(), Ready: r.readyCount, Total: len(r.ready)}
}

// Points returns the recorded Ready counts.
func (r *Readiness) Points() []ReadyPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReadyPoint(nil), r.points...)
}

// ReadinessSummary is what happened to readiness in a window.
type ReadinessSummary struct {
	// FalseNotReady counts Ready->not Ready transitions of nodes nobody
	// failed on purpose. A soak passes only with zero.
	FalseNotReady int `json:"falseNotReady"`
	// Intentional counts transitions of nodes failed on purpose.
	Intentional int `json:"intentional"`
	// Deleted counts Ready nodes that disappeared (included in FalseNotReady
	// unless intentional).
	Deleted int `json:"deleted"`
	// Nodes is how many distinct nodes had a false transition.
	Nodes int `json:"nodes"`
	// ReadyMin is the lowest Ready count sampled, at ReadyMinAt.
	ReadyMin   int       `json:"readyMin"`
	ReadyMinAt time.Time `json:"readyMinAt"`
	ReadyMax   int       `json:"readyMax"`
	// Examples are the first few false transitions, for diagnosis.
	Examples []Transition `json:"examples,omitempty"`
	// Uncounted is how many transitions were past the memory bound
	// (nonzero means FalseNotReady is a lower bound).
	Uncounted int `json:"uncounted,omitempty"`
}

// Summarize reduces what happened in [from, to].
func (r *Readiness) Summarize(from, to time.Time) ReadinessSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ReadinessSummary{ReadyMin: -1, Uncounted: r.dropped}
	nodes := map[string]bool{}
	for _, t := range r.transitions {
		if t.At.Before(from) || t.At.After(to) {
			continue
		}
		if t.Intentional {
			s.Intentional++
			continue
		}
		s.FalseNotReady++
		if t.To == "Deleted" {
			s.Deleted++
		}
		nodes[t.Node] = true
		if len(s.Examples) < 20 {
			s.Examples = append(s.Examples, t)
		}
	}
	s.Nodes = len(nodes)
	for _, p := range r.points {
		if p.At.Before(from) || p.At.After(to) {
			continue
		}
		if s.ReadyMin < 0 || p.Ready < s.ReadyMin {
			s.ReadyMin, s.ReadyMinAt = p.Ready, p.At
		}
		s.ReadyMax = max(s.ReadyMax, p.Ready)
	}
	if s.ReadyMin < 0 {
		s.ReadyMin = 0
	}
	return s
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}
