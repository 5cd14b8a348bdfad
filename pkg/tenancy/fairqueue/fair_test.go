package fairqueue

import (
	"fmt"
	"testing"
)

// A tenant that arrives behind a backlog of another is not starved: with
// equal weights its ten items are all served within the next twenty Gets.
func TestNewcomerIsServedPromptlyBehindABacklog(t *testing.T) {
	q, _ := newQueue(t)
	for i := range 9000 {
		q.Add(item{"big", fmt.Sprint(i)})
	}
	// The big tenant has been served a while before the newcomer arrives.
	for range 100 {
		q.Done(mustGet(t, q))
	}
	for i := range 10 {
		q.Add(item{"small", fmt.Sprint(i)})
	}
	served := 0
	for g := 1; g <= 20; g++ {
		it := mustGet(t, q)
		q.Done(it)
		if it.tenant == "small" {
			served++
		}
	}
	if served != 10 {
		t.Fatalf("small tenant served %d of 10 items in 20 gets", served)
	}
}

// Weights share service in proportion while both tenants have work.
func TestWeightsShareServiceInProportion(t *testing.T) {
	for _, tc := range []struct{ a, b int }{{2, 1}, {1, 1}, {3, 1}, {100, 1}, {7, 5}} {
		t.Run(fmt.Sprintf("%d:%d", tc.a, tc.b), func(t *testing.T) {
			q, _ := newQueue(t)
			q.SetWeight("a", tc.a)
			q.SetWeight("b", tc.b)
			for i := range 50000 {
				q.Add(item{"a", fmt.Sprint(i)})
				q.Add(item{"b", fmt.Sprint(i)})
			}
			n := map[string]int{}
			gets := 200 * (tc.a + tc.b)
			for range gets {
				it := mustGet(t, q)
				q.Done(it)
				n[it.tenant]++
			}
			got := float64(n["a"]) / float64(n["b"])
			want := float64(tc.a) / float64(tc.b)
			if got < want*0.98 || got > want*1.02 {
				t.Fatalf("served a:b = %d:%d (%.3f), want %.3f", n["a"], n["b"], got, want)
			}
		})
	}
}

// Idling earns no credit: a tenant that was away does not get a burst
// that shuts the others out when it comes back.
func TestIdleTenantEarnsNoCredit(t *testing.T) {
	q, _ := newQueue(t)
	q.Add(item{"b", "0"})
	q.Done(mustGet(t, q))
	for i := range 1000 {
		q.Add(item{"a", fmt.Sprint(i)})
	}
	for range 500 {
		q.Done(mustGet(t, q))
	}
	for i := range 100 {
		q.Add(item{"b", fmt.Sprint(i + 1)})
	}
	n := map[string]int{}
	for range 20 {
		it := mustGet(t, q)
		q.Done(it)
		n[it.tenant]++
	}
	if n["a"] < 9 || n["b"] < 9 {
		t.Fatalf("served %v in 20 gets, want them to alternate", n)
	}
}

// A drained tenant leaves no state behind.
func TestDrainedTenantLeavesNoState(t *testing.T) {
	q, _ := newQueue(t)
	for i := range 1000 {
		q.Add(item{fmt.Sprintf("t%d", i), "x"})
	}
	for q.Len() > 0 {
		q.Done(mustGet(t, q))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.sched.byName) != 0 || len(q.sched.active) != 0 || len(q.dirty) != 0 || len(q.processing) != 0 {
		t.Fatalf("state left: %d tenants, %d active, %d dirty, %d processing",
			len(q.sched.byName), len(q.sched.active), len(q.dirty), len(q.processing))
	}
}

func BenchmarkAddGetDone(b *testing.B) {
	q := New(Options[item]{TenantOf: tenantOf})
	defer q.ShutDown()
	keys := make([]item, 10000)
	for i := range keys {
		keys[i] = item{fmt.Sprintf("t%d", i%50), fmt.Sprint(i)}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q.Add(keys[i%len(keys)])
		it, _ := q.Get()
		q.Done(it)
	}
}
