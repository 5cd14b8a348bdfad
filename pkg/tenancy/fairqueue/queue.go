package fairqueue

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Observer hears what the queue does, for metrics. It is called with the
// queue's lock held, so it must be quick and must not call the queue.
type Observer interface {
	// Waited is how long an item waited between its (first) Add and the
	// Get that handed it out.
	Waited(tenant string, d time.Duration)
	// Depth is a tenant's count of queued items after it changed.
	Depth(tenant string, n int)
}

// Options configure a Queue.
type Options[T comparable] struct {
	// TenantOf says which tenant an item's work is charged to.
	TenantOf func(T) string
	// Clock drives backoff and wait times; nil is the real clock.
	Clock clock.Clock
	// BaseDelay and MaxDelay bound AddRateLimited's backoff: the n-th
	// consecutive failure of a key waits BaseDelay*2^(n-1), at most
	// MaxDelay. Zero values are 5ms and 1000s, as client-go's.
	BaseDelay, MaxDelay time.Duration
	// MaxInFlight caps how many of one tenant's items are handed out at
	// once (0: no cap). With it, a tenant whose work hangs (its API
	// server stopped) holds at most that many workers; the others keep
	// serving everyone else.
	MaxInFlight int
	// Observer is optional.
	Observer Observer
}

// Queue is a weighted fair work queue. Its zero value is not usable; call
// New.
type Queue[T comparable] struct {
	o Options[T]

	mu         sync.Mutex
	sched      scheduler[T]
	weights    map[string]int
	dirty      map[T]time.Time // queued, or to queue again on Done; when first added
	processing map[T]struct{}
	inFlight   map[string]int // per tenant, when MaxInFlight is set
	failures   map[T]int
	delayed    delayHeap[T]
	shutdown   bool

	// wake holds at most one token; a waiting Get that takes it looks
	// again and passes it on if work remains, so every waiter is woken by
	// a chain rather than a broadcast.
	wake chan struct{}
	done chan struct{}
}

// New returns an empty queue.
func New[T comparable](o Options[T]) *Queue[T] {
	if o.TenantOf == nil {
		panic("fairqueue: Options.TenantOf is required")
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 5 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 1000 * time.Second
	}
	return &Queue[T]{
		o:          o,
		sched:      newScheduler[T](),
		weights:    map[string]int{},
		dirty:      map[T]time.Time{},
		processing: map[T]struct{}{},
		inFlight:   map[string]int{},
		failures:   map[T]int{},
		delayed:    newDelayHeap[T](),
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
}

// SetWeight sets a tenant's share; weights below 1 count as 1. Tenants
// never given one weigh 1.
func (q *Queue[T]) SetWeight(tenant string, w int) {
	if w < 1 {
		w = 1
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.weights[tenant] = w
	q.sched.setWeight(tenant, w)
}

// Add queues item unless it is already queued. An item being processed is
// queued again when Done is called for it.
func (q *Queue[T]) Add(item T) {
	q.mu.Lock()
	queued := q.addLocked(item, q.o.Clock.Now())
	q.mu.Unlock()
	if queued {
		q.signal()
	}
}

func (q *Queue[T]) addLocked(item T, now time.Time) bool {
	if q.shutdown {
		return false
	}
	if _, ok := q.dirty[item]; ok {
		return false
	}
	q.dirty[item] = now
	if _, ok := q.processing[item]; ok {
		return false
	}
	q.push(item)
	return true
}

func (q *Queue[T]) push(item T) {
	tenant := q.o.TenantOf(item)
	w, ok := q.weights[tenant]
	if !ok {
		w = 1
	}
	n := q.sched.push(tenant, w, item)
	if q.atCap(tenant) {
		q.sched.park(tenant)
	}
	if q.o.Observer != nil {
		q.o.Observer.Depth(tenant, n)
	}
}

// Get blocks until an item is ready and hands it out, marked processing;
// the caller must call Done with it. ok is false once the queue is shut
// down; items still queued then are dropped (the work is level-based and
// recomputed from caches at the next start).
func (q *Queue[T]) Get() (item T, ok bool) {
	for {
		q.mu.Lock()
		if q.shutdown {
			q.mu.Unlock()
			return item, false
		}
		now := q.o.Clock.Now()
		q.promoteDue(now)
		if tenant, it, n, found := q.sched.pop(); found {
			added := q.dirty[it]
			delete(q.dirty, it)
			q.processing[it] = struct{}{}
			if q.o.MaxInFlight > 0 {
				q.inFlight[tenant]++
				if q.atCap(tenant) {
					q.sched.park(tenant)
				}
			}
			if q.o.Observer != nil {
				q.o.Observer.Waited(tenant, now.Sub(added))
				q.o.Observer.Depth(tenant, n)
			}
			more := q.sched.ready()
			q.mu.Unlock()
			if more {
				q.signal()
			}
			return it, true
		}
		var timer clock.Timer
		var fire <-chan time.Time
		if at, found := q.delayed.next(); found {
			timer = q.o.Clock.NewTimer(at.Sub(now))
			fire = timer.C()
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-fire:
		case <-q.done:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Done marks item processed; if it was added meanwhile it is queued again.
func (q *Queue[T]) Done(item T) {
	q.mu.Lock()
	delete(q.processing, item)
	freed := false
	if q.o.MaxInFlight > 0 {
		tenant := q.o.TenantOf(item)
		if q.inFlight[tenant]--; q.inFlight[tenant] <= 0 {
			delete(q.inFlight, tenant)
		}
		if !q.atCap(tenant) {
			q.sched.unpark(tenant)
			freed = q.sched.tenantLen(tenant) > 0
		}
	}
	_, again := q.dirty[item]
	if again && !q.shutdown {
		q.push(item)
	}
	q.mu.Unlock()
	if again || freed {
		q.signal()
	}
}

// atCap says whether tenant has MaxInFlight items handed out.
func (q *Queue[T]) atCap(tenant string) bool {
	return q.o.MaxInFlight > 0 && q.inFlight[tenant] >= q.o.MaxInFlight
}

// ShutDown makes every Get return ok=false and every Add a no-op.
func (q *Queue[T]) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.shutdown {
		q.shutdown = true
		close(q.done)
	}
}

// ShuttingDown reports whether ShutDown was called.
func (q *Queue[T]) ShuttingDown() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shutdown
}

// Len is the number of items queued and ready (delayed ones once their
// time has come; not those processing).
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.promoteDue(q.o.Clock.Now())
	return q.sched.len()
}

// TenantLen is the number of a tenant's items queued and ready.
func (q *Queue[T]) TenantLen(tenant string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sched.tenantLen(tenant)
}

// RemoveTenant forgets a tenant that is no longer served: its queued and
// delayed items, their failure counts and its weight. Items it has being
// processed are not queued again on Done.
func (q *Queue[T]) RemoveTenant(tenant string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sched.remove(tenant)
	delete(q.weights, tenant)
	for item := range q.dirty {
		if q.o.TenantOf(item) == tenant {
			delete(q.dirty, item)
		}
	}
	for item := range q.failures {
		if q.o.TenantOf(item) == tenant {
			delete(q.failures, item)
		}
	}
	q.delayed.removeIf(func(item T) bool { return q.o.TenantOf(item) == tenant })
	if q.o.Observer != nil {
		q.o.Observer.Depth(tenant, 0)
	}
}

func (q *Queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
