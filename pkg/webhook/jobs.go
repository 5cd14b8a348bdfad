package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// Where the BroadcastJob and AdvancedCronJob webhooks are served. They
// take v1beta1, the stored version; writes through v1alpha1 reach them
// converted (matchPolicy Equivalent, identical schemas).
const (
	DefaultBroadcastJobPath     = "/mutate-apps-kruise-io-v1beta1-broadcastjob"
	ValidateBroadcastJobPath    = "/validate-apps-kruise-io-v1beta1-broadcastjob"
	DefaultAdvancedCronJobPath  = "/mutate-apps-kruise-io-v1beta1-advancedcronjob"
	ValidateAdvancedCronJobPath = "/validate-apps-kruise-io-v1beta1-advancedcronjob"
)

// DefaultBroadcastJob fills what a BroadcastJob leaves unset with
// OpenKruise's defaults: completionPolicy Always, failurePolicy FailFast,
// parallelism unlimited (MaxInt32, as OpenKruise writes it). With
// templates, the pod template gets Kubernetes' pod defaults from td, unless
// its restartPolicy is unset: the pod default, Always, is not allowed for
// a job, and validation should say restartPolicy is missing rather than
// that it is Always.
func DefaultBroadcastJob(spec *v1beta1.BroadcastJobSpec, templates bool, td TemplateDefaults) {
	if spec.CompletionPolicy.Type == "" {
		spec.CompletionPolicy.Type = v1beta1.Always
	}
	if spec.FailurePolicy.Type == "" {
		spec.FailurePolicy.Type = v1beta1.FailurePolicyTypeFailFast
	}
	if spec.Parallelism == nil {
		spec.Parallelism = ptr.To(intstr.FromInt32(math.MaxInt32))
	}
	if templates {
		defaultJobPodTemplate(&spec.Template, td)
	}
}

func defaultJobPodTemplate(t *corev1.PodTemplateSpec, td TemplateDefaults) {
	if td.PodTemplate != nil && t.Spec.RestartPolicy != "" {
		td.PodTemplate(t)
	}
}

// DefaultAdvancedCronJob fills OpenKruise's defaults: concurrencyPolicy
// Allow, paused false, history limits 3 successful and 1 failed, and the
// defaults of the job template it carries.
func DefaultAdvancedCronJob(acj *v1beta1.AdvancedCronJob, templates bool, td TemplateDefaults) {
	spec := &acj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = v1beta1.AllowConcurrent
	}
	if spec.Paused == nil {
		spec.Paused = ptr.To(false)
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	}
	if b := spec.Template.BroadcastJobTemplate; b != nil {
		DefaultBroadcastJob(&b.Spec, templates, td)
	}
	if j := spec.Template.JobTemplate; j != nil && templates {
		defaultJobPodTemplate(&j.Spec.Template, td)
	}
}

// templateChanged reports whether an admission request creates the object
// or changes its templates (compared by changed); defaulting an unchanged
// template could rewrite it when the running Kubernetes' defaults differ
// from those it was written with.
func templateChanged[T any](ctx context.Context, changed func(old T) bool) (bool, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil || req.Operation != admissionv1.Update || len(req.OldObject.Raw) == 0 {
		return true, nil
	}
	var old T
	if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil {
		return false, fmt.Errorf("decode the stored object: %w", err)
	}
	return changed(old), nil
}

// BroadcastJobAdmission defaults and validates BroadcastJobs.
type BroadcastJobAdmission struct {
	Templates TemplateDefaults
}

var (
	_ admission.Defaulter[*v1beta1.BroadcastJob] = (*BroadcastJobAdmission)(nil)
	_ admission.Validator[*v1beta1.BroadcastJob] = (*BroadcastJobAdmission)(nil)
)

// Default applies DefaultBroadcastJob.
func (a *BroadcastJobAdmission) Default(ctx context.Context, job *v1beta1.BroadcastJob) error {
	templates, err := templateChanged(ctx, func(old v1beta1.BroadcastJob) bool {
		return !apiequality.Semantic.DeepEqual(old.Spec.Template, job.Spec.Template)
	})
	if err != nil {
		return fmt.Errorf("BroadcastJob %s/%s: %w", job.Namespace, job.Name, err)
	}
	DefaultBroadcastJob(&job.Spec, templates, a.Templates)
	return nil
}

// ValidateCreate rejects an invalid BroadcastJob.
func (a *BroadcastJobAdmission) ValidateCreate(_ context.Context, job *v1beta1.BroadcastJob) (admission.Warnings, error) {
	return nil, invalidJob(v1beta1.Kind("BroadcastJob"), job.Name, ValidateBroadcastJob(job))
}

// ValidateUpdate rejects an invalid change; writes that leave the spec
// alone are never blocked (they may be the garbage collector's).
func (a *BroadcastJobAdmission) ValidateUpdate(_ context.Context, old, job *v1beta1.BroadcastJob) (admission.Warnings, error) {
	if apiequality.Semantic.DeepEqual(old.Spec, job.Spec) {
		return nil, nil
	}
	return nil, invalidJob(v1beta1.Kind("BroadcastJob"), job.Name, ValidateBroadcastJob(job))
}

// ValidateDelete allows every delete.
func (a *BroadcastJobAdmission) ValidateDelete(context.Context, *v1beta1.BroadcastJob) (admission.Warnings, error) {
	return nil, nil
}

// AdvancedCronJobAdmission defaults and validates AdvancedCronJobs.
type AdvancedCronJobAdmission struct {
	Templates TemplateDefaults
}

var (
	_ admission.Defaulter[*v1beta1.AdvancedCronJob] = (*AdvancedCronJobAdmission)(nil)
	_ admission.Validator[*v1beta1.AdvancedCronJob] = (*AdvancedCronJobAdmission)(nil)
)

// Default applies DefaultAdvancedCronJob.
func (a *AdvancedCronJobAdmission) Default(ctx context.Context, acj *v1beta1.AdvancedCronJob) error {
	templates, err := templateChanged(ctx, func(old v1beta1.AdvancedCronJob) bool {
		return !apiequality.Semantic.DeepEqual(old.Spec.Template, acj.Spec.Template)
	})
	if err != nil {
		return fmt.Errorf("AdvancedCronJob %s/%s: %w", acj.Namespace, acj.Name, err)
	}
	DefaultAdvancedCronJob(acj, templates, a.Templates)
	return nil
}

// ValidateCreate rejects an invalid AdvancedCronJob.
func (a *AdvancedCronJobAdmission) ValidateCreate(_ context.Context, acj *v1beta1.AdvancedCronJob) (admission.Warnings, error) {
	return nil, invalidJob(v1beta1.Kind("AdvancedCronJob"), acj.Name, ValidateAdvancedCronJob(acj))
}

// ValidateUpdate rejects an invalid change; spec-preserving writes pass.
func (a *AdvancedCronJobAdmission) ValidateUpdate(_ context.Context, old, acj *v1beta1.AdvancedCronJob) (admission.Warnings, error) {
	if apiequality.Semantic.DeepEqual(old.Spec, acj.Spec) {
		return nil, nil
	}
	return nil, invalidJob(v1beta1.Kind("AdvancedCronJob"), acj.Name, ValidateAdvancedCronJob(acj))
}

// ValidateDelete allows every delete.
func (a *AdvancedCronJobAdmission) ValidateDelete(context.Context, *v1beta1.AdvancedCronJob) (admission.Warnings, error) {
	return nil, nil
}

// invalidJob is the API server's own 422 Invalid error, as for CloneSet.
func invalidJob(kind schema.GroupKind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(kind, name, errs)
}

// RegisterJobs serves the BroadcastJob and AdvancedCronJob webhooks on
// mgr's webhook server at the paths above. mgr's scheme must include
// apps.kruise.io/v1beta1.
func RegisterJobs(mgr manager.Manager, td TemplateDefaults) error {
	bcj := &BroadcastJobAdmission{Templates: td}
	if err := builder.WebhookManagedBy(mgr, &v1beta1.BroadcastJob{}).
		WithDefaulter(bcj).WithDefaulterCustomPath(DefaultBroadcastJobPath).
		WithValidator(bcj).WithValidatorCustomPath(ValidateBroadcastJobPath).
		Complete(); err != nil {
		return fmt.Errorf("register BroadcastJob webhooks: %w", err)
	}
	acj := &AdvancedCronJobAdmission{Templates: td}
	if err := builder.WebhookManagedBy(mgr, &v1beta1.AdvancedCronJob{}).
		WithDefaulter(acj).WithDefaulterCustomPath(DefaultAdvancedCronJobPath).
		WithValidator(acj).WithValidatorCustomPath(ValidateAdvancedCronJobPath).
		Complete(); err != nil {
		return fmt.Errorf("register AdvancedCronJob webhooks: %w", err)
	}
	return nil
}
