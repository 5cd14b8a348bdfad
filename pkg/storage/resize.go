package storage

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event reasons of a resize, external-resizer's own, so `kubectl describe
// pvc` reads as it does on a cluster with a CSI driver.
const (
	reasonResizing     = "Resizing"
	reasonNodeRequired = "FileSystemResizeRequired"
)

// resizePlan is what a claim bound to one of our volumes needs done to
// serve its requested size. The steps run in order; a step already done
// (after a crash or a lost write) is skipped on the next sync.
type resizePlan struct {
	size resource.Quantity
	// markResizing records on the claim that the controller is resizing:
	// condition Resizing, allocatedResources and its status.
	markResizing bool
	// growVolume sets the volume's capacity to size.
	growVolume bool
	// finish hands the claim to the node: the volume has grown, and its
	// file system grows where a pod mounts it (the kubelet's
	// NodeExpandVolume, which simulated nodes perform: pkg/nodesim). Until
	// then the claim keeps its capacity, with condition
	// FileSystemResizePending and resize status NodeResizePending, as
	// external-resizer leaves a claim of a CSI driver that expands on the
	// node (every block-backed driver with a file system on it).
	finish bool
}

// planResize decides, from the claim and its bound volume alone, what is
// left to do; ok is false when nothing is.
func planResize(claim *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) (resizePlan, bool) {
	if claim.Status.Phase != corev1.ClaimBound || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != claim.UID {
		return resizePlan{}, false
	}
	want, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return resizePlan{}, false
	}
	have := claim.Status.Capacity[corev1.ResourceStorage]
	if want.Cmp(have) <= 0 {
		return resizePlan{}, false
	}
	pvSize := pv.Spec.Capacity[corev1.ResourceStorage]
	allocated, hasAllocated := claim.Status.AllocatedResources[corev1.ResourceStorage]
	state := claim.Status.AllocatedResourceStatuses[corev1.ResourceStorage]
	if state == corev1.PersistentVolumeClaimNodeResizePending && hasAllocated && allocated.Cmp(want) == 0 && pvSize.Cmp(want) >= 0 {
		return resizePlan{}, false // the node's part is left
	}
	return resizePlan{
		size:         want,
		markResizing: state != corev1.PersistentVolumeClaimControllerResizeInProgress || !hasAllocated || allocated.Cmp(want) != 0,
		growVolume:   pvSize.Cmp(want) < 0,
		finish:       true,
	}, true
}

// resizingStatus is the claim's status while the controller resizes it,
// as external-resizer's markControllerResizeInProgress leaves it.
func resizingStatus(claim *corev1.PersistentVolumeClaim, size resource.Quantity, now time.Time) *corev1.PersistentVolumeClaimStatus {
	st := claim.Status.DeepCopy()
	st.Conditions = withoutResizeConditions(st.Conditions)
	st.Conditions = append(st.Conditions, corev1.PersistentVolumeClaimCondition{
		Type: corev1.PersistentVolumeClaimResizing, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now),
	})
	if st.AllocatedResources == nil {
		st.AllocatedResources = corev1.ResourceList{}
	}
	st.AllocatedResources[corev1.ResourceStorage] = size
	if st.AllocatedResourceStatuses == nil {
		st.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{}
	}
	st.AllocatedResourceStatuses[corev1.ResourceStorage] = corev1.PersistentVolumeClaimControllerResizeInProgress
	return st
}

// nodePendingStatus is the claim's status once its volume has grown to
// size and the file system is left to the node: external-resizer's
// markForNodeExpansion. The capacity stays until the kubelet grows the file
// system.
func nodePendingStatus(claim *corev1.PersistentVolumeClaim, size resource.Quantity, now time.Time) *corev1.PersistentVolumeClaimStatus {
	st := claim.Status.DeepCopy()
	st.Conditions = withoutResizeConditions(st.Conditions)
	st.Conditions = append(st.Conditions, corev1.PersistentVolumeClaimCondition{
		Type: corev1.PersistentVolumeClaimFileSystemResizePending, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now),
		Message: "Waiting for user to (re-)start a pod to finish file system resize of volume on node.",
	})
	if st.AllocatedResources == nil {
		st.AllocatedResources = corev1.ResourceList{}
	}
	st.AllocatedResources[corev1.ResourceStorage] = size
	if st.AllocatedResourceStatuses == nil {
		st.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{}
	}
	st.AllocatedResourceStatuses[corev1.ResourceStorage] = corev1.PersistentVolumeClaimNodeResizePending
	return st
}

func withoutResizeConditions(cs []corev1.PersistentVolumeClaimCondition) []corev1.PersistentVolumeClaimCondition {
	var out []corev1.PersistentVolumeClaimCondition
	for _, c := range cs {
		if c.Type != corev1.PersistentVolumeClaimResizing && c.Type != corev1.PersistentVolumeClaimFileSystemResizePending {
			out = append(out, c)
		}
	}
	return out
}
