package scheduler

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// bindWatch watches the bench namespace's pods (one informer) and records
// when each pod of the current phase is first seen with a node: the bind
// as the API server's watch delivers it, to sub-second precision (the
// PodScheduled condition's lastTransitionTime has whole seconds only).
type bindWatch struct {
	cs     kubernetes.Interface
	clk    clock.WithTicker
	inf    cache.SharedIndexInformer
	cancel context.CancelFunc

	mu    sync.Mutex
	label string
	want  int
	bound map[string]time.Time
	// changed is signalled on every pod event, so waits wake on what they
	// wait for rather than on a timer.
	changed chan struct{}
}

func newBindWatch(cs kubernetes.Interface, clk clock.WithTicker) *bindWatch {
	return &bindWatch{cs: cs, clk: clk, changed: make(chan struct{}, 1)}
}

func (w *bindWatch) start(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(w.cs, 0, informers.WithNamespace(Namespace))
	w.inf = factory.Core().V1().Pods().Informer()
	if err := w.inf.AddIndexers(cache.Indexers{"phase": func(obj any) ([]string, error) {
		return []string{obj.(*corev1.Pod).Labels[phaseLabel]}, nil
	}}); err != nil {
		return err
	}
	observe := func(obj any) {
		defer w.poke()
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName == "" {
			return
		}
		now := w.clk.Now()
		w.mu.Lock()
		defer w.mu.Unlock()
		if pod.Labels[phaseLabel] != w.label || w.bound == nil {
			return
		}
		if _, seen := w.bound[pod.Name]; !seen {
			w.bound[pod.Name] = now
		}
	}
	if _, err := w.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
		DeleteFunc: func(any) { w.poke() },
	}); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	factory.Start(wctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), w.inf.HasSynced) {
		return errors.New("the bench's pod watch did not sync")
	}
	return nil
}

func (w *bindWatch) poke() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *bindWatch) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// begin starts recording a new phase; nothing counts as bound until
// markStart.
func (w *bindWatch) begin(label string, want int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.label, w.want, w.bound = label, want, nil
}

// markStart begins counting binds: nothing is bound before the scheduler
// starts (pods are created unbound), so only binds from now on count.
func (w *bindWatch) markStart() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bound = make(map[string]time.Time, w.want)
}

func (w *bindWatch) boundCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.bound)
}

func (w *bindWatch) bindTimes() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]time.Time, 0, len(w.bound))
	for _, t := range w.bound {
		out = append(out, t)
	}
	return out
}

// present is how many of the phase's pods the watch still holds.
func (w *bindWatch) present(label string) int {
	objs, err := w.inf.GetIndexer().ByIndex("phase", label)
	if err != nil {
		return -1
	}
	return len(objs)
}

// waitFor waits until cond holds, checking on every pod event and tick
// (which also draws progress, if not nil).
func (w *bindWatch) waitFor(ctx context.Context, cond func() bool, progress func()) error {
	tick := w.clk.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if progress != nil {
			progress()
		}
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.changed:
		case <-tick.C():
		}
	}
}

func (w *bindWatch) podNames(label string) []string {
	objs, _ := w.inf.GetIndexer().ByIndex("phase", label)
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.(*corev1.Pod).Name)
	}
	return names
}

// placements are the phase's bound pods with their requests.
func (w *bindWatch) placements(label string) []Placement {
	objs, _ := w.inf.GetIndexer().ByIndex("phase", label)
	out := make([]Placement, 0, len(objs))
	for _, o := range objs {
		pod := o.(*corev1.Pod)
		if pod.Spec.NodeName == "" {
			continue
		}
		var cpu, mem int64
		for _, c := range pod.Spec.Containers {
			cpu += c.Resources.Requests.Cpu().MilliValue()
			mem += c.Resources.Requests.Memory().Value()
		}
		out = append(out, Placement{Node: pod.Spec.NodeName, CPUMilli: cpu, MemBytes: mem})
	}
	return out
}
