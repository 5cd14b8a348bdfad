package v1beta1

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Advanced DaemonSet (apps.kruise.io DaemonSet): one pod per eligible node,
// with Deployment-style rollouts (in place, surge, node-label phases,
// partition, pause).
//
// Versions: v1beta1 is stored; v1alpha1 is served with the same schema (its
// Go type carries every field of this one), so the API server converts
// between them by changing apiVersion only (conversion strategy None) and no
// conversion webhook can ever stand between a client and these objects. What
// OpenKruise's versions name differently is accepted in both and treated as
// equal by defaulting and the controller:
//   - rollingUpdateType Surging (v1alpha1, deprecated) is Standard with a
//     default maxSurge of 1;
//   - the daemonset.kruise.io/progressive-create-pod annotation "true"
//     (v1alpha1) is scaleStrategy.partitionedScaling (v1beta1);
//   - status.daemonSetHash (v1alpha1) and status.updateRevision (v1beta1)
//     are both written, with the same value.

func init() {
	knownTypes = append(knownTypes, &DaemonSet{}, &DaemonSetList{})
}

// DaemonSetUpdateStrategyType is how a DaemonSet replaces its pods.
// +kubebuilder:validation:Enum=RollingUpdate;OnDelete
type DaemonSetUpdateStrategyType string

// RollingUpdateType is how a rolling update changes one node's pod.
// +kubebuilder:validation:Enum=Standard;InPlaceIfPossible;Surging
type RollingUpdateType string

const (
	// RollingUpdateDaemonSetStrategyType replaces pods by the rollingUpdate rules.
	RollingUpdateDaemonSetStrategyType DaemonSetUpdateStrategyType = "RollingUpdate"
	// OnDeleteDaemonSetStrategyType replaces a pod only when a user deletes it.
	OnDeleteDaemonSetStrategyType DaemonSetUpdateStrategyType = "OnDelete"

	// StandardRollingUpdateType deletes and recreates the pod (or, with
	// maxSurge, creates the new pod first and deletes the old one once the
	// new one is available).
	StandardRollingUpdateType RollingUpdateType = "Standard"
	// InplaceRollingUpdateType changes the pod in place when only images
	// (and in-place resizable resources) changed, and recreates it otherwise.
	InplaceRollingUpdateType RollingUpdateType = "InPlaceIfPossible"
	// DeprecatedSurgingRollingUpdateType is v1alpha1's name for Standard
	// with surge; accepted in both versions and treated as Standard.
	DeprecatedSurgingRollingUpdateType RollingUpdateType = "Surging"

	// ProgressiveCreatePodAnnotation "true" is v1alpha1's spelling of
	// scaleStrategy.partitionedScaling.
	ProgressiveCreatePodAnnotation = "daemonset.kruise.io/progressive-create-pod"
)

// DaemonSetUpdateStrategy says how pods are replaced when the template changes.
type DaemonSetUpdateStrategy struct {
	// Type is RollingUpdate (default) or OnDelete.
	// +optional
	Type DaemonSetUpdateStrategyType `json:"type,omitempty"`
	// RollingUpdate tunes a RollingUpdate.
	// +optional
	RollingUpdate *RollingUpdateDaemonSet `json:"rollingUpdate,omitempty"`
}

// RollingUpdateDaemonSet tunes a rolling update.
type RollingUpdateDaemonSet struct {
	// Type is Standard (default), InPlaceIfPossible, or the deprecated
	// Surging (Standard).
	// +optional
	Type RollingUpdateType `json:"rollingUpdateType,omitempty"`
	// MaxUnavailable is how many nodes (or what percentage of the desired
	// nodes, rounded up) may be without an available pod because of the
	// update at once. Default 1.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$`
	// +kubebuilder:validation:XValidation:rule="type(self) != int || self >= 0",message="must not be negative"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// MaxSurge is how many nodes (or what percentage, rounded up) may run an
	// extra new pod next to the old one while it becomes available; the old
	// pod is deleted only then. Standard only. Default 0.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$`
	// +kubebuilder:validation:XValidation:rule="type(self) != int || self >= 0",message="must not be negative"
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// Selector limits the update to nodes whose labels match: a phased
	// rollout widens it step by step.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Partition is how many nodes (or what percentage) keep the old
	// revision. Default 0.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$`
	// +kubebuilder:validation:XValidation:rule="type(self) != int || self >= 0",message="must not be negative"
	Partition *intstr.IntOrString `json:"partition,omitempty"`
	// Paused stops updating pods; new nodes still get pods.
	// +optional
	Paused *bool `json:"paused,omitempty"`
}

// DaemonSetSpec is the desired state of a DaemonSet.
type DaemonSetSpec struct {
	// Selector selects the pods the DaemonSet owns; it must match the
	// template's labels and is immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="selector is immutable"
	Selector *metav1.LabelSelector `json:"selector"`
	// Template is the pod each eligible node runs.
	Template corev1.PodTemplateSpec `json:"template"`
	// UpdateStrategy replaces pods when the template changes.
	// +optional
	UpdateStrategy DaemonSetUpdateStrategy `json:"updateStrategy,omitempty"`
	// MinReadySeconds is how long a new pod must be ready before it counts
	// as available.
	// +optional
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// BurstReplicas caps the pods created, deleted or updated in place in
	// one pass (number or percentage of desired nodes). Default 250.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$`
	// +kubebuilder:validation:XValidation:rule="type(self) != int || self >= 0",message="must not be negative"
	BurstReplicas *intstr.IntOrString `json:"burstReplicas,omitempty"`
	// RevisionHistoryLimit is how many old ControllerRevisions to keep.
	// Default 10.
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// Lifecycle holds hooks; preDelete holds a pod before it is deleted.
	// +optional
	Lifecycle *pub.Lifecycle `json:"lifecycle,omitempty"`
	// ScaleStrategy tunes creating pods on new nodes.
	// +optional
	ScaleStrategy *DaemonSetScaleStrategy `json:"scaleStrategy,omitempty"`
}

// DaemonSetScaleStrategy tunes creating pods on new nodes.
type DaemonSetScaleStrategy struct {
	// PartitionedScaling makes pods created for new nodes while a
	// partition holds use the old revision, so the partition counts them.
	// +optional
	PartitionedScaling bool `json:"partitionedScaling,omitempty"`
}

// DaemonSetStatus is what the controller observed. Field names follow
// OpenKruise (and apps/v1 DaemonSet).
type DaemonSetStatus struct {
	// CurrentNumberScheduled is the nodes running at least one daemon pod
	// that should run one.
	CurrentNumberScheduled int32 `json:"currentNumberScheduled"`
	// NumberMisscheduled is the nodes running a daemon pod that should not.
	NumberMisscheduled int32 `json:"numberMisscheduled"`
	// DesiredNumberScheduled is the nodes that should run a daemon pod.
	DesiredNumberScheduled int32 `json:"desiredNumberScheduled"`
	// NumberReady is the nodes that should run a daemon pod and have a ready one.
	NumberReady int32 `json:"numberReady"`
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// UpdatedNumberScheduled is the nodes running the update revision.
	UpdatedNumberScheduled int32 `json:"updatedNumberScheduled"`
	// NumberAvailable is the nodes that should run a daemon pod and have
	// one available (ready for minReadySeconds).
	// +optional
	NumberAvailable int32 `json:"numberAvailable,omitempty"`
	// NumberUnavailable is the nodes that should run a daemon pod and have
	// none available.
	// +optional
	NumberUnavailable int32 `json:"numberUnavailable,omitempty"`
	// CollisionCount disambiguates revision names on hash collisions.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// Conditions: the controller reports nodes the rollout left behind
	// (RolloutSelectorExcluded) here.
	// +optional
	Conditions []appsv1.DaemonSetCondition `json:"conditions,omitempty"`
	// DaemonSetHash is v1alpha1's name for the update revision's hash;
	// kept equal to UpdateRevision.
	// +optional
	DaemonSetHash string `json:"daemonSetHash,omitempty"`
	// UpdateRevision is the hash of the revision pods are updated to.
	// +optional
	UpdateRevision string `json:"updateRevision,omitempty"`
}

// DaemonSet runs one pod per eligible node and rolls out new revisions of it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=daemon;ads
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="DESIRED",type="integer",JSONPath=".status.desiredNumberScheduled",description="Nodes that should run the daemon pod."
// +kubebuilder:printcolumn:name="CURRENT",type="integer",JSONPath=".status.currentNumberScheduled",description="Nodes running the daemon pod."
// +kubebuilder:printcolumn:name="READY",type="integer",JSONPath=".status.numberReady",description="Nodes with a ready daemon pod."
// +kubebuilder:printcolumn:name="UP-TO-DATE",type="integer",JSONPath=".status.updatedNumberScheduled",description="Nodes running the update revision."
// +kubebuilder:printcolumn:name="AVAILABLE",type="integer",JSONPath=".status.numberAvailable",description="Nodes with an available daemon pod."
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="CONTAINERS",type="string",priority=1,JSONPath=".spec.template.spec.containers[*].name",description="Container names."
// +kubebuilder:printcolumn:name="IMAGES",type="string",priority=1,JSONPath=".spec.template.spec.containers[*].image",description="Container images."
type DaemonSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DaemonSetSpec   `json:"spec,omitempty"`
	Status DaemonSetStatus `json:"status,omitempty"`
}

// DaemonSetList is a list of DaemonSets.
//
// +kubebuilder:object:root=true
type DaemonSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DaemonSet `json:"items"`
}

var _ runtime.Object = &DaemonSet{}
