package podorder

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

func TestScatterSpreads(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 8 {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint(i), Labels: map[string]string{}}}
		if i >= 6 {
			pod.Labels["zone"] = "a"
		}
		pods = append(pods, pod)
	}
	out := Scatter(pods, func(p *corev1.Pod) *corev1.Pod { return p }, pub.UpdateScatterTerm{Key: "zone", Value: "a"})
	var pos []int
	for i, p := range out {
		if p.Labels["zone"] == "a" {
			pos = append(pos, i)
		}
	}
	if fmt.Sprint(pos) != "[2 6]" || len(out) != 8 {
		t.Fatalf("scattered positions %v of %d, want [2 6] of 8", pos, len(out))
	}
}

func TestRank(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": "web", "order": "7"}}}
	w := &pub.UpdatePriorityStrategy{WeightPriority: []pub.UpdatePriorityWeightTerm{
		{Weight: 50, MatchSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}},
		{Weight: 30, MatchSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "db"}}},
	}}
	if got := NewRanker(w).Rank(pod); fmt.Sprint(got) != "[50]" {
		t.Fatalf("weight priority %v, want [50]", got)
	}
	o := &pub.UpdatePriorityStrategy{OrderPriority: []pub.UpdatePriorityOrderTerm{{OrderedKey: "order"}, {OrderedKey: "missing"}}}
	if got := NewRanker(o).Rank(pod); got[0] != 7 || got[1] != -1<<63 {
		t.Fatalf("order priority %v, want [7 min]", got)
	}
	if got := NewRanker(nil).Rank(pod); got != nil {
		t.Fatalf("no strategy ranks %v, want nil", got)
	}
}
