package cloneset

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// hooked reports whether a hook holds the pod: it carries all the hook's
// labels (with their values) or any of its finalizers. A hook with neither
// holds nothing.
func hooked(h *pub.LifecycleHook, pod *corev1.Pod) bool {
	if h == nil {
		return false
	}
	if len(h.LabelsHandler) > 0 {
		all := true
		for k, v := range h.LabelsHandler {
			if pod.Labels[k] != v {
				all = false
				break
			}
		}
		if all {
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

// serving reports whether a lifecycle state counts toward availability:
// Normal and Updated pods (and pods that never had the label) serve;
// pods being prepared for an operation or created behind a preNormal hook
// do not.
func serving(s pub.LifecycleStateType) bool {
	switch s {
	case "", pub.LifecycleStateNormal, pub.LifecycleStateUpdated:
		return true
	}
	return false
}

// nextState is the lifecycle transition a pod makes on its own, without an
// operation starting, or "" for none:
//
//   - PreparingNormal → Normal once the preNormal hook holds the pod (the
//     hook owner has armed it) or no preNormal hook is configured;
//   - Updated → Normal once the inPlaceUpdate hook holds the pod again (the
//     hook owner re-armed it for the next update) or none is configured;
//   - PreparingUpdate → Normal when the pod is already at updateRevision
//     (the update it waited for was rolled back).
func nextState(lc *pub.Lifecycle, pod *corev1.Pod, atUpdateRevision bool) pub.LifecycleStateType {
	var preNormal, inPlace *pub.LifecycleHook
	if lc != nil {
		preNormal, inPlace = lc.PreNormal, lc.InPlaceUpdate
	}
	switch lifecycleState(pod) {
	case pub.LifecycleStatePreparingNormal:
		if preNormal == nil || hooked(preNormal, pod) {
			return pub.LifecycleStateNormal
		}
	case pub.LifecycleStateUpdated:
		if inPlace == nil || hooked(inPlace, pod) {
			return pub.LifecycleStateNormal
		}
	case pub.LifecycleStatePreparingUpdate:
		if atUpdateRevision {
			return pub.LifecycleStateNormal
		}
	}
	return ""
}
