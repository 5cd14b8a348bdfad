package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Labels CloneSet puts on its pods, besides pub.ControllerRevisionHashLabelKey.
const (
	// CloneSetInstanceID is the pod label (and PVC label) holding the
	// instance id, the random suffix that names a pod and its PVCs alike.
	CloneSetInstanceID = "apps.kruise.io/cloneset-instance-id"

	// CloneSetScalingExcludePreparingDeleteKey is the CloneSet label that,
	// set to "true", lets pods waiting in PreparingDelete be replaced at
	// once: they no longer count toward replicas. Without it a pod held by
	// the preDelete hook is still one of the replicas and gets no
	// replacement until it is gone.
	CloneSetScalingExcludePreparingDeleteKey = "apps.kruise.io/cloneset-scaling-exclude-preparing-delete"

	// DefaultCloneSetMaxUnavailable is updateStrategy.maxUnavailable when
	// the user sets none.
	DefaultCloneSetMaxUnavailable = "20%"

	// DefaultRevisionHistoryLimit is spec.revisionHistoryLimit when the
	// user sets none.
	DefaultRevisionHistoryLimit int32 = 10
)

// CloneSetUpdateStrategyType says how a CloneSet replaces pods of an old
// revision.
// +kubebuilder:validation:Enum=ReCreate;InPlaceIfPossible;InPlaceOnly
type CloneSetUpdateStrategyType string

const (
	// RecreateCloneSetUpdateStrategyType deletes old pods and creates new ones.
	RecreateCloneSetUpdateStrategyType CloneSetUpdateStrategyType = "ReCreate"
	// InPlaceIfPossibleCloneSetUpdateStrategyType updates pods in place when
	// only images and/or metadata changed, and recreates them otherwise.
	InPlaceIfPossibleCloneSetUpdateStrategyType CloneSetUpdateStrategyType = "InPlaceIfPossible"
	// InPlaceOnlyCloneSetUpdateStrategyType only updates in place; a
	// template change that cannot be made in place is rejected.
	InPlaceOnlyCloneSetUpdateStrategyType CloneSetUpdateStrategyType = "InPlaceOnly"
)

// CloneSetSpec is the desired state of a CloneSet.
//
// The selector must not be empty. That it selects the template's labels is
// checked by the admission webhook: a CEL rule iterating labels and
// matchLabels exceeds the API server's estimated cost limit by over 100x,
// since the upstream label maps carry no maxProperties.
//
// Partition may not exceed replicas when it is a number; a scale-down below
// an unchanged partition is allowed, so that `kubectl scale` and HPA never
// fail on it (the rollout then simply updates no pod).
//
// +kubebuilder:validation:XValidation:rule="(has(self.selector.matchLabels) && size(self.selector.matchLabels) > 0) || (has(self.selector.matchExpressions) && size(self.selector.matchExpressions) > 0)",message="empty selector is not allowed for a CloneSet",fieldPath=".selector"
// +kubebuilder:validation:XValidation:rule="!has(self.updateStrategy) || !has(self.updateStrategy.partition) || type(self.updateStrategy.partition) != int || self.updateStrategy.partition <= (has(self.replicas) ? self.replicas : 1) || (oldSelf.hasValue() && has(oldSelf.value().updateStrategy) && has(oldSelf.value().updateStrategy.partition) && oldSelf.value().updateStrategy.partition == self.updateStrategy.partition)",optionalOldSelf=true,message="partition must not be greater than replicas",fieldPath=".updateStrategy.partition"
type CloneSetSpec struct {
	// Replicas is the desired number of pods. Defaults to 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// Selector selects the pods the CloneSet owns. It must select the
	// template's labels and cannot be changed.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="selector is immutable"
	Selector *metav1.LabelSelector `json:"selector"`

	// Template describes the pods the CloneSet creates.
	Template corev1.PodTemplateSpec `json:"template"`

	// VolumeClaimTemplates are PVCs created for each pod, named after the
	// template and the pod's instance id.
	// +optional
	// +listType=atomic
	VolumeClaimTemplates []corev1.PersistentVolumeClaim `json:"volumeClaimTemplates,omitempty"`

	// RevisionHistoryLimit is how many old ControllerRevisions to keep.
	// Defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// MinReadySeconds is how long a new or updated pod must be ready,
	// without any container crashing, to count as available.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`

	// ScaleStrategy tunes scaling.
	// +optional
	ScaleStrategy CloneSetScaleStrategy `json:"scaleStrategy,omitempty"`

	// UpdateStrategy tunes how pods of old revisions are replaced.
	// +optional
	UpdateStrategy CloneSetUpdateStrategy `json:"updateStrategy,omitempty"`

	// Lifecycle hooks hold pod deletion and in-place update until released.
	// +optional
	Lifecycle *pub.Lifecycle `json:"lifecycle,omitempty"`

	// ProgressDeadlineSeconds is how long a rollout or scale may take to
	// reach a settled state (every pod updated and available, or the
	// partition reached, or paused) before the Progressing condition turns
	// False with reason ProgressDeadlineExceeded. Time spent settled or
	// paused does not count. Unset, or 2147483647, means no deadline and no
	// Progressing condition. Must be greater than minReadySeconds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
}

// CloneSetScaleStrategy tunes scaling.
type CloneSetScaleStrategy struct {
	// PodsToDelete names pods to delete. On scale-down they go first; with
	// replicas unchanged they are deleted and replaced.
	// +optional
	// +listType=atomic
	PodsToDelete []string `json:"podsToDelete,omitempty"`

	// MaxUnavailable caps how many pods may be unavailable while scaling up
	// (absolute number or percentage of replicas). Unset means no cap.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$`
	// +kubebuilder:validation:XValidation:rule="type(self) != int || self >= 0",message="must not be negative"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// DisablePVCReuse deletes the PVCs of a deleted pod instead of handing
	// them to its replacement.
	// +optional
	DisablePVCReuse bool `json:"disablePVCReuse,omitempty"`
}

// CloneSetUpdateStrategy tunes how pods of old revisions are replaced.
type CloneSetUpdateStrategy struct {
	// Type is ReCreate (the default), InPlaceIfPossible or InPlaceOnly.
	// +optional
	// +kubebuilder:default=ReCreate
	Type CloneSetUpdateStrategyType `json:"type,omitempty"`

	// Partition is the number (or percentage of replicas) of pods to keep at
	// old revisions. Defaults to 0: update every pod. A percentage rounds
	// up, except that one below 100% always lets at least one pod update
	// when there are two replicas or more.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$`
	// +kubebuilder:validation:XValidation:rule="type(self) != int || self >= 0",message="must not be negative"
	Partition *intstr.IntOrString `json:"partition,omitempty"`

	// MaxUnavailable caps the pods unavailable during an update (number or
	// percentage of replicas). Defaults to 20%.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$`
	// +kubebuilder:validation:XValidation:rule="type(self) != int || self >= 0",message="must not be negative"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// MaxSurge is how many pods (number or percentage of replicas) may be
	// created above replicas during an update. Defaults to 0.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$`
	// +kubebuilder:validation:XValidation:rule="type(self) != int || self >= 0",message="must not be negative"
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`

	// Paused stops updating pods; scaling continues.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// PriorityStrategy orders which pods are updated first.
	// +optional
	PriorityStrategy *pub.UpdatePriorityStrategy `json:"priorityStrategy,omitempty"`

	// ScatterStrategy spreads pods with the given labels through the update
	// order.
	// +optional
	// +listType=atomic
	ScatterStrategy pub.UpdateScatterStrategy `json:"scatterStrategy,omitempty"`

	// InPlaceUpdateStrategy tunes in-place updates.
	// +optional
	InPlaceUpdateStrategy *pub.InPlaceUpdateStrategy `json:"inPlaceUpdateStrategy,omitempty"`
}

// CloneSetConditionType is the type of a CloneSet condition.
type CloneSetConditionType string

const (
	// CloneSetConditionFailedScale is True while creating or deleting pods fails.
	CloneSetConditionFailedScale CloneSetConditionType = "FailedScale"
	// CloneSetConditionFailedUpdate is True while updating pods fails.
	CloneSetConditionFailedUpdate CloneSetConditionType = "FailedUpdate"
	// CloneSetConditionTypeProgressing says whether the CloneSet is settled
	// or still on its way there within spec.progressDeadlineSeconds. It is
	// present only while progressDeadlineSeconds is set.
	CloneSetConditionTypeProgressing CloneSetConditionType = "Progressing"
)

// CloneSetConditionReason is the reason of a CloneSet condition.
type CloneSetConditionReason string

// Reasons of the Progressing condition. The names, and the messages the
// controller writes with them, are OpenKruise's: tools compare them.
const (
	// CloneSetAvailable: every pod is at updateRevision and available.
	CloneSetAvailable CloneSetConditionReason = "CloneSetAvailable"
	// CloneSetProgressPaused: updateStrategy.paused is set.
	CloneSetProgressPaused CloneSetConditionReason = "CloneSetPaused"
	// CloneSetProgressPartitionAvailable: the pods the partition lets
	// update are updated and available; the rest wait for the partition.
	CloneSetProgressPartitionAvailable CloneSetConditionReason = "ProgressPartitionAvailable"
	// CloneSetProgressUpdated: on its way to one of the above.
	CloneSetProgressUpdated CloneSetConditionReason = "CloneSetUpdated"
	// CloneSetProgressDeadlineExceeded: progressDeadlineSeconds passed
	// without settling; Status is False until the CloneSet settles.
	CloneSetProgressDeadlineExceeded CloneSetConditionReason = "ProgressDeadlineExceeded"
)

// CloneSetCondition is one observation of a CloneSet's state.
type CloneSetCondition struct {
	Type   CloneSetConditionType  `json:"type"`
	Status corev1.ConditionStatus `json:"status"`
	// LastUpdateTime is when the condition last changed status or reason.
	// +optional
	LastUpdateTime metav1.Time `json:"lastUpdateTime,omitempty"`
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// CloneSetStatus is the observed state of a CloneSet.
type CloneSetStatus struct {
	// ObservedGeneration is the spec generation this status describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas is the number of pods the CloneSet owns.
	Replicas int32 `json:"replicas"`
	// ReadyReplicas is the number of those pods that are Ready.
	ReadyReplicas int32 `json:"readyReplicas"`
	// AvailableReplicas is the number Ready for at least minReadySeconds.
	AvailableReplicas int32 `json:"availableReplicas"`
	// UpdatedReplicas is the number at updateRevision.
	UpdatedReplicas int32 `json:"updatedReplicas"`
	// UpdatedReadyReplicas is the number at updateRevision and Ready.
	UpdatedReadyReplicas int32 `json:"updatedReadyReplicas"`
	// UpdatedAvailableReplicas is the number at updateRevision and available.
	// +optional
	UpdatedAvailableReplicas int32 `json:"updatedAvailableReplicas,omitempty"`
	// ExpectedUpdatedReplicas is how many pods the partition lets reach
	// updateRevision.
	// +optional
	ExpectedUpdatedReplicas int32 `json:"expectedUpdatedReplicas,omitempty"`
	// UpdateRevision is the ControllerRevision of the current template.
	// +optional
	UpdateRevision string `json:"updateRevision,omitempty"`
	// CurrentRevision is the revision every pod was at when the last
	// rollout finished.
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty"`
	// CollisionCount disambiguates revision names on hash collisions.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// LabelSelector is the selector in string form, for the scale subresource.
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`
	// Conditions are the latest observations of the CloneSet's state.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []CloneSetCondition `json:"conditions,omitempty"`
}

// CloneSet runs replicas of a pod template and rolls out template changes
// by recreating pods or updating them in place.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=clone
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.labelSelector
// +kubebuilder:printcolumn:name="DESIRED",type="integer",JSONPath=".spec.replicas",description="Desired number of pods"
// +kubebuilder:printcolumn:name="UPDATED",type="integer",JSONPath=".status.updatedReplicas",description="Pods at the update revision"
// +kubebuilder:printcolumn:name="UPDATED_READY",type="integer",JSONPath=".status.updatedReadyReplicas",description="Pods at the update revision and Ready"
// +kubebuilder:printcolumn:name="UPDATED_AVAILABLE",type="integer",JSONPath=".status.updatedAvailableReplicas",description="Pods at the update revision and available"
// +kubebuilder:printcolumn:name="READY",type="integer",JSONPath=".status.readyReplicas",description="Ready pods"
// +kubebuilder:printcolumn:name="TOTAL",type="integer",JSONPath=".status.replicas",description="Pods owned"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="CONTAINERS",type="string",priority=1,JSONPath=".spec.template.spec.containers[*].name",description="Container names of the template"
// +kubebuilder:printcolumn:name="IMAGES",type="string",priority=1,JSONPath=".spec.template.spec.containers[*].image",description="Container images of the template"
// +kubebuilder:printcolumn:name="SELECTOR",type="string",priority=1,JSONPath=".status.labelSelector",description="Pod selector"
type CloneSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CloneSetSpec   `json:"spec,omitempty"`
	Status CloneSetStatus `json:"status,omitempty"`
}

// CloneSetList is a list of CloneSets.
//
// +kubebuilder:object:root=true
type CloneSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CloneSet `json:"items"`
}
