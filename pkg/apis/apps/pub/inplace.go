package pub

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InPlaceUpdateReady is the pod readiness gate (and condition type) that
// in-place update owns: False while containers are being changed, so the pod
// leaves Service endpoints; True otherwise.
const InPlaceUpdateReady corev1.PodConditionType = "InPlaceUpdateReady"

// InPlaceUpdateState is the JSON in a pod's InPlaceUpdateStateKey annotation.
// The JSON keys revision, updateTimestamp and lastContainerStatuses are
// OpenKruise's; lastContainerStatuses also records what the runtime reported
// just before the update so completion can be told apart from a rollback.
type InPlaceUpdateState struct {
	// Revision is the ControllerRevision name the pod was updated to.
	Revision string `json:"revision"`
	// UpdateTimestamp is when the containers were changed.
	UpdateTimestamp metav1.Time `json:"updateTimestamp"`
	// LastContainerStatuses has one entry per container whose image the
	// update changed, as the runtime reported it before.
	LastContainerStatuses map[string]InPlaceUpdateContainerStatus `json:"lastContainerStatuses,omitempty"`
	// ResizedContainers names the containers whose resources the update
	// changed through in-place pod resize.
	// +optional
	ResizedContainers []string `json:"resizedContainers,omitempty"`
}

// InPlaceUpdateContainerStatus is a container as the runtime reported it
// before an in-place update.
type InPlaceUpdateContainerStatus struct {
	// ImageID the runtime reported (status.containerStatuses[].imageID).
	ImageID string `json:"imageID,omitempty"`
	// Image the runtime reported (status.containerStatuses[].image).
	// +optional
	Image string `json:"image,omitempty"`
	// ContainerID the runtime reported.
	// +optional
	ContainerID string `json:"containerID,omitempty"`
}
