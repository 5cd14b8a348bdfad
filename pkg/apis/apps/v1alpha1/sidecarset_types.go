package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Pod annotations a SidecarSet's injection writes, with OpenKruise's keys
// so tools written for OpenKruise can tell injected pods and their revision.
const (
	// SidecarSetHashAnnotation is a JSON object keyed by SidecarSet name;
	// each value says which revision (hash) of that SidecarSet the pod got
	// and the names of its sidecar containers. The SidecarSet carries its
	// current hash under the same key.
	SidecarSetHashAnnotation = "kruise.io/sidecarset-hash"
	// SidecarSetHashWithoutImageAnnotation is the same, hashing the spec
	// without the sidecar images: a pod whose value matches differs only in
	// images, which is what an in-place sidecar upgrade can change.
	SidecarSetHashWithoutImageAnnotation = "kruise.io/sidecarset-hash-without-image"
	// SidecarSetListAnnotation is the comma-separated names of the
	// SidecarSets injected into the pod.
	SidecarSetListAnnotation = "kruise.io/sidecarset-injected-list"
	// SidecarSetCustomVersionLabel is the label whose value is a
	// SidecarSet's spec.customVersion.
	SidecarSetCustomVersionLabel = "apps.kruise.io/sidecarset-custom-version"
)

// SidecarSetSpec says which pods get which sidecars.
type SidecarSetSpec struct {
	// Selector picks the pods, by their labels, that get the sidecars.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Namespace limits the SidecarSet to pods of one namespace. OpenKruise
	// serves it in v1alpha1 only; Myriad carries it in both versions so
	// the versions convert without loss (see the package doc).
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// NamespaceSelector limits the SidecarSet to pods of namespaces whose
	// labels match. With namespace also set, a pod must satisfy both.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// InitContainers are added to the pod's init containers, after the
	// pod's own.
	// +optional
	// +patchMergeKey=name
	// +patchStrategy=merge
	InitContainers []SidecarContainer `json:"initContainers,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// Containers are the sidecars added to the pod's containers.
	// +optional
	// +patchMergeKey=name
	// +patchStrategy=merge
	Containers []SidecarContainer `json:"containers,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// Volumes are added to the pod unless it has a volume of the same name.
	// +optional
	// +patchMergeKey=name
	// +patchStrategy=merge
	Volumes []corev1.Volume `json:"volumes,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// UpdateStrategy says how sidecars of injected pods are upgraded.
	// +optional
	UpdateStrategy SidecarSetUpdateStrategy `json:"updateStrategy,omitempty"`

	// InjectionStrategy says whether and which revision new pods get.
	// +optional
	InjectionStrategy SidecarSetInjectionStrategy `json:"injectionStrategy,omitempty"`

	// ImagePullSecrets are added to the pod's unless already there.
	// +optional
	// +patchMergeKey=name
	// +patchStrategy=merge
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// RevisionHistoryLimit is how many old revisions are kept.
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// PatchPodMetadata are annotations written on injected pods.
	// +optional
	PatchPodMetadata []SidecarSetPatchPodMetadata `json:"patchPodMetadata,omitempty"`

	// CustomVersion is a user's name for this spec. OpenKruise serves it
	// in v1beta1 only; Myriad carries it in both versions.
	// +optional
	CustomVersion string `json:"customVersion,omitempty"`
}

// SidecarSetPatchPodMetadata writes annotations on injected pods.
type SidecarSetPatchPodMetadata struct {
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// PatchPolicy is Retain (the default: a pod's own value stays),
	// Overwrite, or MergePatchJson.
	// +optional
	// +kubebuilder:validation:Enum=Retain;Overwrite;MergePatchJson
	PatchPolicy SidecarSetPatchPolicyType `json:"patchPolicy,omitempty"`
}

// SidecarSetPatchPolicyType says what happens to an annotation the pod has.
type SidecarSetPatchPolicyType string

// The patch policies of patchPodMetadata.
const (
	SidecarSetRetainPatchPolicy         SidecarSetPatchPolicyType = "Retain"
	SidecarSetOverwritePatchPolicy      SidecarSetPatchPolicyType = "Overwrite"
	SidecarSetMergePatchJSONPatchPolicy SidecarSetPatchPolicyType = "MergePatchJson"
)

// SidecarContainer is a container to inject, with how.
type SidecarContainer struct {
	corev1.Container `json:",inline"`

	// PodInjectPolicy puts the sidecar before (the default) or after the
	// pod's own containers.
	// +optional
	PodInjectPolicy PodInjectPolicyType `json:"podInjectPolicy,omitempty"`

	// UpgradeStrategy is ColdUpgrade (the default) or HotUpgrade.
	// +optional
	UpgradeStrategy SidecarContainerUpgradeStrategy `json:"upgradeStrategy,omitempty"`

	// ShareVolumePolicy enabled mounts the app containers' volumes into
	// the sidecar too.
	// +optional
	ShareVolumePolicy ShareVolumePolicy `json:"shareVolumePolicy,omitempty"`

	// ShareVolumeDevicePolicy is ShareVolumePolicy for volume devices.
	// +optional
	ShareVolumeDevicePolicy *ShareVolumePolicy `json:"shareVolumeDevicePolicy,omitempty"`

	// TransferEnv copies env vars from an app container into the sidecar.
	// +optional
	TransferEnv []TransferEnvVar `json:"transferEnv,omitempty"`

	// ResourcesPolicy derives the sidecar's resources from the app
	// containers'.
	// +optional
	ResourcesPolicy *ResourcesPolicy `json:"resourcesPolicy,omitempty"`
}

// PodInjectPolicyType is where a sidecar goes among the pod's containers.
type PodInjectPolicyType string

// The inject policies.
const (
	BeforeAppContainerType PodInjectPolicyType = "BeforeAppContainer"
	AfterAppContainerType  PodInjectPolicyType = "AfterAppContainer"
)

// ShareVolumePolicy says whether a sidecar mounts the app's volumes.
type ShareVolumePolicy struct {
	// +optional
	Type ShareVolumePolicyType `json:"type,omitempty"`
}

// ShareVolumePolicyType is enabled or disabled.
type ShareVolumePolicyType string

// The share volume policies.
const (
	ShareVolumePolicyEnabled  ShareVolumePolicyType = "enabled"
	ShareVolumePolicyDisabled ShareVolumePolicyType = "disabled"
)

// TransferEnvVar names env vars to copy from an app container.
type TransferEnvVar struct {
	// SourceContainerName is the app container to copy from.
	// +optional
	SourceContainerName string `json:"sourceContainerName,omitempty"`
	// SourceContainerNameFrom reads the container name from the pod.
	// +optional
	SourceContainerNameFrom *SourceContainerNameSource `json:"sourceContainerNameFrom,omitempty"`
	// EnvName is one variable to copy.
	// +optional
	EnvName string `json:"envName,omitempty"`
	// EnvNames are variables to copy.
	// +optional
	EnvNames []string `json:"envNames,omitempty"`
}

// SourceContainerNameSource reads a container name from a pod field.
type SourceContainerNameSource struct {
	// +optional
	FieldRef *corev1.ObjectFieldSelector `json:"fieldRef,omitempty"`
}

// ResourcesPolicy computes a sidecar's resources from app containers'.
type ResourcesPolicy struct {
	// TargetContainersMode is sum or max.
	TargetContainersMode TargetContainersModeType `json:"targetContainersMode"`
	// +optional
	TargetContainersNameRegex string        `json:"targetContainersNameRegex,omitempty"`
	ResourcesExpr             ResourcesExpr `json:"resourcesExpr"`
}

// TargetContainersModeType is how app containers' resources combine.
type TargetContainersModeType string

// The target container modes.
const (
	TargetContainersModeSum TargetContainersModeType = "sum"
	TargetContainersModeMax TargetContainersModeType = "max"
)

// ResourcesExpr are the expressions for limits and requests.
type ResourcesExpr struct {
	// +optional
	Limits *ResourceExprLimits `json:"limits,omitempty"`
	// +optional
	Requests *ResourceExprRequests `json:"requests,omitempty"`
}

// ResourceExprLimits are limit expressions.
type ResourceExprLimits struct {
	// +optional
	CPU string `json:"cpu,omitempty"`
	// +optional
	Memory string `json:"memory,omitempty"`
}

// ResourceExprRequests are request expressions.
type ResourceExprRequests struct {
	// +optional
	CPU string `json:"cpu,omitempty"`
	// +optional
	Memory string `json:"memory,omitempty"`
}

// SidecarContainerUpgradeType is how a sidecar is upgraded.
type SidecarContainerUpgradeType string

// The upgrade types.
const (
	SidecarContainerColdUpgrade SidecarContainerUpgradeType = "ColdUpgrade"
	SidecarContainerHotUpgrade  SidecarContainerUpgradeType = "HotUpgrade"
)

// SidecarContainerUpgradeStrategy is how a sidecar is upgraded.
type SidecarContainerUpgradeStrategy struct {
	// +optional
	UpgradeType SidecarContainerUpgradeType `json:"upgradeType,omitempty"`
	// HotUpgradeEmptyImage is the image of the idle twin a HotUpgrade
	// sidecar runs beside it; required for HotUpgrade.
	// +optional
	HotUpgradeEmptyImage string `json:"hotUpgradeEmptyImage,omitempty"`
}

// SidecarSetInjectionStrategy says whether and what new pods get.
type SidecarSetInjectionStrategy struct {
	// Paused stops injecting into new pods.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// Revision pins new pods to a recorded revision.
	// +optional
	Revision *SidecarSetInjectRevision `json:"revision,omitempty"`
}

// SidecarSetInjectRevision names a revision to inject.
type SidecarSetInjectRevision struct {
	// +optional
	CustomVersion *string `json:"customVersion,omitempty"`
	// +optional
	RevisionName *string `json:"revisionName,omitempty"`
	// Policy is Always (the default) or Partial.
	// +optional
	Policy SidecarSetInjectRevisionPolicy `json:"policy,omitempty"`
}

// SidecarSetInjectRevisionPolicy is when the pinned revision applies.
type SidecarSetInjectRevisionPolicy string

// The inject revision policies.
const (
	AlwaysSidecarSetInjectRevisionPolicy  SidecarSetInjectRevisionPolicy = "Always"
	PartialSidecarSetInjectRevisionPolicy SidecarSetInjectRevisionPolicy = "Partial"
)

// SidecarSetUpdateStrategy is how injected sidecars are upgraded.
type SidecarSetUpdateStrategy struct {
	// Type is RollingUpdate (the default) or NotUpdate.
	// +optional
	Type SidecarSetUpdateStrategyType `json:"type,omitempty"`
	// +optional
	Paused bool `json:"paused,omitempty"`
	// Selector limits the upgrade to matching pods.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Partition is how many (or what share of) pods stay on the old
	// revision.
	// +optional
	// +kubebuilder:validation:XIntOrString
	Partition *intstr.IntOrString `json:"partition,omitempty"`
	// MaxUnavailable caps the pods upgrading at once.
	// +optional
	// +kubebuilder:validation:XIntOrString
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// +optional
	PriorityStrategy *pub.UpdatePriorityStrategy `json:"priorityStrategy,omitempty"`
	// +optional
	ScatterStrategy pub.UpdateScatterStrategy `json:"scatterStrategy,omitempty"`
}

// SidecarSetUpdateStrategyType is whether injected sidecars are upgraded.
type SidecarSetUpdateStrategyType string

// The update strategy types.
const (
	NotUpdateSidecarSetStrategyType     SidecarSetUpdateStrategyType = "NotUpdate"
	RollingUpdateSidecarSetStrategyType SidecarSetUpdateStrategyType = "RollingUpdate"
)

// SidecarSetStatus is what the controller last saw of the matching pods.
type SidecarSetStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// MatchedPods are the pods the SidecarSet selects that it injected.
	MatchedPods int32 `json:"matchedPods"`
	// UpdatedPods of them run the latest revision.
	UpdatedPods int32 `json:"updatedPods"`
	// ReadyPods of them are ready.
	ReadyPods int32 `json:"readyPods"`
	// UpdatedReadyPods of them are both.
	// +optional
	UpdatedReadyPods int32 `json:"updatedReadyPods,omitempty"`
	// LatestRevision names the ControllerRevision recording the current
	// spec.
	// +optional
	LatestRevision string `json:"latestRevision,omitempty"`
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// Conditions are Myriad's addition (OpenKruise has none): PodsInjected
	// is False while pods the SidecarSet selects run without its sidecars
	// (created before it existed or while injection was unavailable); the
	// message counts and names them.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Condition types of a SidecarSet.
const (
	// SidecarSetPodsInjected is False while matching pods lack sidecars.
	SidecarSetPodsInjected = "PodsInjected"
)

// SidecarSet injects sidecar containers, volumes and image pull secrets
// into the pods it selects when they are created.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="MATCHED",type="integer",JSONPath=".status.matchedPods",description="Injected pods the SidecarSet selects"
// +kubebuilder:printcolumn:name="UPDATED",type="integer",JSONPath=".status.updatedPods",description="Of them, on the latest revision"
// +kubebuilder:printcolumn:name="READY",type="integer",JSONPath=".status.readyPods",description="Of them, ready"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type SidecarSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SidecarSetSpec   `json:"spec,omitempty"`
	Status SidecarSetStatus `json:"status,omitempty"`
}

// SidecarSetList is a list of SidecarSets.
//
// +kubebuilder:object:root=true
type SidecarSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SidecarSet `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &SidecarSet{}, &SidecarSetList{})
}
