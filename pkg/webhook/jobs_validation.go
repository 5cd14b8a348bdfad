package webhook

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/advancedcronjob"
)

// maxCronJobNameLength leaves room for the "-<unix seconds>" suffix of
// the jobs an AdvancedCronJob creates within the 63 characters a job name
// may have (it becomes a label value of the job's pods), as upstream
// CronJob does.
const maxCronJobNameLength = 52

// ValidateBroadcastJob validates a BroadcastJob being created or updated.
// Every error's field path names the field to fix.
func ValidateBroadcastJob(job *v1beta1.BroadcastJob) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(job.Name) {
		// The name is the value of the broadcastjob-name label on its pods.
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), job.Name, msg))
	}
	return append(errs, validateBroadcastJobSpec(&job.Spec, field.NewPath("spec"))...)
}

func validateBroadcastJobSpec(spec *v1beta1.BroadcastJobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if p := spec.Parallelism; p != nil {
		if _, _, err := ParseIntOrPercent(*p); err != nil {
			errs = append(errs, field.Invalid(path.Child("parallelism"), p.String(), err.Error()))
		}
	}
	cp := spec.CompletionPolicy
	cpPath := path.Child("completionPolicy")
	if cp.ActiveDeadlineSeconds != nil {
		if *cp.ActiveDeadlineSeconds <= 0 {
			errs = append(errs, field.Invalid(cpPath.Child("activeDeadlineSeconds"), *cp.ActiveDeadlineSeconds, "must be greater than 0"))
		}
		if cp.Type == v1beta1.Never {
			errs = append(errs, field.Forbidden(cpPath.Child("activeDeadlineSeconds"), "a job with completionPolicy Never never ends; remove activeDeadlineSeconds or use Always"))
		}
	}
	if cp.TTLSecondsAfterFinished != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*cp.TTLSecondsAfterFinished), cpPath.Child("ttlSecondsAfterFinished"))...)
		if cp.Type == v1beta1.Never {
			errs = append(errs, field.Forbidden(cpPath.Child("ttlSecondsAfterFinished"), "a job with completionPolicy Never never finishes; remove ttlSecondsAfterFinished or use Always"))
		}
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.FailurePolicy.RestartLimit), path.Child("failurePolicy", "restartLimit"))...)

	tPath := path.Child("template")
	for _, key := range []string{v1beta1.BroadcastJobNameLabel, v1beta1.BroadcastJobControllerUIDLabel} {
		if _, ok := spec.Template.Labels[key]; ok {
			errs = append(errs, field.Forbidden(tPath.Child("metadata", "labels").Key(key), "set by the controller on each pod; remove it from the template"))
		}
	}
	return append(errs, validateRunToCompletionTemplate(&spec.Template, "a BroadcastJob", tPath)...)
}

// validateRunToCompletionTemplate checks the pod template of a job, whose
// pods must end: restartPolicy Never or OnFailure, given explicitly (a
// pod's default, Always, would never finish).
func validateRunToCompletionTemplate(t *corev1.PodTemplateSpec, what string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, metav1validation.ValidateLabels(t.Labels, path.Child("metadata", "labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, path.Child("metadata", "annotations"))...)
	spec := &t.Spec
	specPath := path.Child("spec")
	switch spec.RestartPolicy {
	case corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure:
	case "":
		errs = append(errs, field.Required(specPath.Child("restartPolicy"), "set Never or OnFailure: "+what+"'s pods must finish"))
	default:
		errs = append(errs, field.NotSupported(specPath.Child("restartPolicy"), spec.RestartPolicy,
			[]string{string(corev1.RestartPolicyNever), string(corev1.RestartPolicyOnFailure)}))
	}
	if len(spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"),
			"ephemeral containers are added to running pods, not to templates; remove them"))
	}
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(specPath.Child("containers"), what+"'s pods need at least one container"))
	}
	volumes := validateVolumeNames(spec.Volumes, nil, specPath.Child("volumes"), nil)
	errs = append(errs, volumes.errs...)
	names := map[string]bool{}
	for i := range spec.InitContainers {
		errs = append(errs, validateContainer(&spec.InitContainers[i], names, volumes.names, specPath.Child("initContainers").Index(i))...)
	}
	for i := range spec.Containers {
		errs = append(errs, validateContainer(&spec.Containers[i], names, volumes.names, specPath.Child("containers").Index(i))...)
	}
	return errs
}

// ValidateAdvancedCronJob validates an AdvancedCronJob being created or
// updated.
func ValidateAdvancedCronJob(acj *v1beta1.AdvancedCronJob) field.ErrorList {
	var errs field.ErrorList
	namePath := field.NewPath("metadata", "name")
	for _, msg := range validation.IsDNS1123Label(acj.Name) {
		errs = append(errs, field.Invalid(namePath, acj.Name, msg))
	}
	if len(acj.Name) > maxCronJobNameLength {
		errs = append(errs, field.TooLong(namePath, acj.Name, maxCronJobNameLength))
	}
	spec := &acj.Spec
	path := field.NewPath("spec")
	tz := spec.TimeZone
	if tz != nil {
		tzPath := path.Child("timeZone")
		if _, err := time.LoadLocation(*tz); err != nil || *tz == "" || strings.EqualFold(*tz, "Local") {
			errs = append(errs, field.Invalid(tzPath, *tz, "name a time zone of the IANA database, such as Europe/Berlin, or leave timeZone unset"))
			tz = nil // still check the schedule on its own
		}
	}
	if _, err := advancedcronjob.ParseSchedule(spec.Schedule, tz); err != nil {
		errs = append(errs, field.Invalid(path.Child("schedule"), spec.Schedule, err.Error()))
	}
	if s := spec.StartingDeadlineSeconds; s != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*s, path.Child("startingDeadlineSeconds"))...)
	}
	if l := spec.SuccessfulJobsHistoryLimit; l != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*l), path.Child("successfulJobsHistoryLimit"))...)
	}
	if l := spec.FailedJobsHistoryLimit; l != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*l), path.Child("failedJobsHistoryLimit"))...)
	}
	tPath := path.Child("template")
	tmpl := &spec.Template
	switch {
	case tmpl.JobTemplate != nil && tmpl.BroadcastJobTemplate != nil:
		errs = append(errs, field.Forbidden(tPath, "set one of jobTemplate and broadcastJobTemplate, not both"))
	case tmpl.JobTemplate != nil:
		errs = append(errs, validateJobTemplate(tmpl.JobTemplate, tPath.Child("jobTemplate"))...)
	case tmpl.BroadcastJobTemplate != nil:
		bPath := tPath.Child("broadcastJobTemplate")
		errs = append(errs, metav1validation.ValidateLabels(tmpl.BroadcastJobTemplate.Labels, bPath.Child("metadata", "labels"))...)
		errs = append(errs, apivalidation.ValidateAnnotations(tmpl.BroadcastJobTemplate.Annotations, bPath.Child("metadata", "annotations"))...)
		errs = append(errs, validateBroadcastJobSpec(&tmpl.BroadcastJobTemplate.Spec, bPath.Child("spec"))...)
	default:
		errs = append(errs, field.Required(tPath, "set jobTemplate (runs a Job) or broadcastJobTemplate (runs a BroadcastJob)"))
	}
	return errs
}

func validateJobTemplate(t *batchv1.JobTemplateSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, metav1validation.ValidateLabels(t.Labels, path.Child("metadata", "labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, path.Child("metadata", "annotations"))...)
	specPath := path.Child("spec")
	for _, f := range []struct {
		name string
		v    *int32
	}{{"parallelism", t.Spec.Parallelism}, {"completions", t.Spec.Completions}, {"backoffLimit", t.Spec.BackoffLimit}, {"ttlSecondsAfterFinished", t.Spec.TTLSecondsAfterFinished}} {
		if f.v != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*f.v), specPath.Child(f.name))...)
		}
	}
	if v := t.Spec.ActiveDeadlineSeconds; v != nil && *v <= 0 {
		errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), *v, "must be greater than 0"))
	}
	if t.Spec.Selector != nil && (t.Spec.ManualSelector == nil || !*t.Spec.ManualSelector) {
		errs = append(errs, field.Forbidden(specPath.Child("selector"), fmt.Sprintf("a Job generates its selector; remove it or set %s", specPath.Child("manualSelector"))))
	}
	return append(errs, validateRunToCompletionTemplate(&t.Spec.Template, "a Job", specPath.Child("template"))...)
}
