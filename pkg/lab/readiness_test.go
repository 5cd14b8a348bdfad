package lab

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/nodesim"
)

func simNode(name string, ready corev1.ConditionStatus, failed bool) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{nodesim.SimulatedLabel: "true"}}}
	if failed {
		n.Annotations = map[string]string{nodesim.FailureAnnotation: nodesim.FailureHeartbeat}
	}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "NodeStatusUnknown"}}
	}
	return n
}

func TestReadinessCountsTransitionsAwayFromReady(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	r := NewReadiness(clk)
	r.Observe(simNode("a", corev1.ConditionFalse, false)) // starts NotReady: not a transition
	r.Observe(simNode("b", corev1.ConditionTrue, false))
	r.Observe(simNode("c", corev1.ConditionTrue, false))
	r.Observe(simNode("d", corev1.ConditionTrue, false))
	r.Observe(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real"}}) // not simulated: ignored
	r.Sample()
	r.Observe(simNode("a", corev1.ConditionTrue, false)) // becoming Ready is fine
	clk.Step(time.Minute)
	r.Observe(simNode("b", corev1.ConditionUnknown, false)) // false NotReady
	r.Observe(simNode("b", corev1.ConditionUnknown, false)) // same state again: not counted twice
	r.Observe(simNode("c", corev1.ConditionFalse, true))    // failed on purpose
	r.Sample()
	r.Observe(simNode("b", corev1.ConditionTrue, false))
	r.Forget(simNode("d", "", false)) // a Ready node vanished
	r.Sample()

	s := r.Summarize(start, start.Add(time.Hour))
	if s.FalseNotReady != 2 || s.Deleted != 1 || s.Intentional != 1 || s.Nodes != 2 {
		t.Errorf("summary = %+v; want 2 false (b, deleted d), 1 intentional (c)", s)
	}
	if s.ReadyMin != 2 || s.ReadyMax != 3 {
		t.Errorf("ready min/max = %d/%d, want 2/3", s.ReadyMin, s.ReadyMax)
	}
	if s.Examples[0].Node != "b" || s.Examples[0].To != "Unknown" || !s.Examples[0].At.Equal(start.Add(time.Minute)) {
		t.Errorf("first example = %+v", s.Examples[0])
	}
	// Transitions before the window (start-up) do not count against it.
	if s := r.Summarize(start.Add(2*time.Minute), start.Add(time.Hour)); s.FalseNotReady != 0 {
		t.Errorf("window after the transitions counted %d", s.FalseNotReady)
	}
}

func TestReadinessWatchesThroughAnInformer(t *testing.T) {
	cs := fake.NewClientset(simNode("n1", corev1.ConditionTrue, false), simNode("n2", corev1.ConditionTrue, false))
	r := NewReadiness(clocktesting.NewFakeClock(time.Now()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, cs, time.Second); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, func() bool { return r.Current().Ready == 2 })
	if _, err := cs.CoreV1().Nodes().Update(ctx, simNode("n2", corev1.ConditionFalse, false), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return r.Current().Ready == 1 })
	if err := cs.CoreV1().Nodes().Delete(ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return r.Current().Total == 1 })
	s := r.Summarize(time.Time{}, time.Now().Add(time.Hour))
	if s.FalseNotReady != 2 || s.Deleted != 1 {
		t.Errorf("summary = %+v; want n2 NotReady and n1 deleted", s)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}
