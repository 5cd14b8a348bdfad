package v1beta1

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScheduledTimeAnnotation on a job an AdvancedCronJob created is the
// schedule time it runs for (RFC 3339), OpenKruise's key.
const ScheduledTimeAnnotation = "apps.kruise.io/scheduled-at"

// AdvancedCronJobSpec is a cron schedule and the job it runs.
type AdvancedCronJobSpec struct {
	// Schedule is a cron expression (five fields, or a descriptor such as
	// @hourly).
	Schedule string `json:"schedule"`

	// TimeZone is an IANA zone name the schedule is read in; unset means the
	// manager's local zone.
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`

	// StartingDeadlineSeconds: a run that could not start within this many
	// seconds of its scheduled time is skipped.
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// ConcurrencyPolicy is Allow (the default), Forbid or Replace.
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// Paused stops new runs; running jobs are left alone.
	// +optional
	Paused *bool `json:"paused,omitempty"`

	// SuccessfulJobsHistoryLimit is how many finished successful jobs to keep.
	// +optional
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`

	// FailedJobsHistoryLimit is how many finished failed jobs to keep.
	// +optional
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`

	// Template is the job each run creates.
	Template CronJobTemplate `json:"template"`
}

// CronJobTemplate holds exactly one of a Job or a BroadcastJob template.
type CronJobTemplate struct {
	// JobTemplate makes each run a batch/v1 Job.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	JobTemplate *batchv1.JobTemplateSpec `json:"jobTemplate,omitempty"`

	// BroadcastJobTemplate makes each run a BroadcastJob.
	// +optional
	BroadcastJobTemplate *BroadcastJobTemplateSpec `json:"broadcastJobTemplate,omitempty"`
}

// TemplateKind is the kind of job an AdvancedCronJob creates.
type TemplateKind string

const (
	JobTemplate          TemplateKind = "Job"
	BroadcastJobTemplate TemplateKind = "BroadcastJob"
)

// BroadcastJobTemplateSpec is the metadata and spec of the BroadcastJobs
// an AdvancedCronJob creates.
type BroadcastJobTemplateSpec struct {
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +optional
	Spec BroadcastJobSpec `json:"spec,omitempty"`
}

// ConcurrencyPolicy is what a run does when the previous one is still
// running.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

const (
	// AllowConcurrent runs them side by side.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent skips the new run.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent deletes the running jobs and starts the new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// AdvancedCronJobStatus is what the controller observed.
type AdvancedCronJobStatus struct {
	// Type is the kind of job the template makes.
	// +optional
	Type TemplateKind `json:"type,omitempty"`

	// Active are the jobs still running.
	// +optional
	Active []corev1.ObjectReference `json:"active,omitempty"`

	// LastScheduleTime is the latest schedule time a job was created for (or
	// deliberately skipped); runs at or before it are never created again.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
}

// AdvancedCronJob creates a Job or BroadcastJob on a cron schedule.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=acj
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Schedule",type="string",JSONPath=".spec.schedule",description="Cron schedule"
// +kubebuilder:printcolumn:name="Type",type="string",JSONPath=".status.type",description="Kind of job created"
// +kubebuilder:printcolumn:name="LastScheduleTime",type="date",JSONPath=".status.lastScheduleTime",description="Latest run scheduled"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type AdvancedCronJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AdvancedCronJobSpec   `json:"spec,omitempty"`
	Status AdvancedCronJobStatus `json:"status,omitempty"`
}

// AdvancedCronJobList is a list of AdvancedCronJobs.
//
// +kubebuilder:object:root=true
type AdvancedCronJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AdvancedCronJob `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &AdvancedCronJob{}, &AdvancedCronJobList{})
}
