package inplace

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Reasons on the InPlaceUpdateReady condition.
const (
	ReasonStarted  = "StartInPlaceUpdate"
	ReasonFinished = "InPlaceUpdateFinished"
)

// InjectReadinessGate adds the InPlaceUpdateReady readiness gate to a pod
// that is about to be created. The API server drops status on create, so the
// condition itself is set True afterwards by Updater.Complete; until then the
// pod is not Ready, exactly as for any other readiness gate.
func InjectReadinessGate(pod *corev1.Pod) {
	if HasReadinessGate(pod) {
		return
	}
	pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: pub.InPlaceUpdateReady})
}

// HasReadinessGate reports whether the pod has the InPlaceUpdateReady gate.
func HasReadinessGate(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		if g.ConditionType == pub.InPlaceUpdateReady {
			return true
		}
	}
	return false
}

// GateCondition returns the pod's InPlaceUpdateReady condition, or nil.
func GateCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == pub.InPlaceUpdateReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// setGate sets the condition and reports whether anything changed. The
// transition time moves only when the status does: Apply measures the grace
// period from it.
func setGate(pod *corev1.Pod, status corev1.ConditionStatus, reason string, now metav1.Time) bool {
	c := GateCondition(pod)
	if c == nil {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
			Type: pub.InPlaceUpdateReady, Status: status, Reason: reason, LastTransitionTime: now,
		})
		return true
	}
	if c.Status == status {
		return false
	}
	c.Status, c.Reason, c.Message, c.LastTransitionTime = status, reason, "", now
	return true
}
