package webhook

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/statefulset"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// Where the Advanced StatefulSet webhooks are served. Both versions reach
// them as v1beta1 (the webhooks match Equivalent, and the versions share
// one schema).
const (
	DefaultStatefulSetPath  = "/mutate-apps-kruise-io-v1beta1-statefulset"
	ValidateStatefulSetPath = "/validate-apps-kruise-io-v1beta1-statefulset"
)

// DefaultStatefulSet fills what a StatefulSet leaves unset with OpenKruise's
// defaults: replicas 1, podManagementPolicy OrderedReady, revisionHistoryLimit
// 10, updateStrategy RollingUpdate with partition 0, maxUnavailable 1,
// podUpdatePolicy ReCreate and minReadySeconds 0, and claims retained when
// scaled and deleted. The template is defaulted (td) only when templates is
// true, for the reason DefaultCloneSet gives.
func DefaultStatefulSet(sts *v1beta1.StatefulSet, templates bool, td TemplateDefaults) {
	spec := &sts.Spec
	if spec.Replicas == nil {
		spec.Replicas = ptr.To[int32](1)
	}
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	if templates && td.PodTemplate != nil {
		td.PodTemplate(&spec.Template)
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &v1beta1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	p := spec.PersistentVolumeClaimRetentionPolicy
	if p.WhenDeleted == "" {
		p.WhenDeleted = v1beta1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p.WhenScaled == "" {
		p.WhenScaled = v1beta1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	u := &spec.UpdateStrategy
	if u.Type == "" {
		u.Type = appsv1.RollingUpdateStatefulSetStrategyType
	}
	if u.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return
	}
	if u.RollingUpdate == nil {
		u.RollingUpdate = &v1beta1.RollingUpdateStatefulSetStrategy{}
	}
	ru := u.RollingUpdate
	if ru.Partition == nil {
		ru.Partition = ptr.To[int32](0)
	}
	if ru.MaxUnavailable == nil {
		ru.MaxUnavailable = ptr.To(intstr.FromInt32(1))
	}
	if ru.PodUpdatePolicy == "" {
		ru.PodUpdatePolicy = v1beta1.RecreatePodUpdateStrategyType
	}
	if ru.MinReadySeconds == nil {
		ru.MinReadySeconds = ptr.To[int32](0)
	}
}

// ValidateStatefulSet validates a StatefulSet being created; every error's
// field path names the field to fix.
func ValidateStatefulSet(sts *v1beta1.StatefulSet) field.ErrorList {
	return validateStatefulSetSpec(&sts.Spec, nil, field.NewPath("spec"))
}

// ValidateStatefulSetUpdate validates the update of old to sts. A write
// that leaves the spec alone is never blocked (see ValidateCloneSetUpdate).
// As in OpenKruise, selector, serviceName, podManagementPolicy and
// volumeClaimUpdateStrategy aside, every spec field may change; with
// podUpdatePolicy InPlaceOnly a template change must be possible in place.
func ValidateStatefulSetUpdate(sts, old *v1beta1.StatefulSet, opts inplace.EligibilityOptions) field.ErrorList {
	if apiequality.Semantic.DeepEqual(sts.Spec, old.Spec) {
		return nil
	}
	path := field.NewPath("spec")
	errs := validateStatefulSetSpec(&sts.Spec, &old.Spec, path)
	immutable := func(name string, same bool, v any, why string) {
		if !same {
			errs = append(errs, field.Invalid(path.Child(name), v, "field is immutable: "+why+"; create a new StatefulSet to change it"))
		}
	}
	immutable("selector", apiequality.Semantic.DeepEqual(sts.Spec.Selector, old.Spec.Selector), sts.Spec.Selector,
		"it decides which pods the StatefulSet owns")
	immutable("serviceName", sts.Spec.ServiceName == old.Spec.ServiceName, sts.Spec.ServiceName,
		"it is part of every pod's DNS name")
	immutable("podManagementPolicy", sts.Spec.PodManagementPolicy == old.Spec.PodManagementPolicy, sts.Spec.PodManagementPolicy,
		"it decides the order pods are created and deleted in")
	if ru := sts.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.PodUpdatePolicy == v1beta1.InPlaceOnlyPodUpdateStrategyType {
		errs = append(errs, validateInPlaceOnly(&old.Spec.Template, &sts.Spec.Template, opts, path.Child("template"))...)
	}
	return errs
}

func validateStatefulSetSpec(spec, old *v1beta1.StatefulSetSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	replicas := int32(1)
	if spec.Replicas != nil {
		replicas = *spec.Replicas
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(replicas), path.Child("replicas"))...)
	}
	errs = append(errs, validateStatefulSetSelector(spec, path)...)
	errs = append(errs, validatePodTemplate(&spec.Template, spec.VolumeClaimTemplates, path.Child("template"), path.Child("volumeClaimTemplates"))...)
	if rp := spec.Template.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(path.Child("template", "spec", "restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
	}
	if spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(path.Child("template", "spec", "activeDeadlineSeconds"),
			"must be unset: a StatefulSet's pods run until replaced, and a deadline would fail them"))
	}
	switch spec.PodManagementPolicy {
	case "", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.NotSupported(path.Child("podManagementPolicy"), spec.PodManagementPolicy,
			[]string{string(appsv1.OrderedReadyPodManagement), string(appsv1.ParallelPodManagement)}))
	}
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), path.Child("revisionHistoryLimit"))...)
	}
	if spec.Ordinals != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.Ordinals.Start), path.Child("ordinals", "start"))...)
	}
	for i, r := range spec.ReserveOrdinals {
		if _, _, err := statefulset.ParseReserveOrdinal(r); err != nil {
			errs = append(errs, field.Invalid(path.Child("reserveOrdinals").Index(i), r, err.Error()))
		}
	}
	if s := spec.ScaleStrategy; s != nil {
		errs = append(errs, validatePositiveIntOrPercent(s.MaxUnavailable, path.Child("scaleStrategy", "maxUnavailable"))...)
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		pp := path.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, validateRetention(p.WhenDeleted, pp.Child("whenDeleted"))...)
		errs = append(errs, validateRetention(p.WhenScaled, pp.Child("whenScaled"))...)
	}
	switch t := spec.VolumeClaimUpdateStrategy.Type; t {
	case "", v1beta1.OnPodRollingUpdateVolumeClaimUpdateStrategyType, v1beta1.OnPVCDeleteVolumeClaimUpdateStrategyType:
	default:
		errs = append(errs, field.NotSupported(path.Child("volumeClaimUpdateStrategy", "type"), t, []string{
			string(v1beta1.OnPodRollingUpdateVolumeClaimUpdateStrategyType), string(v1beta1.OnPVCDeleteVolumeClaimUpdateStrategyType)}))
	}
	if l := spec.Lifecycle; l != nil {
		errs = append(errs, validateLifecycle(l, path.Child("lifecycle"))...)
	}
	var oldStrategy *v1beta1.StatefulSetUpdateStrategy
	if old != nil {
		oldStrategy = &old.UpdateStrategy
	}
	return append(errs, validateStatefulSetUpdateStrategy(spec, oldStrategy, replicas, path.Child("updateStrategy"))...)
}

func validateStatefulSetSelector(spec *v1beta1.StatefulSetSpec, path *field.Path) field.ErrorList {
	selPath := path.Child("selector")
	switch {
	case spec.Selector == nil:
		return field.ErrorList{field.Required(selPath, "set matchLabels selecting spec.template.metadata.labels")}
	case len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0:
		return field.ErrorList{field.Invalid(selPath, spec.Selector,
			"must not be empty: an empty selector selects every pod in the namespace; set matchLabels")}
	}
	if e := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, selPath); len(e) > 0 {
		return e
	}
	sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil {
		return field.ErrorList{field.Invalid(selPath, spec.Selector, err.Error())}
	}
	if !sel.Matches(labels.Set(spec.Template.Labels)) {
		return field.ErrorList{field.Invalid(path.Child("template", "metadata", "labels"), spec.Template.Labels,
			fmt.Sprintf("must be selected by spec.selector (%s): the StatefulSet would not own the pods it creates; add the labels the selector requires", sel))}
	}
	return nil
}

func validateStatefulSetUpdateStrategy(spec *v1beta1.StatefulSetSpec, old *v1beta1.StatefulSetUpdateStrategy, replicas int32, path *field.Path) field.ErrorList {
	s := &spec.UpdateStrategy
	switch s.Type {
	case "", appsv1.RollingUpdateStatefulSetStrategyType:
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(path.Child("rollingUpdate"),
				"only allowed with type RollingUpdate; remove it or set type RollingUpdate")}
		}
		return nil
	default:
		return field.ErrorList{field.NotSupported(path.Child("type"), s.Type, []string{
			string(appsv1.RollingUpdateStatefulSetStrategyType), string(appsv1.OnDeleteStatefulSetStrategyType)})}
	}
	ru := s.RollingUpdate
	if ru == nil {
		return nil
	}
	var errs field.ErrorList
	path = path.Child("rollingUpdate")
	if p := ru.Partition; p != nil {
		pp := path.Child("partition")
		samePartition := old != nil && old.RollingUpdate != nil && old.RollingUpdate.Partition != nil && *old.RollingUpdate.Partition == *p
		switch {
		case *p < 0:
			errs = append(errs, field.Invalid(pp, *p, "must be greater than or equal to 0"))
		case *p > replicas && !samePartition:
			// An unchanged partition may exceed replicas, so that scaling
			// down (kubectl scale, an HPA) never makes the next edit fail.
			errs = append(errs, field.Invalid(pp, *p,
				fmt.Sprintf("must not be greater than spec.replicas (%d); set it to spec.replicas to keep every pod at its current revision", replicas)))
		}
	}
	errs = append(errs, validatePositiveIntOrPercent(ru.MaxUnavailable, path.Child("maxUnavailable"))...)
	switch ru.PodUpdatePolicy {
	case "", v1beta1.RecreatePodUpdateStrategyType, v1beta1.InPlaceIfPossiblePodUpdateStrategyType, v1beta1.InPlaceOnlyPodUpdateStrategyType:
	default:
		errs = append(errs, field.NotSupported(path.Child("podUpdatePolicy"), ru.PodUpdatePolicy, []string{
			string(v1beta1.RecreatePodUpdateStrategyType), string(v1beta1.InPlaceIfPossiblePodUpdateStrategyType), string(v1beta1.InPlaceOnlyPodUpdateStrategyType)}))
	}
	if m := ru.MinReadySeconds; m != nil && (*m < 0 || *m > v1beta1.MaxMinReadySeconds) {
		errs = append(errs, field.Invalid(path.Child("minReadySeconds"), *m,
			fmt.Sprintf("must be between 0 and %d seconds", v1beta1.MaxMinReadySeconds)))
	}
	if ip := ru.InPlaceUpdateStrategy; ip != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(ip.GracePeriodSeconds), path.Child("inPlaceUpdateStrategy", "gracePeriodSeconds"))...)
	}
	if uu := ru.UnorderedUpdate; uu != nil {
		if spec.PodManagementPolicy != appsv1.ParallelPodManagement {
			errs = append(errs, field.Forbidden(path.Child("unorderedUpdate"),
				"only works with spec.podManagementPolicy Parallel: OrderedReady updates pods by ordinal"))
		}
		errs = append(errs, validatePriorityStrategy(uu.PriorityStrategy, path.Child("unorderedUpdate", "priorityStrategy"))...)
	}
	return errs
}

// validatePositiveIntOrPercent checks an optional maxUnavailable: a count of
// at least 1 or a percentage from 1% to 100%, as OpenKruise requires (0
// would let no pod be replaced or created).
func validatePositiveIntOrPercent(v *intstr.IntOrString, path *field.Path) field.ErrorList {
	n, ok, errs := intOrPercent(v, path)
	if len(errs) > 0 || !ok {
		return errs
	}
	if n == 0 {
		return field.ErrorList{field.Invalid(path, *v, "must be at least 1 (or 1%): 0 would never let a pod be replaced")}
	}
	return nil
}

func validateRetention(t v1beta1.PersistentVolumeClaimRetentionPolicyType, path *field.Path) field.ErrorList {
	switch t {
	case "", v1beta1.RetainPersistentVolumeClaimRetentionPolicyType, v1beta1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	}
	return field.ErrorList{field.NotSupported(path, t, []string{
		string(v1beta1.RetainPersistentVolumeClaimRetentionPolicyType), string(v1beta1.DeletePersistentVolumeClaimRetentionPolicyType)})}
}

// StatefulSetDefaulter applies DefaultStatefulSet to creates and updates.
type StatefulSetDefaulter struct {
	Templates TemplateDefaults
}

var _ admission.Defaulter[*v1beta1.StatefulSet] = (*StatefulSetDefaulter)(nil)

// Default defaults sts in place; the webhook turns the change into a patch.
func (d *StatefulSetDefaulter) Default(ctx context.Context, sts *v1beta1.StatefulSet) error {
	templates := true
	if req, err := admission.RequestFromContext(ctx); err == nil && req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		var old v1beta1.StatefulSet
		if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil {
			return fmt.Errorf("decode the stored StatefulSet %s/%s: %w", sts.Namespace, sts.Name, err)
		}
		templates = !apiequality.Semantic.DeepEqual(old.Spec.Template, sts.Spec.Template)
	}
	DefaultStatefulSet(sts, templates, d.Templates)
	return nil
}

// StatefulSetValidator admits StatefulSet creates and updates that pass
// ValidateStatefulSet and ValidateStatefulSetUpdate, and every delete.
type StatefulSetValidator struct {
	// InPlace is what the cluster can change in place (InPlaceOnly).
	InPlace inplace.EligibilityOptions
	// Classes, when set, reads storage classes: claims then grow with their
	// templates (StatefulSetAutoResizePVCGate), and a template change is
	// checked by ValidateClaimTemplateResize.
	Classes client.Reader
}

var _ admission.Validator[*v1beta1.StatefulSet] = (*StatefulSetValidator)(nil)

// ValidateCreate rejects an invalid StatefulSet.
func (v *StatefulSetValidator) ValidateCreate(_ context.Context, sts *v1beta1.StatefulSet) (admission.Warnings, error) {
	return nil, invalidStatefulSet(sts, ValidateStatefulSet(sts))
}

// ValidateUpdate rejects an invalid change to a StatefulSet.
func (v *StatefulSetValidator) ValidateUpdate(ctx context.Context, old, sts *v1beta1.StatefulSet) (admission.Warnings, error) {
	errs := ValidateStatefulSetUpdate(sts, old, v.InPlace)
	if v.Classes != nil && len(errs) == 0 {
		errs = ValidateClaimTemplateResize(sts, old, func(name *string) (*storagev1.StorageClass, error) {
			return storageClassOf(ctx, v.Classes, name)
		})
	}
	return nil, invalidStatefulSet(sts, errs)
}

// ValidateDelete allows every delete.
func (v *StatefulSetValidator) ValidateDelete(context.Context, *v1beta1.StatefulSet) (admission.Warnings, error) {
	return nil, nil
}

func invalidStatefulSet(sts *v1beta1.StatefulSet, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(v1beta1.Kind("StatefulSet"), sts.Name, errs)
}

// RegisterStatefulSet serves the StatefulSet webhooks on mgr's webhook
// server at DefaultStatefulSetPath and ValidateStatefulSetPath; mgr's scheme
// must include apps.kruise.io/v1beta1. resizeClaims is the
// StatefulSetAutoResizePVCGate (StatefulSetValidator.Classes).
func RegisterStatefulSet(mgr manager.Manager, inPlace inplace.EligibilityOptions, td TemplateDefaults, resizeClaims bool) error {
	v := &StatefulSetValidator{InPlace: inPlace}
	if resizeClaims {
		v.Classes = mgr.GetCache()
	}
	err := builder.WebhookManagedBy(mgr, &v1beta1.StatefulSet{}).
		WithDefaulter(&StatefulSetDefaulter{Templates: td}).
		WithDefaulterCustomPath(DefaultStatefulSetPath).
		WithValidator(v).
		WithValidatorCustomPath(ValidateStatefulSetPath).
		Complete()
	if err != nil {
		return fmt.Errorf("register StatefulSet webhooks at %s and %s: %w", DefaultStatefulSetPath, ValidateStatefulSetPath, err)
	}
	return nil
}
