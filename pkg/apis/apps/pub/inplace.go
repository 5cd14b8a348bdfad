package pub

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InPlaceUpdateReady is the pod readiness gate (and condition type) that
// in-place update owns: False while containers are being changed, so the pod
// leaves Service endpoints; True otherwise.
const InPlaceUpdateReady corev1.PodConditionType = "InPlaceUpdateReady"

// KruisePodReadyConditionType is the readiness gate (and condition type)
// that workloads hold False while a lifecycle hook with markPodNotReady
// holds the pod. Its message lists who holds it (PodReadyMessage), so
// several writers can share it; it is True when the list is empty.
const KruisePodReadyConditionType corev1.PodConditionType = "KruisePodReady"

// PodReadyMessage is one entry of KruisePodReady's message, a JSON list.
type PodReadyMessage struct {
	UserAgent string `json:"userAgent"`
	Key       string `json:"key"`
}

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
	// NextContainerImages are the image changes left for later batches:
	// containers of lower launch priority change only once every container
	// of the batch before runs its new image (ContainerLaunchPriorityEnvName).
	// +optional
	NextContainerImages map[string]string `json:"nextContainerImages,omitempty"`
	// ContainerBatchesRecord lists the batches started so far, in order.
	// +optional
	ContainerBatchesRecord []InPlaceUpdateContainerBatch `json:"containerBatchesRecord,omitempty"`
	// UpdateEnvFromMetadata says the update changed labels or annotations
	// that containers read into their environment (env valueFrom fieldRef):
	// it is done only once the node agent reports (RuntimeContainerMetaKey)
	// every such container restarted with the new values.
	// +optional
	UpdateEnvFromMetadata bool `json:"updateEnvFromMetadata,omitempty"`
	// NextContainerRefMetadata holds, per container of a later batch, the
	// labels and annotations it reads into its environment that change when
	// its batch starts; only Labels and Annotations are used.
	// +optional
	NextContainerRefMetadata map[string]metav1.ObjectMeta `json:"nextContainerRefMetadata,omitempty"`
}

// RuntimeContainerMetaSet is the JSON in a pod's RuntimeContainerMetaKey
// annotation: one entry per container the node runs. The JSON keys are
// OpenKruise's, so its node daemon and Myriad's in-place updates work
// together.
type RuntimeContainerMetaSet struct {
	Containers []RuntimeContainerMeta `json:"containers"`
}

// RuntimeContainerMeta is one running container as its node reports it.
type RuntimeContainerMeta struct {
	Name         string                 `json:"name"`
	ContainerID  string                 `json:"containerID"`
	RestartCount int32                  `json:"restartCount"`
	Hashes       RuntimeContainerHashes `json:"hashes"`
}

// RuntimeContainerHashes are hashes of what a container was started with.
type RuntimeContainerHashes struct {
	// PlainHash is the kubelet's hash of the container's spec.
	PlainHash uint64 `json:"plainHash"`
	// ExtractedEnvFromMetadataHash hashes the values the container read
	// from the pod's labels and annotations when it started
	// (containermeta.EnvHash); 0 when unknown.
	// +optional
	ExtractedEnvFromMetadataHash uint64 `json:"extractedEnvFromMetadataHash,omitempty"`
}

// InPlaceUpdateContainerBatch is one batch of an in-place update.
type InPlaceUpdateContainerBatch struct {
	// Timestamp is when the batch's containers were changed.
	Timestamp metav1.Time `json:"timestamp"`
	// Containers are the names of the containers changed, sorted.
	Containers []string `json:"containers"`
}

const (
	// ContainerLaunchPriorityEnvName, set on a container to an integer,
	// orders the containers of an in-place update: higher priorities change
	// first, and the next batch waits until they run their new images.
	ContainerLaunchPriorityEnvName = "KRUISE_CONTAINER_PRIORITY"
	// ContainerLaunchPriorityKey set to ContainerLaunchOrdered on a pod (or
	// template) gives containers descending priorities in spec order.
	ContainerLaunchPriorityKey = "apps.kruise.io/container-launch-priority"
	// ContainerLaunchOrdered is ContainerLaunchPriorityKey's one value.
	ContainerLaunchOrdered = "Ordered"
	// ContainerLaunchBarrierEnvName is the env OpenKruise's pod webhook
	// writes for the priority (a ConfigMap key "p_<priority>"); read on
	// pods OpenKruise created.
	ContainerLaunchBarrierEnvName = "KRUISE_CONTAINER_BARRIER"
)

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
