package webhook

import (
	"math"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

func validBroadcastJob() *v1beta1.BroadcastJob {
	return &v1beta1.BroadcastJob{
		ObjectMeta: metav1.ObjectMeta{Name: "warm-cache", Namespace: "default"},
		Spec: v1beta1.BroadcastJobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "pull", Image: "busybox"}},
		}}},
	}
}

func validCronJob() *v1beta1.AdvancedCronJob {
	b := validBroadcastJob()
	return &v1beta1.AdvancedCronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "default"},
		Spec: v1beta1.AdvancedCronJobSpec{Schedule: "0 3 * * *",
			Template: v1beta1.CronJobTemplate{BroadcastJobTemplate: &v1beta1.BroadcastJobTemplateSpec{Spec: b.Spec}}},
	}
}

func TestValidateBroadcastJob(t *testing.T) {
	cases := []struct {
		name    string
		mut     func(*v1beta1.BroadcastJob)
		wantErr string // "" accepted; else the field path (and words) the error must name
	}{
		{name: "valid"},
		{name: "OnFailure", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }},
		{name: "restartPolicy Always", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			wantErr: `spec.template.spec.restartPolicy: Unsupported value: "Always"`},
		{name: "restartPolicy unset", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Template.Spec.RestartPolicy = "" },
			wantErr: "spec.template.spec.restartPolicy: Required value"},
		{name: "parallelism negative", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Parallelism = ptr.To(intstr.FromInt32(-1)) },
			wantErr: "spec.parallelism"},
		{name: "parallelism not a percentage", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Parallelism = ptr.To(intstr.FromString("half")) },
			wantErr: "spec.parallelism"},
		{name: "parallelism 150%", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Parallelism = ptr.To(intstr.FromString("150%")) },
			wantErr: "spec.parallelism"},
		{name: "parallelism 30%", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Parallelism = ptr.To(intstr.FromString("30%")) }},
		{name: "deadline zero", mut: func(j *v1beta1.BroadcastJob) { j.Spec.CompletionPolicy.ActiveDeadlineSeconds = ptr.To[int64](0) },
			wantErr: "spec.completionPolicy.activeDeadlineSeconds"},
		{name: "TTL with Never", mut: func(j *v1beta1.BroadcastJob) {
			j.Spec.CompletionPolicy = v1beta1.CompletionPolicy{Type: v1beta1.Never, TTLSecondsAfterFinished: ptr.To[int32](10)}
		}, wantErr: "spec.completionPolicy.ttlSecondsAfterFinished: Forbidden"},
		{name: "negative restartLimit", mut: func(j *v1beta1.BroadcastJob) { j.Spec.FailurePolicy.RestartLimit = -1 },
			wantErr: "spec.failurePolicy.restartLimit"},
		{name: "controller's label in template", mut: func(j *v1beta1.BroadcastJob) {
			j.Spec.Template.Labels = map[string]string{v1beta1.BroadcastJobControllerUIDLabel: "x"}
		}, wantErr: "spec.template.metadata.labels[broadcastjob-controller-uid]"},
		{name: "no containers", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Template.Spec.Containers = nil },
			wantErr: "spec.template.spec.containers: Required value"},
		{name: "no image", mut: func(j *v1beta1.BroadcastJob) { j.Spec.Template.Spec.Containers[0].Image = "" },
			wantErr: "spec.template.spec.containers[0].image"},
		{name: "name too long for a label", mut: func(j *v1beta1.BroadcastJob) { j.Name = strings.Repeat("a", 64) },
			wantErr: "metadata.name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := validBroadcastJob()
			if c.mut != nil {
				c.mut(j)
			}
			check(t, ValidateBroadcastJob(j).ToAggregate(), c.wantErr)
		})
	}
}

func check(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("rejected: %v", err)
	case want != "" && err == nil:
		t.Errorf("accepted, want an error naming %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not name %q", err, want)
	}
}

func TestValidateAdvancedCronJob(t *testing.T) {
	job := &batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
	cases := []struct {
		name    string
		mut     func(*v1beta1.AdvancedCronJob)
		wantErr string
	}{
		{name: "valid"},
		{name: "job template", mut: func(a *v1beta1.AdvancedCronJob) {
			a.Spec.Template = v1beta1.CronJobTemplate{JobTemplate: job.DeepCopy()}
		}},
		{name: "time zone", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.TimeZone = ptr.To("Europe/Berlin") }},
		{name: "descriptor", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.Schedule = "@daily" }},
		{name: "unparsable schedule", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.Schedule = "every night" },
			wantErr: "spec.schedule"},
		{name: "out of range", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.Schedule = "0 25 * * *" },
			wantErr: "spec.schedule"},
		{name: "empty schedule", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.Schedule = "" },
			wantErr: "spec.schedule"},
		{name: "unknown time zone", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.TimeZone = ptr.To("Europe/Atlantis") },
			wantErr: "spec.timeZone"},
		{name: "Local time zone", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.TimeZone = ptr.To("Local") },
			wantErr: "spec.timeZone"},
		{name: "time zone twice", mut: func(a *v1beta1.AdvancedCronJob) {
			a.Spec.TimeZone = ptr.To("UTC")
			a.Spec.Schedule = "CRON_TZ=UTC 0 3 * * *"
		}, wantErr: "spec.schedule"},
		{name: "both templates", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.Template.JobTemplate = job.DeepCopy() },
			wantErr: "spec.template: Forbidden"},
		{name: "no template", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.Template = v1beta1.CronJobTemplate{} },
			wantErr: "spec.template: Required value"},
		{name: "broadcast template with restartPolicy Always", mut: func(a *v1beta1.AdvancedCronJob) {
			a.Spec.Template.BroadcastJobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}, wantErr: "spec.template.broadcastJobTemplate.spec.template.spec.restartPolicy"},
		{name: "job template with restartPolicy Always", mut: func(a *v1beta1.AdvancedCronJob) {
			j := job.DeepCopy()
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			a.Spec.Template = v1beta1.CronJobTemplate{JobTemplate: j}
		}, wantErr: "spec.template.jobTemplate.spec.template.spec.restartPolicy"},
		{name: "negative deadline", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.StartingDeadlineSeconds = ptr.To[int64](-1) },
			wantErr: "spec.startingDeadlineSeconds"},
		{name: "negative history", mut: func(a *v1beta1.AdvancedCronJob) { a.Spec.FailedJobsHistoryLimit = ptr.To[int32](-1) },
			wantErr: "spec.failedJobsHistoryLimit"},
		{name: "name leaves no room for the schedule suffix", mut: func(a *v1beta1.AdvancedCronJob) { a.Name = strings.Repeat("a", 53) },
			wantErr: "metadata.name: Too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := validCronJob()
			if c.mut != nil {
				c.mut(a)
			}
			check(t, ValidateAdvancedCronJob(a).ToAggregate(), c.wantErr)
		})
	}
}

func TestDefaultJobs(t *testing.T) {
	td := TemplateDefaults{PodTemplate: func(p *corev1.PodTemplateSpec) { p.Spec.SchedulerName = "default-scheduler" }}
	j := validBroadcastJob()
	DefaultBroadcastJob(&j.Spec, true, td)
	if j.Spec.CompletionPolicy.Type != v1beta1.Always || j.Spec.FailurePolicy.Type != v1beta1.FailurePolicyTypeFailFast ||
		j.Spec.Parallelism.IntValue() != math.MaxInt32 || j.Spec.Template.Spec.SchedulerName != "default-scheduler" {
		t.Errorf("BroadcastJob defaults: %+v", j.Spec)
	}
	if errs := ValidateBroadcastJob(j); len(errs) > 0 {
		t.Errorf("defaulted job invalid: %v", errs.ToAggregate())
	}
	// An unset restartPolicy is left for validation to name, not turned
	// into the pod default Always by the pod defaults.
	unset := validBroadcastJob()
	unset.Spec.Template.Spec.RestartPolicy = ""
	DefaultBroadcastJob(&unset.Spec, true, TemplateDefaults{PodTemplate: func(p *corev1.PodTemplateSpec) { p.Spec.RestartPolicy = corev1.RestartPolicyAlways }})
	if unset.Spec.Template.Spec.RestartPolicy != "" {
		t.Errorf("restartPolicy defaulted to %q", unset.Spec.Template.Spec.RestartPolicy)
	}
	// Explicit values stay.
	keep := validBroadcastJob()
	keep.Spec.Parallelism = ptr.To(intstr.FromString("10%"))
	keep.Spec.FailurePolicy.Type = v1beta1.FailurePolicyTypeContinue
	DefaultBroadcastJob(&keep.Spec, false, td)
	if keep.Spec.Parallelism.StrVal != "10%" || keep.Spec.FailurePolicy.Type != v1beta1.FailurePolicyTypeContinue || keep.Spec.Template.Spec.SchedulerName != "" {
		t.Errorf("defaulting changed set fields or an unchanged template: %+v", keep.Spec)
	}

	a := validCronJob()
	DefaultAdvancedCronJob(a, true, td)
	if a.Spec.ConcurrencyPolicy != v1beta1.AllowConcurrent || a.Spec.Paused == nil || *a.Spec.Paused ||
		*a.Spec.SuccessfulJobsHistoryLimit != 3 || *a.Spec.FailedJobsHistoryLimit != 1 ||
		a.Spec.Template.BroadcastJobTemplate.Spec.CompletionPolicy.Type != v1beta1.Always {
		t.Errorf("AdvancedCronJob defaults: %+v", a.Spec)
	}
}
