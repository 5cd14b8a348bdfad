package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels Myriad puts on every pod of a BroadcastJob, with OpenKruise's keys.
// The controller's pod cache selects on BroadcastJobControllerUIDLabel, so a
// pod without it is never seen or adopted.
const (
	BroadcastJobNameLabel          = "broadcastjob-name"
	BroadcastJobControllerUIDLabel = "broadcastjob-controller-uid"
)

// BroadcastJobSpec is what a BroadcastJob asks for: one pod of Template on
// every node the template may run on.
type BroadcastJobSpec struct {
	// Parallelism caps how many pods run at once, as a count or a percentage
	// of the eligible nodes; unset means no cap.
	// +optional
	// +kubebuilder:validation:XIntOrString
	Parallelism *intstr.IntOrString `json:"parallelism,omitempty"`

	// Template is the pod run on each node. Its restartPolicy must be Never
	// or OnFailure.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Template corev1.PodTemplateSpec `json:"template"`

	// CompletionPolicy says when the job is finished.
	// +optional
	CompletionPolicy CompletionPolicy `json:"completionPolicy"`

	// Paused stops the job from creating pods; running pods keep running.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// FailurePolicy says what a failed pod does to the job.
	// +optional
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`
}

// CompletionPolicy says when a BroadcastJob is finished.
type CompletionPolicy struct {
	// Type is Always (the default) or Never.
	// +optional
	// +kubebuilder:validation:Enum=Always;Never
	Type CompletionPolicyType `json:"type,omitempty"`

	// ActiveDeadlineSeconds fails the job that long after its start time
	// (type Always only).
	// +optional
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// TTLSecondsAfterFinished deletes the job that long after it finished
	// (type Always only); unset keeps it.
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// CompletionPolicyType is when a BroadcastJob finishes.
type CompletionPolicyType string

const (
	// Always finishes the job once every eligible node's pod has finished,
	// the active deadline passes, or the failure policy fails it.
	Always CompletionPolicyType = "Always"
	// Never keeps the job running, so nodes that appear later get a pod.
	Never CompletionPolicyType = "Never"
)

// FailurePolicy says what a failed pod does to its BroadcastJob.
type FailurePolicy struct {
	// Type is FailFast (the default), Continue or Pause.
	// +optional
	// +kubebuilder:validation:Enum=Continue;FailFast;Pause
	Type FailurePolicyType `json:"type,omitempty"`

	// RestartLimit is how many container restarts, summed over the job's
	// pods, the job tolerates before it fails.
	// +optional
	RestartLimit int32 `json:"restartLimit,omitempty"`
}

// FailurePolicyType is what a failed pod does to its BroadcastJob.
type FailurePolicyType string

const (
	// FailurePolicyTypeContinue keeps the job running past failed pods.
	FailurePolicyTypeContinue FailurePolicyType = "Continue"
	// FailurePolicyTypeFailFast fails the job at the first failed pod.
	FailurePolicyTypeFailFast FailurePolicyType = "FailFast"
	// FailurePolicyTypePause pauses the job at the first failed pod.
	FailurePolicyTypePause FailurePolicyType = "Pause"
)

// BroadcastJobStatus is what the controller observed. Every count is
// recomputed from the job's pods on each pass.
type BroadcastJobStatus struct {
	// Conditions are Complete and Failed.
	// +optional
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	Conditions []JobCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// StartTime is when the controller first saw the job.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the job finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// Active counts pods not yet finished.
	Active int32 `json:"active"`
	// Succeeded counts pods in phase Succeeded.
	Succeeded int32 `json:"succeeded"`
	// Failed counts pods in phase Failed.
	Failed int32 `json:"failed"`
	// Desired is the number of nodes the job runs on.
	Desired int32 `json:"desired"`
	// Phase is running, paused, completed or failed.
	Phase BroadcastJobPhase `json:"phase"`
}

// BroadcastJobPhase is a BroadcastJob's phase (lower case, as OpenKruise).
type BroadcastJobPhase string

const (
	PhaseRunning   BroadcastJobPhase = "running"
	PhasePaused    BroadcastJobPhase = "paused"
	PhaseCompleted BroadcastJobPhase = "completed"
	PhaseFailed    BroadcastJobPhase = "failed"
)

// JobConditionType is a BroadcastJob condition.
type JobConditionType string

const (
	// JobComplete: every eligible node's pod has finished.
	JobComplete JobConditionType = "Complete"
	// JobFailed: the deadline passed or the failure policy failed the job.
	JobFailed JobConditionType = "Failed"
)

// JobCondition is one condition of a BroadcastJob.
type JobCondition struct {
	Type   JobConditionType       `json:"type"`
	Status corev1.ConditionStatus `json:"status"`
	// +optional
	LastProbeTime metav1.Time `json:"lastProbeTime,omitempty"`
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// BroadcastJob runs one pod on every eligible node, like a DaemonSet whose
// pods run to completion.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=bcj
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Desired",type="integer",JSONPath=".status.desired",description="Nodes the job runs on"
// +kubebuilder:printcolumn:name="Active",type="integer",JSONPath=".status.active",description="Pods not finished"
// +kubebuilder:printcolumn:name="Succeeded",type="integer",JSONPath=".status.succeeded",description="Pods succeeded"
// +kubebuilder:printcolumn:name="Failed",type="integer",JSONPath=".status.failed",description="Pods failed"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type BroadcastJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BroadcastJobSpec   `json:"spec,omitempty"`
	Status BroadcastJobStatus `json:"status,omitempty"`
}

// BroadcastJobList is a list of BroadcastJobs.
//
// +kubebuilder:object:root=true
type BroadcastJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BroadcastJob `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &BroadcastJob{}, &BroadcastJobList{})
}
