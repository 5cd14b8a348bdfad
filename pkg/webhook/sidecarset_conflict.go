package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// ValidateSidecarSetConflicts refuses what ss would inject into a pod that
// another of the SidecarSets (others, ss itself skipped) also injects into:
// a container or init container of the same name (a pod's container names
// are unique across both lists, so the API server would refuse every such
// pod), or a volume of the same name and different content. Two SidecarSets
// meet when their selectors and their namespace terms can both hold for
// one pod, OpenKruise's rule; Myriad decides it exactly (see
// selectorsOverlap) where OpenKruise uses a heuristic, and also compares
// containers with init containers and a HotUpgrade sidecar's injected pair.
func ValidateSidecarSetConflicts(ss *v1beta1.SidecarSet, others []v1beta1.SidecarSet) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	for i := range others {
		o := &others[i]
		if o.Name == ss.Name || !sidecarSetsMeet(&ss.Spec, &o.Spec) {
			continue
		}
		theirs := map[string]string{}
		for _, c := range o.Spec.InitContainers {
			theirs[c.Name] = "init container"
		}
		for _, c := range o.Spec.Containers {
			for _, n := range injectedNames(c) {
				theirs[n] = "container"
			}
		}
		for _, l := range []struct {
			list []v1beta1.SidecarContainer
			name string
		}{{ss.Spec.InitContainers, "initContainers"}, {ss.Spec.Containers, "containers"}} {
			for j, c := range l.list {
				for _, n := range injectedNames(c) {
					if kind, ok := theirs[n]; ok {
						errs = append(errs, field.Invalid(spec.Child(l.name).Index(j).Child("name"), c.Name, fmt.Sprintf(
							"SidecarSet %s also injects a %s named %s into pods both select; rename one of them", o.Name, kind, n)))
					}
				}
			}
		}
		for j, v := range ss.Spec.Volumes {
			for _, ov := range o.Spec.Volumes {
				if ov.Name == v.Name && !apiequality.Semantic.DeepEqual(ov, v) {
					errs = append(errs, field.Invalid(spec.Child("volumes").Index(j).Child("name"), v.Name, fmt.Sprintf(
						"SidecarSet %s injects a different volume of this name into pods both select", o.Name)))
				}
			}
		}
	}
	return errs
}

// injectedNames are the pod containers a sidecar becomes: a HotUpgrade
// sidecar becomes the pair <name>-1 and <name>-2.
func injectedNames(c v1beta1.SidecarContainer) []string {
	if c.UpgradeStrategy.UpgradeType == v1beta1.SidecarContainerHotUpgrade {
		return []string{c.Name + "-1", c.Name + "-2"}
	}
	return []string{c.Name}
}

// sidecarSetsMeet reports whether one pod can be selected by both: its
// labels by both selectors, its namespace by both namespace terms
// (v1alpha1's namespace read as the namespace's kubernetes.io/metadata.name
// label, which the API server sets on every namespace).
func sidecarSetsMeet(a, b *v1beta1.SidecarSetSpec) bool {
	if a.Selector == nil || b.Selector == nil {
		return false // selects no pod; ValidateSidecarSet names the field
	}
	return selectorsOverlap(a.Selector, b.Selector) && selectorsOverlap(namespaceTerms(a), namespaceTerms(b))
}

func namespaceTerms(s *v1beta1.SidecarSetSpec) *metav1.LabelSelector {
	sel := &metav1.LabelSelector{}
	if s.NamespaceSelector != nil {
		sel = s.NamespaceSelector.DeepCopy()
	}
	if s.Namespace != "" {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: []string{s.Namespace}})
	}
	return sel
}

// keyTerms are what a conjunction of label requirements asks of one key.
type keyTerms struct {
	values    sets.Set[string] // the value must be one of these (nil: any)
	excluded  sets.Set[string] // nor one of these
	exists    bool
	notExists bool
}

// selectorsOverlap reports whether some label set matches both selectors.
// A selector is a conjunction of requirements on single keys, and keys are
// independent, so the two overlap exactly when every key's requirements
// from both can hold at once. Written here because apimachinery offers
// matching of a label set, not intersection of selectors.
func selectorsOverlap(a, b *metav1.LabelSelector) bool {
	terms := map[string]*keyTerms{}
	get := func(k string) *keyTerms {
		if terms[k] == nil {
			terms[k] = &keyTerms{excluded: sets.New[string]()}
		}
		return terms[k]
	}
	require := func(k string, vals ...string) {
		t := get(k)
		t.exists = true
		if t.values == nil {
			t.values = sets.New(vals...)
		} else {
			t.values = t.values.Intersection(sets.New(vals...))
		}
	}
	for _, sel := range []*metav1.LabelSelector{a, b} {
		for k, v := range sel.MatchLabels {
			require(k, v)
		}
		for _, r := range sel.MatchExpressions {
			switch r.Operator {
			case metav1.LabelSelectorOpIn:
				require(r.Key, r.Values...)
			case metav1.LabelSelectorOpNotIn:
				get(r.Key).excluded.Insert(r.Values...)
			case metav1.LabelSelectorOpExists:
				get(r.Key).exists = true
			case metav1.LabelSelectorOpDoesNotExist:
				get(r.Key).notExists = true
			}
		}
	}
	for _, t := range terms {
		if t.exists && t.notExists {
			return false
		}
		if t.values != nil && t.values.Difference(t.excluded).Len() == 0 {
			return false
		}
	}
	return true
}
