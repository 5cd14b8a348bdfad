package fairqueue

import "container/heap"

// strideUnit is the virtual time one item of a weight-1 tenant costs. It
// is divisible by every weight up to 16 and large enough that rounding
// for other weights (up to 100) is below one part in a million.
const strideUnit = 720720 * 4096

// scheduler holds the tenants that have items queued, ordered by virtual
// pass (then by when they were last served, so equal tenants alternate).
type scheduler[T comparable] struct {
	byName map[string]*tenantQueue[T]
	active tenantHeap[T]
	vtime  uint64 // pass of the tenant served last
	seq    uint64
	total  int
}

type tenantQueue[T comparable] struct {
	name   string
	weight int
	pass   uint64
	seq    uint64
	i      int
	parked bool // out of turn: at its in-flight cap
	items  fifo[T]
}

func newScheduler[T comparable]() scheduler[T] {
	return scheduler[T]{byName: map[string]*tenantQueue[T]{}}
}

func stride(w int) uint64 { return strideUnit / uint64(w) }

func (s *scheduler[T]) setWeight(tenant string, w int) {
	if t, ok := s.byName[tenant]; ok {
		t.weight = w
	}
}

// push queues item for tenant and returns the tenant's queue length.
func (s *scheduler[T]) push(tenant string, w int, item T) int {
	t, ok := s.byName[tenant]
	if !ok {
		// A tenant becoming busy starts at the current virtual time: no
		// credit for idling, no debt from before.
		s.seq++
		t = &tenantQueue[T]{name: tenant, weight: w, pass: s.vtime, seq: s.seq}
		s.byName[tenant] = t
		heap.Push(&s.active, t)
	}
	t.items.push(item)
	s.total++
	return t.items.len()
}

// park takes a tenant with items out of turn, keeping its items and pass.
func (s *scheduler[T]) park(tenant string) {
	if t, ok := s.byName[tenant]; ok && !t.parked {
		heap.Remove(&s.active, t.i)
		t.parked = true
	}
}

// unpark gives a parked tenant its turns back, from no earlier than the
// current virtual time: waiting at its cap earns it no credit.
func (s *scheduler[T]) unpark(tenant string) {
	if t, ok := s.byName[tenant]; ok && t.parked {
		t.parked = false
		t.pass = max(t.pass, s.vtime)
		heap.Push(&s.active, t)
	}
}

// pop serves the tenant of the smallest pass.
func (s *scheduler[T]) pop() (tenant string, item T, left int, ok bool) {
	if len(s.active) == 0 {
		return "", item, 0, false
	}
	t := s.active[0]
	item = t.items.pop()
	s.total--
	s.vtime = t.pass
	t.pass += stride(t.weight)
	s.seq++
	t.seq = s.seq
	if t.items.len() == 0 {
		heap.Pop(&s.active)
		delete(s.byName, t.name)
	} else {
		heap.Fix(&s.active, 0)
	}
	return t.name, item, t.items.len(), true
}

func (s *scheduler[T]) remove(tenant string) {
	t, ok := s.byName[tenant]
	if !ok {
		return
	}
	if !t.parked {
		heap.Remove(&s.active, t.i)
	}
	delete(s.byName, tenant)
	s.total -= t.items.len()
}

func (s *scheduler[T]) len() int { return s.total }

// ready says whether a tenant not at its cap has items.
func (s *scheduler[T]) ready() bool { return len(s.active) > 0 }

func (s *scheduler[T]) tenantLen(tenant string) int {
	if t, ok := s.byName[tenant]; ok {
		return t.items.len()
	}
	return 0
}

type tenantHeap[T comparable] []*tenantQueue[T]

func (h tenantHeap[T]) Len() int { return len(h) }
func (h tenantHeap[T]) Less(i, j int) bool {
	if h[i].pass != h[j].pass {
		return h[i].pass < h[j].pass
	}
	return h[i].seq < h[j].seq
}
func (h tenantHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i, j
}
func (h *tenantHeap[T]) Push(x any) {
	t := x.(*tenantQueue[T])
	t.i = len(*h)
	*h = append(*h, t)
}
func (h *tenantHeap[T]) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// fifo is a slice queue that gives its memory back as it drains.
type fifo[T any] struct {
	items []T
	head  int
}

func (f *fifo[T]) push(item T) { f.items = append(f.items, item) }
func (f *fifo[T]) len() int    { return len(f.items) - f.head }

func (f *fifo[T]) pop() T {
	var zero T
	item := f.items[f.head]
	f.items[f.head] = zero
	f.head++
	if f.head == len(f.items) {
		f.items, f.head = f.items[:0], 0
	} else if f.head >= 64 && f.head*2 >= len(f.items) {
		// Copy the live tail down so the slice does not keep growing
		// while a busy tenant is served and refilled.
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items, f.head = f.items[:n], 0
	}
	return item
}
