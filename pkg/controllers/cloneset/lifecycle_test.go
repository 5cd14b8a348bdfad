package cloneset

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

func TestRevivable(t *testing.T) {
	hold := map[string]string{"example.com/hold": "true"}
	lc := &pub.Lifecycle{PreDelete: &pub.LifecycleHook{LabelsHandler: hold}}
	pod := func(name string, state pub.LifecycleStateType, marked bool) *corev1.Pod {
		l := map[string]string{pub.LifecycleStateKey: string(state), "example.com/hold": "true"}
		if marked {
			l[pub.SpecifiedDeleteKey] = "true"
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
	}
	specified := func(p *corev1.Pod) bool { return p.Labels[pub.SpecifiedDeleteKey] != "" }
	// Scaled 3 -> 1 (two held), then back up to 2: one held pod returns.
	pods := []*corev1.Pod{
		pod("a", pub.LifecycleStateNormal, false),
		pod("b", pub.LifecycleStatePreparingDelete, false),
		pod("c", pub.LifecycleStatePreparingDelete, false),
		pod("d", pub.LifecycleStatePreparingDelete, true), // marked: stays on its way out
	}
	got := revivable(2, pods, lc, specified)
	if len(got) != 1 || !got[pods[1]] {
		t.Fatalf("revived %v, want only b", got)
	}
	if got := revivable(1, pods, lc, specified); len(got) != 0 {
		t.Errorf("replicas already met, revived %v", got)
	}
	notReady := &pub.Lifecycle{PreDelete: &pub.LifecycleHook{LabelsHandler: hold, MarkPodNotReady: true}}
	if got := revivable(4, pods, notReady, specified); len(got) != 0 {
		t.Errorf("with markPodNotReady revived %v, want none", got)
	}
}
