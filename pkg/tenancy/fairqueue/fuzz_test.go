package fairqueue

import (
	"fmt"
	"testing"
	"time"
)

// FuzzQueueKeepsWorkqueueSemantics runs random operations against a model
// of client-go's workqueue contract: an item is never handed out while it
// is processing, never twice for one Add period, and every item added is
// eventually handed out; and no tenant ever has more than MaxInFlight
// items handed out (the first byte picks no cap, 1 or 2).
func FuzzQueueKeepsWorkqueueSemantics(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{3, 3, 3, 200, 201, 202, 0, 0, 0, 100, 100, 7})
	f.Add([]byte{1, 0, 3, 6, 32, 32, 32, 32, 48, 32, 0, 32, 48, 48, 32})
	f.Fuzz(func(t *testing.T, ops []byte) {
		q, clk := newQueue(t)
		if len(ops) > 0 {
			q.o.MaxInFlight = int(ops[0] % 3)
		}
		inFlight := map[string]int{}
		processing := map[item]bool{}
		pending := map[item]bool{} // added and not yet handed out since
		var held []item
		for _, op := range ops {
			it := item{fmt.Sprintf("t%d", op%3), fmt.Sprint(op % 5)}
			switch (op / 16) % 5 {
			case 0, 1:
				q.Add(it)
				pending[it] = true
			case 2:
				if ready(q, clk.Now()) {
					got := mustGet(t, q)
					if inFlight[got.tenant]++; q.o.MaxInFlight > 0 && inFlight[got.tenant] > q.o.MaxInFlight {
						t.Fatalf("tenant %s has %d items handed out, cap %d", got.tenant, inFlight[got.tenant], q.o.MaxInFlight)
					}
					if processing[got] {
						t.Fatalf("%v handed out while processing", got)
					}
					if !pending[got] {
						t.Fatalf("%v handed out without a pending Add", got)
					}
					delete(pending, got)
					processing[got] = true
					held = append(held, got)
				}
			case 3:
				if len(held) > 0 {
					done := held[0]
					held = held[1:]
					delete(processing, done)
					inFlight[done.tenant]--
					q.Done(done)
				}
			case 4:
				q.AddRateLimited(it)
				pending[it] = true
				clk.Step(10 * time.Second)
			}
		}
		for _, h := range held {
			delete(processing, h)
			q.Done(h)
		}
		clk.Step(time.Minute)
		for q.Len() > 0 || len(pending) > 0 {
			if !ready(q, clk.Now()) {
				t.Fatalf("pending %v never handed out (queued %d)", pending, q.Len())
			}
			got := mustGet(t, q)
			delete(pending, got)
			q.Done(got)
		}
	})
}

// ready says whether a Get would return at once: an item is due and its
// tenant is below its cap.
func ready(q *Queue[item], now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.promoteDue(now)
	return q.sched.ready()
}
