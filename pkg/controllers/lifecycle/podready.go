package lifecycle

import (
	"encoding/json"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Lifecycle hooks with markPodNotReady take a pod out of Service endpoints
// while they hold it, through the KruisePodReady readiness gate, as
// OpenKruise does: its condition is False while its message lists a holder.
// A workload controller owns the entries of user agent "Lifecycle" (keys
// preDeleteHook and preUpdateHook, OpenKruise's) and keeps everyone else's.
// The gate is injected at creation (InjectPodReadyGate) into the pods of
// workloads that have such a hook, so other workloads' pods pay no extra
// write.

const (
	readyAgent       = "Lifecycle"
	preDeleteHookKey = "preDeleteHook"
	preUpdateHookKey = "preUpdateHook"
)

// MarksNotReady reports whether any hook of lc sets markPodNotReady.
func MarksNotReady(lc *pub.Lifecycle) bool {
	return lc != nil && ((lc.PreDelete != nil && lc.PreDelete.MarkPodNotReady) ||
		(lc.InPlaceUpdate != nil && lc.InPlaceUpdate.MarkPodNotReady))
}

// hookKeys are the Lifecycle holds a pod in state s has under lc.
func hookKeys(lc *pub.Lifecycle, s pub.LifecycleStateType) []string {
	if lc == nil {
		return nil
	}
	switch {
	case s == pub.LifecycleStatePreparingDelete && lc.PreDelete != nil && lc.PreDelete.MarkPodNotReady:
		return []string{preDeleteHookKey}
	case (s == pub.LifecycleStatePreparingUpdate || s == pub.LifecycleStateUpdating) &&
		lc.InPlaceUpdate != nil && lc.InPlaceUpdate.MarkPodNotReady:
		return []string{preUpdateHookKey}
	}
	return nil
}

// PodReadyCondition is the KruisePodReady condition a pod in state s should
// carry, and whether that differs from what it has. Pods without the gate
// need none. Pure: now is only stamped on a transition.
func PodReadyCondition(pod *corev1.Pod, lc *pub.Lifecycle, s pub.LifecycleStateType, now time.Time) (corev1.PodCondition, bool) {
	if !hasGate(pod, pub.KruisePodReadyConditionType) {
		return corev1.PodCondition{}, false
	}
	var cur *corev1.PodCondition
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == pub.KruisePodReadyConditionType {
			cur = &pod.Status.Conditions[i]
		}
	}
	var msgs []pub.PodReadyMessage
	if cur != nil && cur.Message != "" {
		// Another writer's unreadable message is theirs; only ours are
		// rewritten, so an unreadable one is kept as a foreign hold.
		if err := json.Unmarshal([]byte(cur.Message), &msgs); err != nil {
			msgs = []pub.PodReadyMessage{{UserAgent: "unknown", Key: cur.Message}}
		}
	}
	want := slices.DeleteFunc(slices.Clone(msgs), func(m pub.PodReadyMessage) bool { return m.UserAgent == readyAgent })
	for _, k := range hookKeys(lc, s) {
		want = append(want, pub.PodReadyMessage{UserAgent: readyAgent, Key: k})
	}
	c := corev1.PodCondition{Type: pub.KruisePodReadyConditionType, Status: corev1.ConditionTrue}
	if len(want) > 0 {
		c.Status = corev1.ConditionFalse
		raw, _ := json.Marshal(want) // plain strings: cannot fail
		c.Message = string(raw)
	}
	if cur != nil && cur.Status == c.Status && cur.Message == c.Message {
		return *cur, false
	}
	c.LastTransitionTime = metav1.NewTime(now)
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	return c, true
}

func hasGate(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, g := range pod.Spec.ReadinessGates {
		if g.ConditionType == t {
			return true
		}
	}
	return false
}

// InjectPodReadyGate adds the KruisePodReady readiness gate to a new pod
// of a workload whose lifecycle marks pods not ready.
func InjectPodReadyGate(pod *corev1.Pod, lc *pub.Lifecycle) {
	if MarksNotReady(lc) && !hasGate(pod, pub.KruisePodReadyConditionType) {
		pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: pub.KruisePodReadyConditionType})
	}
}

// WithCondition is a copy of pod carrying condition c in its status.
func WithCondition(pod *corev1.Pod, c corev1.PodCondition) *corev1.Pod {
	next := pod.DeepCopy()
	for i := range next.Status.Conditions {
		if next.Status.Conditions[i].Type == c.Type {
			next.Status.Conditions[i] = c
			return next
		}
	}
	next.Status.Conditions = append(next.Status.Conditions, c)
	return next
}
