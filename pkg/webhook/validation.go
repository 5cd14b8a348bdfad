package webhook

import (
	"fmt"
	"math"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// ValidateCloneSet validates a CloneSet being created. Every error's field
// path names the field to fix.
func ValidateCloneSet(cs *v1alpha1.CloneSet) field.ErrorList {
	return validateSpec(&cs.Spec, nil, field.NewPath("spec"))
}

// ValidateCloneSetUpdate validates the update of old to cs. opts says what
// the cluster can change in place; it must be what the CloneSet controller
// uses, so that with InPlaceOnly the webhook admits exactly the template
// changes the controller can roll out.
//
// volumeClaimTemplates may change, as in OpenKruise: existing claims are not
// changed and only claims created afterwards follow the new templates, so the
// change never touches a running pod and is no reason to reject an
// InPlaceOnly CloneSet either.
func ValidateCloneSetUpdate(cs, old *v1alpha1.CloneSet, opts inplace.EligibilityOptions) field.ErrorList {
	// Writes that leave the spec alone (labels, finalizers, owner
	// references the garbage collector removes) are never blocked, even if
	// the stored spec predates a rule: blocking them could keep a CloneSet
	// from ever being deleted.
	if apiequality.Semantic.DeepEqual(cs.Spec, old.Spec) {
		return nil
	}
	specPath := field.NewPath("spec")
	errs := validateSpec(&cs.Spec, &old.Spec, specPath)
	if !apiequality.Semantic.DeepEqual(cs.Spec.Selector, old.Spec.Selector) {
		errs = append(errs, field.Invalid(specPath.Child("selector"), cs.Spec.Selector,
			"field is immutable: it decides which pods the CloneSet owns; create a new CloneSet to select other pods"))
	}
	if cs.Spec.UpdateStrategy.Type == v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType {
		errs = append(errs, validateInPlaceOnly(&old.Spec.Template, &cs.Spec.Template, opts, specPath.Child("template"))...)
	}
	return errs
}

// validateSpec holds the rules for a spec on its own; oldSpec is nil on
// create and is consulted only where a rule depends on what changed.
func validateSpec(spec, oldSpec *v1alpha1.CloneSetSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	replicas := 1 // the CRD's default
	if spec.Replicas != nil {
		replicas = int(*spec.Replicas)
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.Replicas), path.Child("replicas"))...)
	}
	errs = append(errs, validateSelector(spec, path)...)
	errs = append(errs, validatePodTemplate(&spec.Template, spec.VolumeClaimTemplates, path.Child("template"), path.Child("volumeClaimTemplates"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), path.Child("revisionHistoryLimit"))...)
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), path.Child("minReadySeconds"))...)
	errs = append(errs, validateScaleStrategy(&spec.ScaleStrategy, path.Child("scaleStrategy"))...)
	var oldStrategy *v1alpha1.CloneSetUpdateStrategy
	if oldSpec != nil {
		oldStrategy = &oldSpec.UpdateStrategy
	}
	errs = append(errs, validateUpdateStrategy(&spec.UpdateStrategy, oldStrategy, replicas, path.Child("updateStrategy"))...)
	errs = append(errs, validateLifecycle(spec.Lifecycle, path.Child("lifecycle"))...)
	errs = append(errs, validateProgressDeadline(spec, path.Child("progressDeadlineSeconds"))...)
	return errs
}

// validateProgressDeadline: like a Deployment's, a deadline no longer than
// minReadySeconds would expire before any new pod could count as
// available. The largest int32 means "no deadline" and is always allowed.
func validateProgressDeadline(spec *v1alpha1.CloneSetSpec, path *field.Path) field.ErrorList {
	d := spec.ProgressDeadlineSeconds
	if d == nil {
		return nil
	}
	if *d < 0 {
		return apivalidation.ValidateNonnegativeField(int64(*d), path)
	}
	if *d != math.MaxInt32 && *d <= spec.MinReadySeconds {
		return field.ErrorList{field.Invalid(path, *d, fmt.Sprintf(
			"must be greater than spec.minReadySeconds (%d): no pod could become available before the deadline; raise it or unset it for no deadline", spec.MinReadySeconds))}
	}
	return nil
}

func validateSelector(spec *v1alpha1.CloneSetSpec, path *field.Path) field.ErrorList {
	selPath := path.Child("selector")
	if spec.Selector == nil {
		return field.ErrorList{field.Required(selPath, "set matchLabels selecting spec.template.metadata.labels")}
	}
	if errs := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, selPath); len(errs) > 0 {
		return errs
	}
	if len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		return field.ErrorList{field.Invalid(selPath, spec.Selector,
			"must not be empty: an empty selector selects every pod in the namespace; set matchLabels")}
	}
	sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil {
		return field.ErrorList{field.Invalid(selPath, spec.Selector, err.Error())}
	}
	if !sel.Matches(labels.Set(spec.Template.Labels)) {
		return field.ErrorList{field.Invalid(path.Child("template", "metadata", "labels"), spec.Template.Labels,
			fmt.Sprintf("must be selected by spec.selector (%s): a CloneSet would not own the pods it creates; add the labels the selector requires", sel))}
	}
	return nil
}

func validateScaleStrategy(s *v1alpha1.CloneSetScaleStrategy, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[string]bool, len(s.PodsToDelete))
	for i, name := range s.PodsToDelete {
		p := path.Child("podsToDelete").Index(i)
		if seen[name] {
			errs = append(errs, field.Duplicate(p, name))
			continue
		}
		seen[name] = true
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(p, name, "must be a pod name: "+msg))
		}
	}
	// 0 is accepted, as in OpenKruise; the controller lets at least one new
	// pod be unavailable so scaling up never stalls.
	_, _, e := intOrPercent(s.MaxUnavailable, path.Child("maxUnavailable"))
	return append(errs, e...)
}

func validateUpdateStrategy(s, old *v1alpha1.CloneSetUpdateStrategy, replicas int, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch s.Type {
	case "", v1alpha1.RecreateCloneSetUpdateStrategyType,
		v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType,
		v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType:
	default:
		errs = append(errs, field.NotSupported(path.Child("type"), s.Type, []string{
			string(v1alpha1.RecreateCloneSetUpdateStrategyType),
			string(v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType),
			string(v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType),
		}))
	}

	partitionPath := path.Child("partition")
	if n, ok, e := intOrPercent(s.Partition, partitionPath); len(e) > 0 {
		errs = append(errs, e...)
	} else if ok && s.Partition.Type == intstr.Int && n > replicas && !samePartition(s, old) {
		// An unchanged partition may exceed replicas, so that scaling down
		// (kubectl scale, an HPA) never fails on it; the CRD has the same rule.
		errs = append(errs, field.Invalid(partitionPath, *s.Partition,
			fmt.Sprintf("must not be greater than spec.replicas (%d); use \"100%%\" to keep every pod at its old revision", replicas)))
	}

	maxUnavailable, muSet, muErrs := intOrPercent(s.MaxUnavailable, path.Child("maxUnavailable"))
	maxSurge, _, msErrs := intOrPercent(s.MaxSurge, path.Child("maxSurge"))
	errs = append(errs, muErrs...)
	errs = append(errs, msErrs...)
	// An update needs room: a pod out of service (in place or recreated) or
	// a surge pod. Like OpenKruise, reject only explicit zeros: unset
	// maxUnavailable is 20%, and a percentage that resolves to 0 pods is
	// raised to 1 by the controller.
	inPlaceOnly := s.Type == v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType
	switch {
	case muSet && maxUnavailable == 0 && inPlaceOnly:
		errs = append(errs, field.Invalid(path.Child("maxUnavailable"), *s.MaxUnavailable,
			"must be at least 1 with updateStrategy.type InPlaceOnly: it updates a pod only by taking it out of service, and allows no surge"))
	case muSet && maxUnavailable == 0 && maxSurge == 0 && len(msErrs) == 0:
		errs = append(errs, field.Invalid(path.Child("maxUnavailable"), *s.MaxUnavailable,
			"maxUnavailable and maxSurge must not both be 0: an update needs room to take a pod out of service or to add one; set maxUnavailable or maxSurge to at least 1"))
	}
	if inPlaceOnly && maxSurge > 0 {
		errs = append(errs, field.Invalid(path.Child("maxSurge"), *s.MaxSurge,
			"must be 0 with updateStrategy.type InPlaceOnly, which never creates pods to update; remove maxSurge or use InPlaceIfPossible"))
	}

	if ip := s.InPlaceUpdateStrategy; ip != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(ip.GracePeriodSeconds), path.Child("inPlaceUpdateStrategy", "gracePeriodSeconds"))...)
	}
	errs = append(errs, validatePriorityStrategy(s.PriorityStrategy, path.Child("priorityStrategy"))...)
	errs = append(errs, validateScatterStrategy(s.ScatterStrategy, path.Child("scatterStrategy"))...)
	return errs
}

// samePartition mirrors the CRD's rule: the partition counts as unchanged
// only if the old spec set the very same value.
func samePartition(s, old *v1alpha1.CloneSetUpdateStrategy) bool {
	return old != nil && old.Partition != nil && s.Partition != nil && *old.Partition == *s.Partition
}

// intOrPercent parses an optional count; ok is false when it is unset.
func intOrPercent(v *intstr.IntOrString, path *field.Path) (n int, ok bool, errs field.ErrorList) {
	if v == nil {
		return 0, false, nil
	}
	n, _, err := ParseIntOrPercent(*v)
	if err != nil {
		return 0, false, field.ErrorList{field.Invalid(path, *v, err.Error())}
	}
	return n, true, nil
}

func validatePriorityStrategy(ps *pub.UpdatePriorityStrategy, path *field.Path) field.ErrorList {
	if ps == nil {
		return nil
	}
	var errs field.ErrorList
	if len(ps.WeightPriority) > 0 && len(ps.OrderPriority) > 0 {
		errs = append(errs, field.Forbidden(path, "set weightPriority or orderPriority, not both"))
	}
	for i := range ps.WeightPriority {
		w := &ps.WeightPriority[i]
		p := path.Child("weightPriority").Index(i)
		if w.Weight < 1 || w.Weight > 100 {
			errs = append(errs, field.Invalid(p.Child("weight"), w.Weight, "must be between 1 and 100"))
		}
		selPath := p.Child("matchSelector")
		if e := metav1validation.ValidateLabelSelector(&w.MatchSelector, metav1validation.LabelSelectorValidationOptions{}, selPath); len(e) > 0 {
			errs = append(errs, e...)
		} else if len(w.MatchSelector.MatchLabels)+len(w.MatchSelector.MatchExpressions) == 0 {
			errs = append(errs, field.Required(selPath, "select the pods that get this weight; an empty selector would weigh every pod alike"))
		} else if _, err := metav1.LabelSelectorAsSelector(&w.MatchSelector); err != nil {
			errs = append(errs, field.Invalid(selPath, w.MatchSelector, err.Error()))
		}
	}
	for i, o := range ps.OrderPriority {
		p := path.Child("orderPriority").Index(i).Child("orderedKey")
		if o.OrderedKey == "" {
			errs = append(errs, field.Required(p, "name the pod label whose integer value orders the update"))
			continue
		}
		errs = append(errs, metav1validation.ValidateLabelName(o.OrderedKey, p)...)
	}
	return errs
}

// validateScatterStrategy rejects repeated key/value terms. The same key
// with different values is allowed, as in OpenKruise: scattering zone=a and
// zone=b pods both is a meaningful request.
func validateScatterStrategy(terms pub.UpdateScatterStrategy, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[pub.UpdateScatterTerm]bool, len(terms))
	for i, t := range terms {
		p := path.Index(i)
		if t.Key == "" {
			errs = append(errs, field.Required(p.Child("key"), "name the pod label to scatter by"))
		} else {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
		}
		if t.Value == "" {
			errs = append(errs, field.Required(p.Child("value"), "set the label value of the pods to scatter"))
		} else {
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(p.Child("value"), t.Value, msg))
			}
		}
		if seen[t] {
			errs = append(errs, field.Duplicate(p, t))
		}
		seen[t] = true
	}
	return errs
}

func validateLifecycle(l *pub.Lifecycle, path *field.Path) field.ErrorList {
	if l == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, validateHook(l.PreDelete, path.Child("preDelete"))...)
	errs = append(errs, validateHook(l.InPlaceUpdate, path.Child("inPlaceUpdate"))...)
	errs = append(errs, validateHook(l.PreNormal, path.Child("preNormal"))...)
	return errs
}

// validateHook checks that a hook names labels and finalizers a pod can
// actually carry; a hook naming anything else could never be released.
func validateHook(h *pub.LifecycleHook, path *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	errs := metav1validation.ValidateLabels(h.LabelsHandler, path.Child("labelsHandler"))
	for i, f := range h.FinalizersHandler {
		p := path.Child("finalizersHandler").Index(i)
		if e := apivalidation.ValidateFinalizerName(f, p); len(e) > 0 {
			errs = append(errs, e...)
		} else if !strings.Contains(f, "/") {
			errs = append(errs, field.Invalid(p, f,
				"must be domain-qualified, such as example.com/hold: a pod accepts no other custom finalizer"))
		}
	}
	return errs
}
