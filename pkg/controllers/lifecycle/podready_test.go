package lifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// markPodNotReady: the preDelete hook's pod leaves endpoints while held,
// the inPlaceUpdate hook's while preparing and updating; another writer's
// hold is kept; pods without the gate are never written.
func TestPodReadyCondition(t *testing.T) {
	now := time.Unix(1e9, 0)
	lc := &pub.Lifecycle{
		PreDelete:     &pub.LifecycleHook{FinalizersHandler: []string{"example.com/drain"}, MarkPodNotReady: true},
		InPlaceUpdate: &pub.LifecycleHook{LabelsHandler: map[string]string{"ok": "true"}, MarkPodNotReady: true},
	}
	gated := func(conds ...corev1.PodCondition) *corev1.Pod {
		p := &corev1.Pod{}
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: pub.KruisePodReadyConditionType}}
		p.Status.Conditions = conds
		return p
	}
	for _, tc := range []struct {
		name        string
		pod         *corev1.Pod
		state       pub.LifecycleStateType
		wantChange  bool
		wantStatus  corev1.ConditionStatus
		wantMessage string
	}{
		{"new pod gets True", gated(), pub.LifecycleStateNormal, true, corev1.ConditionTrue, ""},
		{"held for delete", gated(), pub.LifecycleStatePreparingDelete, true, corev1.ConditionFalse, `[{"userAgent":"Lifecycle","key":"preDeleteHook"}]`},
		{"preparing update", gated(), pub.LifecycleStatePreparingUpdate, true, corev1.ConditionFalse, `[{"userAgent":"Lifecycle","key":"preUpdateHook"}]`},
		{"updated: back in", gated(corev1.PodCondition{Type: pub.KruisePodReadyConditionType, Status: corev1.ConditionFalse,
			Message: `[{"userAgent":"Lifecycle","key":"preUpdateHook"}]`}), pub.LifecycleStateUpdated, true, corev1.ConditionTrue, ""},
		{"another writer's hold kept", gated(corev1.PodCondition{Type: pub.KruisePodReadyConditionType, Status: corev1.ConditionFalse,
			Message: `[{"userAgent":"PUB","key":"x"}]`}), pub.LifecycleStateNormal, false, corev1.ConditionFalse, `[{"userAgent":"PUB","key":"x"}]`},
		{"already right", gated(corev1.PodCondition{Type: pub.KruisePodReadyConditionType, Status: corev1.ConditionTrue}), pub.LifecycleStateNormal, false, corev1.ConditionTrue, ""},
		{"no gate", &corev1.Pod{}, pub.LifecycleStatePreparingDelete, false, "", ""},
	} {
		c, changed := PodReadyCondition(tc.pod, lc, tc.state, now)
		if changed != tc.wantChange || c.Status != tc.wantStatus || c.Message != tc.wantMessage {
			t.Errorf("%s: changed %v, %s %q; want %v, %s %q", tc.name, changed, c.Status, c.Message, tc.wantChange, tc.wantStatus, tc.wantMessage)
		}
		if changed && !c.LastTransitionTime.Equal(&metav1.Time{Time: now}) && tc.pod.Status.Conditions == nil {
			t.Errorf("%s: lastTransitionTime %v, want now", tc.name, c.LastTransitionTime)
		}
	}
	if _, changed := PodReadyCondition(gated(), nil, pub.LifecycleStatePreparingDelete, now); !changed {
		t.Error("a gated pod of a CloneSet without hooks must still get True")
	}
}
