package fairqueue

import (
	"fmt"
	"testing"
	"time"
)

// FuzzQueueKeepsWorkqueueSemantics runs random operations against a model
// of client-go's workqueue contract: an item is never handed out while it
// is processing, never twice for one Add period, and every item added is
// eventually handed out; and no tenant with work waits more than one turn
// of every other busy tenant (with equal weights).
func FuzzQueueKeepsWorkqueueSemantics(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{3, 3, 3, 200, 201, 202, 0, 0, 0, 100, 100, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		q, clk := newQueue(t)
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
				if q.Len() > 0 {
					got := mustGet(t, q)
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
			if q.Len() == 0 {
				q.mu.Lock()
				q.promoteDue(clk.Now())
				q.mu.Unlock()
				if q.Len() == 0 {
					t.Fatalf("pending %v never handed out", pending)
				}
			}
			got := mustGet(t, q)
			delete(pending, got)
			q.Done(got)
		}
	})
}
