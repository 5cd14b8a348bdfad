package controlplane

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestTallyNodesNamesWhatAStartWaitsFor(t *testing.T) {
	node := func(ready corev1.ConditionStatus, taint string) any {
		n := &corev1.Node{}
		if ready != "" {
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
		}
		if taint != "" {
			n.Spec.Taints = []corev1.Taint{{Key: taint, Effect: corev1.TaintEffectNoSchedule}}
		}
		return n
	}
	for _, c := range []struct {
		name  string
		nodes []any
		ready int
		says  string
	}{
		{"none registered", nil, 0, "0 registered, 0 report Ready, 0 untainted (the node simulator registers them)"},
		{"registered, not reporting", []any{node("", corev1.TaintNodeNotReady), node(corev1.ConditionFalse, "")}, 0, "2 registered, 0 report Ready, 0 untainted (the node simulator reports them Ready)"},
		{"reporting, tainted", []any{node(corev1.ConditionTrue, corev1.TaintNodeNotReady), node(corev1.ConditionTrue, corev1.TaintNodeUnreachable)}, 0, "2 report Ready, 0 untainted (kube-controller-manager's"},
		{"one missing, one tainted: the wider gap is named", []any{node(corev1.ConditionTrue, corev1.TaintNodeNotReady)}, 0, "(the node simulator registers them)"},
		{"other taints do not count", []any{node(corev1.ConditionTrue, "example.com/gpu"), node(corev1.ConditionTrue, "")}, 2, "2 untainted"},
	} {
		got := tallyNodes(c.nodes)
		if got.ready != c.ready {
			t.Errorf("%s: %d ready, want %d", c.name, got.ready, c.ready)
		}
		if c.says != "" && !strings.Contains(got.waitingFor(2), c.says) {
			t.Errorf("%s: says %q, want it to contain %q", c.name, got.waitingFor(2), c.says)
		}
	}
}
