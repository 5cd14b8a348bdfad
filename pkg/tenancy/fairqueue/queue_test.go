package fairqueue

import (
	"fmt"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// item is a work key: the tenant it is charged to and a name.
type item struct{ tenant, name string }

func tenantOf(i item) string { return i.tenant }

func newQueue(t *testing.T) (*Queue[item], *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	q := New(Options[item]{TenantOf: tenantOf, Clock: clk, BaseDelay: time.Second, MaxDelay: 8 * time.Second})
	t.Cleanup(q.ShutDown)
	return q, clk
}

func mustGet(t *testing.T, q *Queue[item]) item {
	t.Helper()
	if q.Len() == 0 {
		t.Fatal("Get on an empty queue would block")
	}
	it, ok := q.Get()
	if !ok {
		t.Fatal("queue shut down")
	}
	return it
}

// A key added twice while queued is handed out once.
func TestPendingKeyIsQueuedOnce(t *testing.T) {
	q, _ := newQueue(t)
	a := item{"t1", "a"}
	q.Add(a)
	q.Add(a)
	q.Add(item{"t1", "b"})
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
	if got := mustGet(t, q); got != a {
		t.Fatalf("first = %v, want %v (FIFO within a tenant)", got, a)
	}
}

// A key added while it is being processed is not handed to a second
// worker; it comes back once, after Done.
func TestKeyAddedWhileProcessingIsRequeuedAfterDone(t *testing.T) {
	q, _ := newQueue(t)
	a := item{"t1", "a"}
	q.Add(a)
	got := mustGet(t, q)
	q.Add(a)
	q.Add(a)
	if q.Len() != 0 {
		t.Fatalf("Len = %d while %v is processing, want 0", q.Len(), a)
	}
	q.Done(got)
	if q.Len() != 1 {
		t.Fatalf("Len = %d after Done, want 1", q.Len())
	}
	if again := mustGet(t, q); again != a {
		t.Fatalf("got %v, want %v", again, a)
	}
	q.Done(a)
	if q.Len() != 0 {
		t.Fatalf("Len = %d, want 0", q.Len())
	}
}

// Backoff doubles per failure up to the maximum, and Forget resets it.
func TestAddRateLimitedBacksOffExponentially(t *testing.T) {
	q, clk := newQueue(t)
	a := item{"t1", "a"}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		q.AddRateLimited(a)
		clk.Step(want - time.Millisecond)
		q.mu.Lock()
		q.promoteDue(clk.Now())
		q.mu.Unlock()
		if q.Len() != 0 {
			t.Fatalf("failure %d: ready before %v", i+1, want)
		}
		clk.Step(time.Millisecond)
		if got := mustGet(t, q); got != a {
			t.Fatalf("got %v", got)
		}
		q.Done(a)
	}
	if q.NumRequeues(a) != 5 {
		t.Fatalf("NumRequeues = %d, want 5", q.NumRequeues(a))
	}
	q.Forget(a)
	q.AddRateLimited(a)
	clk.Step(time.Second)
	if got := mustGet(t, q); got != a {
		t.Fatalf("after Forget the first backoff is the base: got %v", got)
	}
}

// A Get blocked on an empty queue wakes when a delayed item's time comes.
func TestBlockedGetWakesForDelayedItem(t *testing.T) {
	q, clk := newQueue(t)
	a := item{"t1", "a"}
	q.AddAfter(a, 3*time.Second)
	got := make(chan item)
	go func() {
		it, _ := q.Get()
		got <- it
	}()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(3 * time.Second)
	select {
	case it := <-got:
		if it != a {
			t.Fatalf("got %v", it)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get did not wake")
	}
}

// ShutDown releases every blocked Get.
func TestShutDownReleasesGets(t *testing.T) {
	q, _ := newQueue(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, ok := q.Get(); ok {
				t.Error("Get returned an item from an empty queue")
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	q.ShutDown()
	wg.Wait()
	q.Add(item{"t1", "a"})
	if q.Len() != 0 {
		t.Fatal("Add after ShutDown queued")
	}
}

// Many workers each get distinct items, and every item is served.
func TestConcurrentWorkersServeEveryItemOnce(t *testing.T) {
	q, _ := newQueue(t)
	const n = 2000
	var mu sync.Mutex
	seen := map[item]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				it, ok := q.Get()
				if !ok {
					return
				}
				mu.Lock()
				seen[it]++
				done := len(seen) == n
				mu.Unlock()
				q.Done(it)
				if done {
					q.ShutDown()
				}
			}
		})
	}
	for i := range n {
		q.Add(item{fmt.Sprintf("t%d", i%7), fmt.Sprint(i)})
	}
	wg.Wait()
	for it, c := range seen {
		if c != 1 {
			t.Errorf("%v served %d times", it, c)
		}
	}
	if len(seen) != n {
		t.Fatalf("served %d of %d", len(seen), n)
	}
}

type recorder struct {
	waits map[string][]time.Duration
	depth map[string]int
}

func (r *recorder) Waited(tenant string, d time.Duration) {
	r.waits[tenant] = append(r.waits[tenant], d)
}
func (r *recorder) Depth(tenant string, n int) { r.depth[tenant] = n }

// The observer hears each item's wait from its first Add, and depths.
func TestObserverHearsWaitAndDepth(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	rec := &recorder{waits: map[string][]time.Duration{}, depth: map[string]int{}}
	q := New(Options[item]{TenantOf: tenantOf, Clock: clk, Observer: rec})
	defer q.ShutDown()
	q.Add(item{"t1", "a"})
	clk.Step(2 * time.Second)
	q.Add(item{"t1", "a"}) // deduplicated: the wait counts from the first Add
	q.Add(item{"t1", "b"})
	if rec.depth["t1"] != 2 {
		t.Fatalf("depth = %d, want 2", rec.depth["t1"])
	}
	clk.Step(time.Second)
	mustGet(t, q)
	if w := rec.waits["t1"]; len(w) != 1 || w[0] != 3*time.Second {
		t.Fatalf("waits = %v, want [3s]", w)
	}
	if rec.depth["t1"] != 1 {
		t.Fatalf("depth = %d, want 1", rec.depth["t1"])
	}
}

// Removing a tenant drops its queued, delayed and processing-requeue
// items and leaves the others alone.
func TestRemoveTenantDropsItsWork(t *testing.T) {
	q, clk := newQueue(t)
	q.Add(item{"gone", "a"})
	q.Add(item{"gone", "b"})
	q.AddAfter(item{"gone", "c"}, time.Second)
	q.Add(item{"kept", "a"})
	q.Add(item{"gone", "p"})
	var p item
	for p = mustGet(t, q); p.name != "p"; p = mustGet(t, q) {
		q.Done(p)
		if p.tenant == "kept" {
			q.Add(p)
			break
		}
	}
	q.RemoveTenant("gone")
	clk.Step(time.Second)
	for q.Len() > 0 {
		if it := mustGet(t, q); it.tenant == "gone" && it.name != "p" {
			t.Fatalf("served %v of a removed tenant", it)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for it := range q.dirty {
		if it.tenant == "gone" {
			t.Fatalf("%v still pending", it)
		}
	}
}

// A tenant at its in-flight cap waits out of turn while others are
// served, and gets its turn back when one of its items is done.
func TestTenantAtItsCapHoldsNoMoreWorkers(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	q := New(Options[item]{TenantOf: tenantOf, Clock: clk, MaxInFlight: 2})
	t.Cleanup(q.ShutDown)
	for i := range 5 {
		q.Add(item{"hung", fmt.Sprint(i)})
	}
	q.Add(item{"other", "a"})
	var got []item
	for range 3 {
		got = append(got, mustGet(t, q))
	}
	hung := 0
	for _, it := range got {
		if it.tenant == "hung" {
			hung++
		}
	}
	if hung != 2 || got[0].tenant != "hung" {
		t.Fatalf("handed out %v; want two of hung's and other's", got)
	}
	next := make(chan item, 1)
	go func() {
		it, _ := q.Get()
		next <- it
	}()
	q.Add(item{"other", "b"}) // the only tenant not at its cap
	if it := <-next; it != (item{"other", "b"}) {
		t.Fatalf("got %v while hung was at its cap", it)
	}
	go func() {
		it, _ := q.Get()
		next <- it
	}()
	select {
	case it := <-next:
		t.Fatalf("got %v: hung is at its cap", it)
	case <-time.After(50 * time.Millisecond):
	}
	q.Done(got[0])
	select {
	case it := <-next:
		if it.tenant != "hung" {
			t.Fatalf("got %v", it)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a freed slot did not wake a waiting Get")
	}
	// An item added for a tenant at its cap waits too.
	q.Add(item{"hung", "late"})
	if q.Len() != 3 {
		t.Fatalf("queued %d, want hung's two left and the late one", q.Len())
	}
}
