package webhook

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// Where the Advanced DaemonSet webhooks are served. Both versions reach
// them as v1beta1 (the webhooks match Equivalent, and the versions share
// one schema).
const (
	DefaultDaemonSetPath  = "/mutate-apps-kruise-io-v1beta1-daemonset"
	ValidateDaemonSetPath = "/validate-apps-kruise-io-v1beta1-daemonset"
)

// defaultBurstReplicas is OpenKruise's default spec.burstReplicas.
const defaultBurstReplicas = 250

// DefaultDaemonSet fills what a DaemonSet leaves unset with OpenKruise's
// defaults: burstReplicas 250, revisionHistoryLimit 10, updateStrategy
// RollingUpdate with rollingUpdateType Standard and maxUnavailable 1,
// maxSurge 0 when neither is set. The deprecated rollingUpdateType Surging
// is written as Standard with maxSurge 1 and maxUnavailable 0 unless set,
// as OpenKruise does. The template is defaulted (td) only when templates is
// true, for the reason DefaultCloneSet gives.
func DefaultDaemonSet(ds *v1beta1.DaemonSet, templates bool, td TemplateDefaults) {
	spec := &ds.Spec
	if spec.BurstReplicas == nil {
		spec.BurstReplicas = ptr.To(intstr.FromInt32(defaultBurstReplicas))
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	if templates && td.PodTemplate != nil {
		td.PodTemplate(&spec.Template)
	}
	u := &spec.UpdateStrategy
	if u.Type == "" {
		u.Type = v1beta1.RollingUpdateDaemonSetStrategyType
	}
	if u.Type != v1beta1.RollingUpdateDaemonSetStrategyType {
		return
	}
	if u.RollingUpdate == nil {
		u.RollingUpdate = &v1beta1.RollingUpdateDaemonSet{}
	}
	ru := u.RollingUpdate
	if ru.Type == v1beta1.DeprecatedSurgingRollingUpdateType {
		if ru.MaxSurge == nil {
			ru.MaxSurge = ptr.To(intstr.FromInt32(1))
		}
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = ptr.To(intstr.FromInt32(0))
		}
		ru.Type = v1beta1.StandardRollingUpdateType
	}
	if ru.Type == "" {
		ru.Type = v1beta1.StandardRollingUpdateType
	}
	if ru.MaxUnavailable == nil && ru.MaxSurge == nil {
		ru.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		ru.MaxSurge = ptr.To(intstr.FromInt32(0))
	}
}

// ValidateDaemonSet validates a DaemonSet being created; every error's
// field path names the field to fix.
func ValidateDaemonSet(ds *v1beta1.DaemonSet) field.ErrorList {
	return validateDaemonSetSpec(&ds.Spec, field.NewPath("spec"))
}

// ValidateDaemonSetUpdate validates the update of old to ds. A write that
// leaves the spec alone is never blocked (see ValidateCloneSetUpdate).
func ValidateDaemonSetUpdate(ds, old *v1beta1.DaemonSet) field.ErrorList {
	if apiequality.Semantic.DeepEqual(ds.Spec, old.Spec) {
		return nil
	}
	path := field.NewPath("spec")
	errs := validateDaemonSetSpec(&ds.Spec, path)
	if !apiequality.Semantic.DeepEqual(ds.Spec.Selector, old.Spec.Selector) {
		errs = append(errs, field.Invalid(path.Child("selector"), ds.Spec.Selector,
			"field is immutable: it decides which pods the DaemonSet owns; create a new DaemonSet to select other pods"))
	}
	return errs
}

func validateDaemonSetSpec(spec *v1beta1.DaemonSetSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	selPath := path.Child("selector")
	switch {
	case spec.Selector == nil:
		errs = append(errs, field.Required(selPath, "set matchLabels selecting spec.template.metadata.labels"))
	case len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0:
		errs = append(errs, field.Invalid(selPath, spec.Selector,
			"must not be empty: an empty selector selects every pod in the namespace; set matchLabels"))
	default:
		if e := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, selPath); len(e) > 0 {
			errs = append(errs, e...)
		} else if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
			errs = append(errs, field.Invalid(selPath, spec.Selector, err.Error()))
		} else if !sel.Matches(labels.Set(spec.Template.Labels)) {
			errs = append(errs, field.Invalid(path.Child("template", "metadata", "labels"), spec.Template.Labels,
				fmt.Sprintf("must be selected by spec.selector (%s): the DaemonSet would not own the pods it creates; add the labels the selector requires", sel)))
		}
	}
	errs = append(errs, validatePodTemplate(&spec.Template, nil, path.Child("template"), nil)...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), path.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), path.Child("revisionHistoryLimit"))...)
	}
	if n, ok, e := intOrPercent(spec.BurstReplicas, path.Child("burstReplicas")); len(e) > 0 {
		errs = append(errs, e...)
	} else if ok && n == 0 {
		errs = append(errs, field.Invalid(path.Child("burstReplicas"), *spec.BurstReplicas,
			"must be at least 1: it caps the pods created or deleted per pass, and 0 would stop both"))
	}
	if l := spec.Lifecycle; l != nil {
		errs = append(errs, validateLifecycle(l, path.Child("lifecycle"))...)
		// As OpenKruise: a DaemonSet honours only preDelete.
		if l.InPlaceUpdate != nil {
			errs = append(errs, field.Forbidden(path.Child("lifecycle", "inPlaceUpdate"), "not supported for DaemonSet; only preDelete is"))
		}
		if l.PreNormal != nil {
			errs = append(errs, field.Forbidden(path.Child("lifecycle", "preNormal"), "not supported for DaemonSet; only preDelete is"))
		}
	}
	return append(errs, validateDaemonSetUpdateStrategy(&spec.UpdateStrategy, path.Child("updateStrategy"))...)
}

func validateDaemonSetUpdateStrategy(s *v1beta1.DaemonSetUpdateStrategy, path *field.Path) field.ErrorList {
	switch s.Type {
	case "", v1beta1.OnDeleteDaemonSetStrategyType, v1beta1.RollingUpdateDaemonSetStrategyType:
	default:
		return field.ErrorList{field.NotSupported(path.Child("type"), s.Type, []string{
			string(v1beta1.RollingUpdateDaemonSetStrategyType), string(v1beta1.OnDeleteDaemonSetStrategyType)})}
	}
	ru := s.RollingUpdate
	if ru == nil {
		return nil
	}
	var errs field.ErrorList
	path = path.Child("rollingUpdate")
	mu, _, muErrs := intOrPercent(ru.MaxUnavailable, path.Child("maxUnavailable"))
	ms, _, msErrs := intOrPercent(ru.MaxSurge, path.Child("maxSurge"))
	errs = append(errs, muErrs...)
	errs = append(errs, msErrs...)
	_, _, pErrs := intOrPercent(ru.Partition, path.Child("partition"))
	errs = append(errs, pErrs...)
	bothValid := len(muErrs)+len(msErrs) == 0
	// OpenKruise's rules: exactly one of maxUnavailable and maxSurge gives
	// the rollout its room (an update either takes the node's pod out of
	// service or adds one next to it, never both).
	switch {
	case bothValid && mu > 0 && ms > 0:
		errs = append(errs, field.Invalid(path.Child("maxSurge"), *ru.MaxSurge,
			"must be 0 when maxUnavailable is not 0: a surge replaces a node's pod only after the new one is available; set one of them"))
	case bothValid && mu == 0 && ms == 0 && (ru.MaxUnavailable != nil || ru.MaxSurge != nil):
		errs = append(errs, field.Invalid(path.Child("maxUnavailable"), ru.MaxUnavailable,
			"maxUnavailable and maxSurge must not both be 0: the rollout could never replace a pod; set maxUnavailable or maxSurge to at least 1"))
	}
	switch ru.Type {
	case "", v1beta1.StandardRollingUpdateType:
	case v1beta1.InplaceRollingUpdateType:
		if ms > 0 {
			errs = append(errs, field.Invalid(path.Child("maxSurge"), *ru.MaxSurge,
				"must be 0 with rollingUpdateType InPlaceIfPossible, which updates a node's pod in place rather than next to it; use Standard to surge"))
		}
	case v1beta1.DeprecatedSurgingRollingUpdateType:
		if mu > 0 {
			errs = append(errs, field.Invalid(path.Child("maxUnavailable"), *ru.MaxUnavailable,
				"must be 0 with the deprecated rollingUpdateType Surging; use Standard with maxSurge"))
		}
	default:
		errs = append(errs, field.NotSupported(path.Child("rollingUpdateType"), ru.Type, []string{
			string(v1beta1.StandardRollingUpdateType), string(v1beta1.InplaceRollingUpdateType), string(v1beta1.DeprecatedSurgingRollingUpdateType)}))
	}
	if ru.Selector != nil {
		selPath := path.Child("selector")
		if e := metav1validation.ValidateLabelSelector(ru.Selector, metav1validation.LabelSelectorValidationOptions{}, selPath); len(e) > 0 {
			errs = append(errs, e...)
		} else if _, err := metav1.LabelSelectorAsSelector(ru.Selector); err != nil {
			errs = append(errs, field.Invalid(selPath, ru.Selector, "must be a node label selector: "+err.Error()))
		}
	}
	return errs
}

// DaemonSetDefaulter applies DefaultDaemonSet to creates and updates.
type DaemonSetDefaulter struct {
	Templates TemplateDefaults
}

var _ admission.Defaulter[*v1beta1.DaemonSet] = (*DaemonSetDefaulter)(nil)

// Default defaults ds in place; the webhook turns the change into a patch.
func (d *DaemonSetDefaulter) Default(ctx context.Context, ds *v1beta1.DaemonSet) error {
	templates := true
	if req, err := admission.RequestFromContext(ctx); err == nil && req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		var old v1beta1.DaemonSet
		if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil {
			return fmt.Errorf("decode the stored DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		templates = !apiequality.Semantic.DeepEqual(old.Spec.Template, ds.Spec.Template)
	}
	DefaultDaemonSet(ds, templates, d.Templates)
	return nil
}

// DaemonSetValidator admits DaemonSet creates and updates that pass
// ValidateDaemonSet and ValidateDaemonSetUpdate, and every delete.
type DaemonSetValidator struct{}

var _ admission.Validator[*v1beta1.DaemonSet] = (*DaemonSetValidator)(nil)

// ValidateCreate rejects an invalid DaemonSet.
func (DaemonSetValidator) ValidateCreate(_ context.Context, ds *v1beta1.DaemonSet) (admission.Warnings, error) {
	return nil, invalidDaemonSet(ds, ValidateDaemonSet(ds))
}

// ValidateUpdate rejects an invalid change to a DaemonSet.
func (DaemonSetValidator) ValidateUpdate(_ context.Context, old, ds *v1beta1.DaemonSet) (admission.Warnings, error) {
	return nil, invalidDaemonSet(ds, ValidateDaemonSetUpdate(ds, old))
}

// ValidateDelete allows every delete.
func (DaemonSetValidator) ValidateDelete(context.Context, *v1beta1.DaemonSet) (admission.Warnings, error) {
	return nil, nil
}

func invalidDaemonSet(ds *v1beta1.DaemonSet, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(v1beta1.Kind("DaemonSet"), ds.Name, errs)
}

// RegisterDaemonSet serves the DaemonSet webhooks on mgr's webhook server
// at DefaultDaemonSetPath and ValidateDaemonSetPath; mgr's scheme must
// include apps.kruise.io/v1beta1.
func RegisterDaemonSet(mgr manager.Manager, td TemplateDefaults) error {
	err := builder.WebhookManagedBy(mgr, &v1beta1.DaemonSet{}).
		WithDefaulter(&DaemonSetDefaulter{Templates: td}).
		WithDefaulterCustomPath(DefaultDaemonSetPath).
		WithValidator(DaemonSetValidator{}).
		WithValidatorCustomPath(ValidateDaemonSetPath).
		Complete()
	if err != nil {
		return fmt.Errorf("register DaemonSet webhooks at %s and %s: %w", DefaultDaemonSetPath, ValidateDaemonSetPath, err)
	}
	return nil
}
