package fairqueue

import (
	"container/heap"
	"time"
)

// AddAfter queues item once d has passed. An item already waiting keeps
// the earlier of its two times.
func (q *Queue[T]) AddAfter(item T, d time.Duration) {
	if d <= 0 {
		q.Add(item)
		return
	}
	q.mu.Lock()
	if q.shutdown {
		q.mu.Unlock()
		return
	}
	first := q.delayed.add(item, q.o.Clock.Now().Add(d))
	q.mu.Unlock()
	if first {
		// A waiting Get may be sleeping until a later item; let it
		// recompute its timer.
		q.signal()
	}
}

// AddRateLimited queues item after its backoff: BaseDelay doubled for
// each consecutive failure since the last Forget, at most MaxDelay.
func (q *Queue[T]) AddRateLimited(item T) {
	q.mu.Lock()
	n := q.failures[item]
	q.failures[item] = n + 1
	q.mu.Unlock()
	q.AddAfter(item, backoff(q.o.BaseDelay, q.o.MaxDelay, n))
}

// Forget clears item's failure count: call it when the item succeeded.
func (q *Queue[T]) Forget(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, item)
}

// NumRequeues is item's count of failures since the last Forget.
func (q *Queue[T]) NumRequeues(item T) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[item]
}

func backoff(base, max time.Duration, failures int) time.Duration {
	d := base
	for i := 0; i < failures; i++ {
		if d >= max/2 {
			return max
		}
		d *= 2
	}
	if d > max {
		return max
	}
	return d
}

// promoteDue moves the delayed items whose time has come into the queue.
func (q *Queue[T]) promoteDue(now time.Time) {
	for {
		at, ok := q.delayed.next()
		if !ok || at.After(now) {
			return
		}
		q.addLocked(q.delayed.pop(), now)
	}
}

// delayHeap is the items waiting for a time, earliest first, each once.
type delayHeap[T comparable] struct {
	h     delayed[T]
	index map[T]*waiting[T]
}

type waiting[T comparable] struct {
	item T
	at   time.Time
	i    int
}

func newDelayHeap[T comparable]() delayHeap[T] {
	return delayHeap[T]{index: map[T]*waiting[T]{}}
}

// add reports whether item became the earliest.
func (d *delayHeap[T]) add(item T, at time.Time) bool {
	if w, ok := d.index[item]; ok {
		if !at.Before(w.at) {
			return false
		}
		w.at = at
		heap.Fix(&d.h, w.i)
	} else {
		w := &waiting[T]{item: item, at: at}
		d.index[item] = w
		heap.Push(&d.h, w)
	}
	return d.h[0].item == item
}

func (d *delayHeap[T]) next() (time.Time, bool) {
	if len(d.h) == 0 {
		return time.Time{}, false
	}
	return d.h[0].at, true
}

func (d *delayHeap[T]) pop() T {
	w := heap.Pop(&d.h).(*waiting[T])
	delete(d.index, w.item)
	return w.item
}

func (d *delayHeap[T]) removeIf(drop func(T) bool) {
	kept := d.h[:0]
	for _, w := range d.h {
		if drop(w.item) {
			delete(d.index, w.item)
			continue
		}
		kept = append(kept, w)
	}
	for i := len(kept); i < len(d.h); i++ {
		d.h[i] = nil
	}
	d.h = kept
	for i, w := range d.h {
		w.i = i
	}
	heap.Init(&d.h)
}

type delayed[T comparable] []*waiting[T]

func (h delayed[T]) Len() int           { return len(h) }
func (h delayed[T]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h delayed[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i, j
}
func (h *delayed[T]) Push(x any) {
	w := x.(*waiting[T])
	w.i = len(*h)
	*h = append(*h, w)
}
func (h *delayed[T]) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return w
}
