package scheduler

import (
	"container/heap"
	"context"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// Backoff after a failed attempt: 1s, doubling per attempt, capped at 10s
// (kube-scheduler's podInitialBackoffSeconds / podMaxBackoffSeconds).
const (
	initialBackoff = time.Second
	maxBackoff     = 10 * time.Second
	// maxParked is how long an unschedulable pod waits for a cluster event
	// before it is retried anyway (kube's podMaxInUnschedulablePodsDuration):
	// a safety net for events whose effect we do not model.
	maxParked = 5 * time.Minute
)

// QueuedPod is a pending pod and its scheduling history.
type QueuedPod struct {
	Pod *v1.Pod
	// Added is when the pod was first queued: the start of e2e latency.
	Added time.Time
	// Attempts counts failed attempts; it sets the backoff.
	Attempts int
	// Plugins is set by the decision loop, while the pod is in flight,
	// when kube's volume and DRA plugins decided on it too: parked, it then
	// also waits for claims, volumes, classes and devices to change.
	Plugins bool
	// cycle is the queue's move cycle when the pod was popped, to detect a
	// cluster event that happened while the pod was being scheduled.
	cycle        int64
	lastFailure  time.Time
	parkedAt     time.Time
	unschedNeeds eventKind
	index        int // in whichever heap holds it
	where        place
	deleted      bool
}

type place int

const (
	inFlight place = iota
	inActive
	inBackoff
	inParked
	inGated
)

// eventKind is a cluster event that may make a parked pod schedulable.
type eventKind uint8

const (
	// eventNodeChange: a node was added, or its allocatable, labels, taints
	// or unschedulable flag changed. Any failure reason may clear.
	eventNodeChange eventKind = 1 << iota
	// eventPodGone: a pod was deleted or finished, freeing resources, ports
	// and anti-affinity. Any failure reason may clear.
	eventPodGone
	// eventPodBound: a pod was bound. It only takes resources away, except
	// for pods waiting on pod affinity or topology spread: those it can help.
	eventPodBound
	// eventStorageChange: a claim, volume, storage class, CSI node or
	// driver, capacity, resource slice or device class changed. Only pods
	// the plugins decided on wait for it.
	eventStorageChange
)

// Queue holds pods waiting to be scheduled in four places:
//   - active: a heap by priority, then creation time; Pop takes from it;
//   - backoff: pods that failed, released to active when their backoff ends;
//   - parked: unschedulable pods, waiting for a cluster event that could
//     make them fit (re-trying them blindly would burn CPU for nothing);
//   - gated: pods with scheduling gates, waiting for the gates to go.
//
// It is bounded by the pending pods the informer holds: each pod is in at
// most one place, keyed by UID. Cluster events are coalesced and applied by
// Run at most every flushPeriod, so a storm of pod deletions costs one pass
// over the parked pods per period, not one per event.
type Queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	clock  clock.WithTicker
	pods   map[string]*QueuedPod
	active activeHeap
	backof backoffHeap
	// parked and gated index the pods in those places, so that applying
	// a cluster event visits the parked pods only, not every pending pod:
	// with 10^5 pods waiting in active, a full scan every flushPeriod
	// under the queue's lock would stall Pop.
	parked map[*QueuedPod]struct{}
	gated  map[*QueuedPod]struct{}
	// moveCycle counts coalesced cluster events; popCycle is the cycle
	// at the last Pop. A pod that fails as unschedulable after an event
	// newer than its pop goes to backoff, not parked: the event may be
	// the one that makes it fit.
	moveCycle    int64
	pending      eventKind
	lastParkScan time.Time
}

const (
	flushPeriod    = 100 * time.Millisecond
	parkScanPeriod = 30 * time.Second
)

// NewQueue returns an empty queue on clk.
func NewQueue(clk clock.WithTicker) *Queue {
	q := &Queue{clock: clk, pods: map[string]*QueuedPod{}, parked: map[*QueuedPod]struct{}{}, gated: map[*QueuedPod]struct{}{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues a new pending pod or refreshes a queued one. A pod that is
// being scheduled is left alone (the runtime re-reads it when it requeues).
func (q *Queue) Add(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := core.PodKey(pod)
	qp := q.pods[key]
	if qp == nil {
		qp = &QueuedPod{Pod: pod, Added: q.clock.Now(), index: -1}
		q.pods[key] = qp
		q.place(qp)
		return
	}
	specChanged := podSpecChanged(qp.Pod, pod)
	qp.Pod = pod
	switch qp.where {
	case inActive:
		heap.Fix(&q.active, qp.index)
	case inGated:
		if len(pod.Spec.SchedulingGates) == 0 {
			q.place(qp)
		}
	case inParked:
		// The pod itself changed (resources, affinity, tolerations...):
		// it may fit now. Status-only updates (our own condition patch)
		// change nothing.
		if specChanged {
			q.place(qp)
		}
	}
}

// Delete drops a pod that was deleted or bound.
func (q *Queue) Delete(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := core.PodKey(pod)
	qp := q.pods[key]
	if qp == nil {
		return
	}
	q.unlink(qp)
	delete(q.pods, key)
	qp.deleted = true
}

// Pop blocks until a pod is active or ctx ends.
func (q *Queue) Pop(ctx context.Context) (*QueuedPod, error) {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.cond.Wait()
	}
	qp := heap.Pop(&q.active).(*QueuedPod)
	qp.where = inFlight
	qp.cycle = q.moveCycle
	return qp, nil
}

// Done forgets a popped pod that needs no further scheduling (bound,
// deleted, no longer ours).
func (q *Queue) Done(qp *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pods[core.PodKey(qp.Pod)] == qp && qp.where == inFlight {
		delete(q.pods, core.PodKey(qp.Pod))
	}
}

// Requeue puts a popped pod back after a failed attempt, with pod as its
// freshest version: unschedulable pods are parked (or backed off if a
// cluster event arrived meanwhile), gated pods gated, others backed off.
// immediate skips the backoff (a conflict with our own newer state).
func (q *Queue) Requeue(qp *QueuedPod, pod *v1.Pod, fit *core.FitError, immediate bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp.deleted || qp.where != inFlight || q.pods[core.PodKey(qp.Pod)] != qp {
		return
	}
	qp.Pod = pod
	if immediate {
		q.toActive(qp)
		return
	}
	qp.Attempts++
	qp.lastFailure = q.clock.Now()
	switch {
	case len(pod.Spec.SchedulingGates) > 0:
		q.toGated(qp)
	case fit != nil && q.moveCycle == qp.cycle && q.pending == 0:
		qp.where = inParked
		q.parked[qp] = struct{}{}
		qp.parkedAt = qp.lastFailure
		qp.unschedNeeds = eventNodeChange | eventPodGone
		if needsPodBound(fit) {
			qp.unschedNeeds |= eventPodBound
		}
		if qp.Plugins {
			qp.unschedNeeds |= eventStorageChange
		}
	default:
		q.toBackoff(qp)
	}
}

// Retry moves a parked pod to backoff: what it waited for will not come
// as a cluster event (its preemption failed), so waiting for one could
// take maxParked.
func (q *Queue) Retry(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp := q.pods[core.PodKey(pod)]; qp != nil && qp.where == inParked {
		q.unlink(qp)
		q.toBackoff(qp)
	}
}

// Park gates a popped pod that turned out to have scheduling gates.
func (q *Queue) Park(qp *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !qp.deleted && qp.where == inFlight && q.pods[core.PodKey(qp.Pod)] == qp {
		q.toGated(qp)
	}
}

// needsPodBound: failures that a newly bound pod can clear.
func needsPodBound(fit *core.FitError) bool {
	for r := range fit.Reasons {
		if strings.HasPrefix(r, core.ReasonPodAffinity) || strings.HasPrefix(r, core.ReasonSpread) {
			return true
		}
	}
	return false
}

// Event records a cluster event; Run applies it to parked pods.
func (q *Queue) Event(kind eventKind) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending |= kind
}

// Run releases backed-off pods and applies cluster events every
// flushPeriod until ctx ends.
func (q *Queue) Run(ctx context.Context) {
	t := q.clock.NewTicker(flushPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			q.flush()
		}
	}
}

func (q *Queue) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	// Without an event, the maxParked scan over all queued pods runs only
	// every parkScanPeriod.
	if q.pending != 0 || now.Sub(q.lastParkScan) >= parkScanPeriod {
		q.lastParkScan = now
		ev := q.pending
		q.pending = 0
		if ev != 0 {
			q.moveCycle++
		}
		for qp := range q.parked {
			if qp.unschedNeeds&ev != 0 || now.Sub(qp.parkedAt) >= maxParked {
				q.place(qp) // unlinks it from parked: deleting while ranging is safe
			}
		}
	}
	for q.backof.Len() > 0 && !q.backof[0].backoffEnd().After(now) {
		q.toActive(heap.Pop(&q.backof).(*QueuedPod))
	}
}

// place puts qp where its state says: gated, backing off, or active.
func (q *Queue) place(qp *QueuedPod) {
	q.unlink(qp)
	switch {
	case len(qp.Pod.Spec.SchedulingGates) > 0:
		q.toGated(qp)
	case qp.Attempts > 0 && qp.backoffEnd().After(q.clock.Now()):
		q.toBackoff(qp)
	default:
		q.toActive(qp)
	}
}

func (q *Queue) toActive(qp *QueuedPod) {
	qp.where = inActive
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

func (q *Queue) toGated(qp *QueuedPod) {
	qp.where = inGated
	q.gated[qp] = struct{}{}
}

func (q *Queue) toBackoff(qp *QueuedPod) {
	qp.where = inBackoff
	heap.Push(&q.backof, qp)
}

func (q *Queue) unlink(qp *QueuedPod) {
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.index)
	case inBackoff:
		heap.Remove(&q.backof, qp.index)
	case inParked:
		delete(q.parked, qp)
	case inGated:
		delete(q.gated, qp)
	}
	qp.where = inFlight
}

func (qp *QueuedPod) backoffEnd() time.Time {
	d := initialBackoff
	for i := 1; i < qp.Attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return qp.lastFailure.Add(min(d, maxBackoff))
}

// Lengths reports how many pods wait in each place.
func (q *Queue) Lengths() (active, backoff, parked, gated int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backof.Len(), len(q.parked), len(q.gated)
}

func priority(p *v1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// activeHeap: higher priority first, then older pods (kube's PrioritySort).
type activeHeap []*QueuedPod

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	a, b := h[i].Pod, h[j].Pod
	if pa, pb := priority(a), priority(b); pa != pb {
		return pa > pb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return h[i].Added.Before(h[j].Added)
}
func (h activeHeap) Swap(i, j int)  { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *activeHeap) Push(x any)    { qp := x.(*QueuedPod); qp.index = len(*h); *h = append(*h, qp) }
func (h *activeHeap) Pop() any      { return popLast((*[]*QueuedPod)(h)) }
func (h backoffHeap) Len() int      { return len(h) }
func (h backoffHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *backoffHeap) Push(x any)   { qp := x.(*QueuedPod); qp.index = len(*h); *h = append(*h, qp) }
func (h *backoffHeap) Pop() any     { return popLast((*[]*QueuedPod)(h)) }

// backoffHeap: earliest backoff end first.
type backoffHeap []*QueuedPod

func (h backoffHeap) Less(i, j int) bool { return h[i].backoffEnd().Before(h[j].backoffEnd()) }

func popLast(h *[]*QueuedPod) any {
	old := *h
	qp := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	qp.index = -1
	return qp
}
