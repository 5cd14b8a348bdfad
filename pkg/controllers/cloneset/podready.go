package cloneset

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Lifecycle hooks with markPodNotReady take a pod out of Service endpoints
// while they hold it, through the KruisePodReady readiness gate, as
// OpenKruise does: its condition is False while its message lists a holder.
// The controller owns the entries of user agent "Lifecycle" (keys
// preDeleteHook and preUpdateHook, OpenKruise's) and keeps everyone else's.
// The gate is injected at creation into the pods of CloneSets that have
// such a hook, so other CloneSets' pods pay no extra write.

const (
	readyAgent       = "Lifecycle"
	preDeleteHookKey = "preDeleteHook"
	preUpdateHookKey = "preUpdateHook"
)

// marksNotReady reports whether any hook of lc sets markPodNotReady.
func marksNotReady(lc *pub.Lifecycle) bool {
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

// podReadyCondition is the KruisePodReady condition a pod in state s should
// carry, and whether that differs from what it has. Pods without the gate
// need none. Pure: now is only stamped on a transition.
func podReadyCondition(pod *corev1.Pod, lc *pub.Lifecycle, s pub.LifecycleStateType, now time.Time) (corev1.PodCondition, bool) {
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

// syncPodReady writes the KruisePodReady condition a pod in state s should
// carry, with the cached resourceVersion as precondition, and returns the
// pod as written (or as given when nothing changed or the write conflicted:
// the next pass decides again).
func (ps *pass) syncPodReady(ctx context.Context, pod *corev1.Pod, s pub.LifecycleStateType) (*corev1.Pod, error) {
	c, changed := podReadyCondition(pod, ps.cs.Spec.Lifecycle, s, ps.now)
	if !changed {
		return pod, nil
	}
	next := pod.DeepCopy()
	replaced := false
	for i := range next.Status.Conditions {
		if next.Status.Conditions[i].Type == c.Type {
			next.Status.Conditions[i], replaced = c, true
		}
	}
	if !replaced {
		next.Status.Conditions = append(next.Status.Conditions, c)
	}
	w, err := ps.r.kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	countOp("readiness", err)
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return pod, nil
		}
		return pod, fmt.Errorf("set pod %s %s %s: %w", pod.Name, c.Type, c.Status, err)
	}
	ps.r.exp.ExpectWrite(ps.key, pod.Name, w.ResourceVersion)
	return w, nil
}
