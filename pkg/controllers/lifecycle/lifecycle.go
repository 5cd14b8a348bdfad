// Package lifecycle reads OpenKruise's pod lifecycle (pub.Lifecycle): the
// state label a workload controller moves a pod through (PreparingNormal,
// Normal, PreparingUpdate, Updating, Updated, PreparingDelete) and the hooks
// with which another controller holds a pod in a state. CloneSet, Advanced
// StatefulSet and Advanced DaemonSet share it, so a hook means the same on
// each. It decides only: it never writes a pod.
package lifecycle

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Hooked reports whether a hook holds the pod: it carries any of the
// hook's labels (with its value) or any of its finalizers, as in OpenKruise;
// the hook owner releases the pod by removing all of them. A hook with
// neither holds nothing.
func Hooked(h *pub.LifecycleHook, pod *corev1.Pod) bool {
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

// AllHooked reports whether the pod carries every label (with its value)
// and every finalizer the hook names: the test for a hook owner having
// armed a hook (preNormal, and inPlaceUpdate after an update), as in
// OpenKruise. A hook naming nothing is trivially armed.
func AllHooked(h *pub.LifecycleHook, pod *corev1.Pod) bool {
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

func State(pod *corev1.Pod) pub.LifecycleStateType {
	return pub.LifecycleStateType(pod.Labels[pub.LifecycleStateKey])
}

// Serving reports whether a lifecycle state counts toward availability:
// only Normal pods (and pods that never had the label) serve, as in
// OpenKruise; pods still being prepared (PreparingNormal), in an operation
// or just out of one (Updated, until the hook owner is done) do not.
func Serving(s pub.LifecycleStateType) bool {
	return s == "" || s == pub.LifecycleStateNormal
}

// Next is the lifecycle transition a pod makes on its own, without an
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
func Next(lc *pub.Lifecycle, pod *corev1.Pod, atUpdateRevision bool) pub.LifecycleStateType {
	var preNormal, inPlace *pub.LifecycleHook
	if lc != nil {
		preNormal, inPlace = lc.PreNormal, lc.InPlaceUpdate
	}
	switch State(pod) {
	case pub.LifecycleStatePreparingNormal:
		if (preNormal == nil && pod.Spec.NodeName != "") || AllHooked(preNormal, pod) {
			return pub.LifecycleStateNormal
		}
	case pub.LifecycleStateUpdated:
		if inPlace == nil || AllHooked(inPlace, pod) {
			return pub.LifecycleStateNormal
		}
	case pub.LifecycleStatePreparingUpdate:
		if atUpdateRevision {
			return pub.LifecycleStateNormal
		}
	}
	return ""
}
