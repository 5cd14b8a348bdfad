package cloneset

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// hooked reports whether a hook holds the pod: it carries any of the
// hook's labels (with its value) or any of its finalizers, as in OpenKruise;
// the hook owner releases the pod by removing all of them. A hook with
// neither holds nothing.
func hooked(h *pub.LifecycleHook, pod *corev1.Pod) bool {
	if h == nil {
		return false
	}
	for k, v := range h.LabelsHandler {
		if got, ok := pod.Labels[k]; ok && got == v {
			return true
		}
	}
	for _, f := range h.FinalizersHandler {
		if slices.Contains(pod.Finalizers, f) {
			return true
		}
	}
	return false
}

func lifecycleState(pod *corev1.Pod) pub.LifecycleStateType {
	return pub.LifecycleStateType(pod.Labels[pub.LifecycleStateKey])
}

// allHooked reports whether the pod carries every label (with its value)
// and every finalizer the hook names: the test for a hook owner having
// armed a hook (preNormal, and inPlaceUpdate after an update), as in
// OpenKruise. A hook naming nothing is trivially armed.
func allHooked(h *pub.LifecycleHook, pod *corev1.Pod) bool {
	if h == nil {
		return false
	}
	for k, v := range h.LabelsHandler {
		if pod.Labels[k] != v {
			return false
		}
	}
	for _, f := range h.FinalizersHandler {
		if !slices.Contains(pod.Finalizers, f) {
			return false
		}
	}
	return true
}

// serving reports whether a lifecycle state counts toward availability:
// only Normal pods (and pods that never had the label) serve, as in
// OpenKruise; pods still being prepared (PreparingNormal), in an operation
// or just out of one (Updated, until the hook owner is done) do not.
func serving(s pub.LifecycleStateType) bool {
	return s == "" || s == pub.LifecycleStateNormal
}

// nextState is the lifecycle transition a pod makes on its own, without an
// operation starting, or "" for none:
//
//   - PreparingNormal → Normal once the pod carries everything the preNormal
//     hook names (the hook owner has armed it) or, without a preNormal hook,
//     once the pod is scheduled: as in OpenKruise, a pod that has no node
//     yet stays PreparingNormal;
//   - Updated → Normal once the pod carries everything the inPlaceUpdate
//     hook names again (the hook owner re-armed it for the next update) or
//     none is configured;
//   - PreparingUpdate → Normal when the pod is already at updateRevision
//     (the update it waited for was rolled back).
func nextState(lc *pub.Lifecycle, pod *corev1.Pod, atUpdateRevision bool) pub.LifecycleStateType {
	var preNormal, inPlace *pub.LifecycleHook
	if lc != nil {
		preNormal, inPlace = lc.PreNormal, lc.InPlaceUpdate
	}
	switch lifecycleState(pod) {
	case pub.LifecycleStatePreparingNormal:
		if (preNormal == nil && pod.Spec.NodeName != "") || allHooked(preNormal, pod) {
			return pub.LifecycleStateNormal
		}
	case pub.LifecycleStateUpdated:
		if inPlace == nil || allHooked(inPlace, pod) {
			return pub.LifecycleStateNormal
		}
	case pub.LifecycleStatePreparingUpdate:
		if atUpdateRevision {
			return pub.LifecycleStateNormal
		}
	}
	return ""
}

// revivable picks the pods to take back from PreparingDelete to
// PreparingNormal, as OpenKruise does when replicas rise while scaled-down
// pods are still held by the preDelete hook: as many as replicas lacks
// beside the pods that are neither being deleted nor marked for deletion.
// Pods marked for deletion (specified) are never taken back, nor are any
// when a hook marks pods NotReady (the pod may have left service for good).
func revivable(replicas int, pods []*corev1.Pod, lc *pub.Lifecycle, specified func(*corev1.Pod) bool) map[*corev1.Pod]bool {
	if lc == nil || lc.PreDelete == nil || lc.PreDelete.MarkPodNotReady || (lc.InPlaceUpdate != nil && lc.InPlaceUpdate.MarkPodNotReady) {
		return nil
	}
	var held []*corev1.Pod
	active := 0
	for _, p := range pods {
		switch {
		case p.DeletionTimestamp != nil:
		case lifecycleState(p) == pub.LifecycleStatePreparingDelete:
			if !specified(p) && hooked(lc.PreDelete, p) {
				held = append(held, p)
			}
		case !specified(p):
			active++
		}
	}
	out := map[*corev1.Pod]bool{}
	for _, p := range held[:min(len(held), max(0, replicas-active))] {
		out[p] = true
	}
	return out
}
