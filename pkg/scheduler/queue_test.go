package scheduler

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pendingPod(name string, prio int32, created time.Time) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec: v1.PodSpec{SchedulerName: "myriad", Priority: &prio, Containers: []v1.Container{{Name: "c", Image: "i",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")}}}}},
	}
}

// popNow pops without blocking; nil when nothing is active.
func popNow(t *testing.T, q *Queue) *QueuedPod {
	t.Helper()
	if a, _, _, _ := q.Lengths(); a == 0 {
		return nil
	}
	qp, err := q.Pop(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return qp
}

// lengths also checks that the parked and gated indexes hold exactly the
// pods whose place says so: the event scan trusts them.
func lengths(q *Queue) [4]int {
	a, b, p, g := q.Lengths()
	q.mu.Lock()
	defer q.mu.Unlock()
	var parked, gated int
	for _, qp := range q.pods {
		_, inP := q.parked[qp]
		_, inG := q.gated[qp]
		if inP != (qp.where == inParked) || inG != (qp.where == inGated) {
			panic("queue index out of step with pod " + qp.Pod.Name)
		}
		if inP {
			parked++
		}
		if inG {
			gated++
		}
	}
	if parked != len(q.parked) || gated != len(q.gated) {
		panic("queue index holds pods the queue does not")
	}
	return [4]int{a, b, p, g}
}

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	q := NewQueue(clocktesting.NewFakeClock(t0))
	q.Add(pendingPod("young-low", 0, t0.Add(2*time.Second)))
	q.Add(pendingPod("old-low", 0, t0))
	q.Add(pendingPod("high", 100, t0.Add(5*time.Second)))
	q.Add(pendingPod("negative", -5, t0.Add(-time.Hour)))
	var got []string
	for qp := popNow(t, q); qp != nil; qp = popNow(t, q) {
		got = append(got, qp.Pod.Name)
	}
	want := []string{"high", "old-low", "young-low", "negative"}
	if len(got) != len(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("popped %v, want %v", got, want)
		}
	}
}

func TestQueueBackoffDoublesToTenSeconds(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	q := NewQueue(clk)
	p := pendingPod("p", 0, t0)
	q.Add(p)
	for i, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		qp := popNow(t, q)
		if qp == nil {
			t.Fatalf("attempt %d: pod not active", i)
		}
		q.Requeue(qp, p, nil, false)
		clk.Step(want*time.Second - time.Millisecond)
		q.flush()
		if got := lengths(q); got != [4]int{0, 1, 0, 0} {
			t.Fatalf("attempt %d: %v before %ds backoff ended, want it in backoff", i, got, want)
		}
		clk.Step(time.Millisecond)
		q.flush()
		if got := lengths(q); got != [4]int{1, 0, 0, 0} {
			t.Fatalf("attempt %d: %v after %ds backoff, want it active", i, got, want)
		}
	}
}

func TestQueueParksUnschedulableUntilAnEventCouldHelp(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	q := NewQueue(clk)
	p := pendingPod("big", 0, t0)
	q.Add(p)
	cpu := &core.FitError{NumNodes: 3, Reasons: map[string]int{"Insufficient cpu": 3}}
	q.Requeue(popNow(t, q), p, cpu, false)
	clk.Step(time.Minute) // well past any backoff: parked pods wait for events, not time
	q.flush()
	if got := lengths(q); got != [4]int{0, 0, 1, 0} {
		t.Fatalf("after failure: %v, want parked", got)
	}
	q.Event(eventPodBound) // a newly bound pod only takes cpu away
	q.flush()
	if got := lengths(q); got != [4]int{0, 0, 1, 0} {
		t.Fatalf("after a pod was bound: %v, want still parked", got)
	}
	q.Add(p) // our own condition patch: status only
	if got := lengths(q); got != [4]int{0, 0, 1, 0} {
		t.Fatalf("after a status update: %v, want still parked", got)
	}
	q.Event(eventNodeChange)
	q.flush()
	if got := lengths(q); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("after a node was added: %v, want active", got)
	}

	// A pod waiting on pod affinity is helped by a bound pod.
	aff := &core.FitError{NumNodes: 3, Reasons: map[string]int{core.ReasonPodAffinity: 3}}
	q.Requeue(popNow(t, q), p, aff, false)
	q.Event(eventPodBound)
	clk.Step(10 * time.Second)
	q.flush()
	if got := lengths(q); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("affinity pod after a pod was bound: %v, want active", got)
	}

	// An event while the pod was being scheduled may be the one that makes
	// it fit: back off instead of parking, or it could wait forever.
	qp := popNow(t, q)
	q.Event(eventNodeChange)
	q.flush()
	q.Requeue(qp, p, cpu, false)
	if got := lengths(q); got != [4]int{0, 1, 0, 0} {
		t.Fatalf("failure racing an event: %v, want backoff", got)
	}

	// The safety net: a parked pod is retried after maxParked anyway.
	clk.Step(time.Minute)
	q.flush()
	q.Requeue(popNow(t, q), p, cpu, false)
	clk.Step(maxParked)
	q.flush()
	if got := lengths(q); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("after %s parked: %v, want active", maxParked, got)
	}
}

func TestQueueHoldsGatedPodsUntilGatesGo(t *testing.T) {
	q := NewQueue(clocktesting.NewFakeClock(t0))
	p := pendingPod("gated", 0, t0)
	p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/wait"}}
	q.Add(p)
	if got := lengths(q); got != [4]int{0, 0, 0, 1} {
		t.Fatalf("gated pod: %v, want gated", got)
	}
	open := p.DeepCopy()
	open.Spec.SchedulingGates = nil
	q.Add(open)
	if got := lengths(q); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("after gates removed: %v, want active", got)
	}
}

func TestQueueDropsDeletedPods(t *testing.T) {
	q := NewQueue(clocktesting.NewFakeClock(t0))
	a, b := pendingPod("a", 0, t0), pendingPod("b", 0, t0)
	q.Add(a)
	q.Add(b)
	q.Delete(a)
	qp := popNow(t, q)
	if qp == nil || qp.Pod.Name != "b" {
		t.Fatalf("popped %v, want b", qp)
	}
	q.Delete(b) // deleted while in flight: a requeue must not resurrect it
	q.Requeue(qp, b, nil, true)
	if got := lengths(q); got != [4]int{} {
		t.Fatalf("after deletes: %v, want empty", got)
	}
}
