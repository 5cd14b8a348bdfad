package nodesim

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// dispatcher hands node indexes to a bounded worker pool when they fall due.
// One goroutine and one timer serve every node: a min-heap keyed by due time
// costs O(log n) per heartbeat, where a timer per node would cost 10^4
// runtime timers and goroutines.
//
// Each node is in one of three states: idle (not scheduled), queued (in the
// heap) or running (a worker holds it). A node is never run by two workers
// at once, so the worker may touch its per-node state without locks.
type dispatcher struct {
	clock clock.WithTicker
	run   func(ctx context.Context, i int, due time.Time) (next time.Time, again bool)

	mu    sync.Mutex
	h     dueHeap
	state []nodeState
	kick  []time.Time // for running nodes: schedule again no later than this
	wake  chan struct{}
	busy  int // running nodes
}

type nodeState uint8

const (
	stateIdle nodeState = iota
	stateQueued
	stateRunning
)

func newDispatcher(c clock.WithTicker, n int, run func(context.Context, int, time.Time) (time.Time, bool)) *dispatcher {
	return &dispatcher{
		clock: c,
		run:   run,
		h:     dueHeap{due: make([]time.Time, n), pos: make([]int, n)},
		state: make([]nodeState, n),
		kick:  make([]time.Time, n),
		wake:  make(chan struct{}, 1),
	}
}

// schedule makes node i due no later than at.
func (d *dispatcher) schedule(i int, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scheduleLocked(i, at)
}

func (d *dispatcher) scheduleLocked(i int, at time.Time) {
	switch d.state[i] {
	case stateIdle:
		d.h.due[i] = at
		heap.Push(&d.h, i)
		d.state[i] = stateQueued
	case stateQueued:
		if at.Before(d.h.due[i]) {
			d.h.due[i] = at
			heap.Fix(&d.h, d.h.pos[i])
		}
	case stateRunning:
		if d.kick[i].IsZero() || at.Before(d.kick[i]) {
			d.kick[i] = at
		}
	}
	d.poke()
}

// poke makes the loop look at the heap again.
func (d *dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// loop pops due nodes and feeds workers until ctx is done; it returns once
// every worker has stopped.
func (d *dispatcher) loop(ctx context.Context, workers int) {
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				next, again := d.run(ctx, j.i, j.due)
				d.finish(j.i, next, again)
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)
	for {
		d.mu.Lock()
		var wait time.Duration = -1
		var j job
		ready := false
		if d.h.Len() > 0 {
			i := d.h.idx[0]
			if w := d.h.due[i].Sub(d.clock.Now()); w > 0 {
				wait = w
			} else {
				heap.Pop(&d.h)
				d.state[i] = stateRunning
				d.busy++
				j, ready = job{i, d.h.due[i]}, true
			}
		}
		d.mu.Unlock()
		if ready {
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
			continue
		}
		var timeout <-chan time.Time
		var t clock.Timer
		if wait >= 0 {
			t = d.clock.NewTimer(wait)
			timeout = t.C()
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return
		case <-d.wake:
		case <-timeout:
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (d *dispatcher) finish(i int, next time.Time, again bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.busy--
	d.state[i] = stateIdle
	k := d.kick[i]
	d.kick[i] = time.Time{}
	switch {
	case !k.IsZero() && (!again || k.Before(next)):
		d.scheduleLocked(i, k)
	case again:
		d.scheduleLocked(i, next)
	}
}

// idle reports whether nothing is due and nothing is running (for tests).
func (d *dispatcher) idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy > 0 {
		return false
	}
	return d.h.Len() == 0 || d.h.due[d.h.idx[0]].After(d.clock.Now())
}

// dueHeap is a min-heap of node indexes by due time, tracking each node's
// position so a recovery can move it to the front with heap.Fix.
type dueHeap struct {
	idx []int
	due []time.Time // by node index
	pos []int       // by node index
}

func (h dueHeap) Len() int           { return len(h.idx) }
func (h dueHeap) Less(a, b int) bool { return h.due[h.idx[a]].Before(h.due[h.idx[b]]) }
func (h dueHeap) Swap(a, b int) {
	h.idx[a], h.idx[b] = h.idx[b], h.idx[a]
	h.pos[h.idx[a]] = a
	h.pos[h.idx[b]] = b
}
func (h *dueHeap) Push(x any) {
	i := x.(int)
	h.pos[i] = len(h.idx)
	h.idx = append(h.idx, i)
}
func (h *dueHeap) Pop() any {
	n := len(h.idx) - 1
	i := h.idx[n]
	h.idx = h.idx[:n]
	h.pos[i] = -1
	return i
}
