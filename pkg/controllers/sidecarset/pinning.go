package sidecarset

import (
	"fmt"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// Injection says which revision a SidecarSet's policy injects into new
// pods. The zero Injection injects the current spec.
type Injection struct {
	// Latest names the ControllerRevision recording the current spec;
	// pods injected with it record the name.
	Latest string
	// Pinned, when not nil, is the SidecarSet as the revision
	// injectionStrategy.revision names recorded it (RestoreRevision), and
	// PinnedRevision that revision.
	Pinned         *v1beta1.SidecarSet
	PinnedRevision Revision
	// Missing, when not empty, says injectionStrategy.revision names a
	// revision that does not exist ("revisionName x", "customVersion
	// y"): the policy then refuses the pods the SidecarSet selects, as
	// OpenKruise's webhook does, rather than give them a revision nobody
	// asked for.
	Missing string
}

// injectionMutation is the policy's variables and its patch, guarded to
// act once per pod, for what inj says.
//
// Which pods get the pinned revision follows OpenKruise: all new pods
// while updateStrategy.paused or under policy Always; under Partial, those
// updateStrategy.selector does not select, and of the others a share of
// updateStrategy.partition when it is a percentage (none when it is a
// number or unset). OpenKruise draws that share at random per pod. CEL in
// admission has no random source (no clock, no request UID, and a pod
// created by generateName has no name yet), so here a percentage above 0
// gives every such pod the pinned revision: the one its owner vouched for,
// rather than the one under test.
func injectionMutation(ss *v1beta1.SidecarSet, inj Injection) (compiled, error) {
	if inj.Missing != "" {
		return compiled{patch: onceGuard(ss.Name, missingRevisionPatch(ss.Name, inj.Missing))}, nil
	}
	rev, err := Revisions(ss)
	if err != nil {
		return compiled{}, err
	}
	rev.ControllerRevision = inj.Latest
	latest, err := mutation(ss, rev)
	if err != nil {
		return compiled{}, err
	}
	if inj.Pinned == nil {
		latest.patch = onceGuard(ss.Name, latest.patch)
		return latest, nil
	}
	pinned, err := mutation(inj.Pinned, inj.PinnedRevision)
	if err != nil {
		return compiled{}, fmt.Errorf("spec.injectionStrategy.revision: revision %s: %w", inj.PinnedRevision.ControllerRevision, err)
	}
	cond, err := pinCondition(ss)
	if err != nil {
		return compiled{}, err
	}
	switch cond {
	case "true":
		pinned.patch = onceGuard(ss.Name, pinned.patch)
		return pinned, nil
	case "false":
		latest.patch = onceGuard(ss.Name, latest.patch)
		return latest, nil
	}
	out := compiled{variables: latest.variables}
	for _, v := range pinned.variables {
		if !hasVariable(out.variables, v.Name) {
			out.variables = append(out.variables, v)
		}
	}
	out.patch = onceGuard(ss.Name, fmt.Sprintf("(%s) ?\n(%s) :\n(%s)", cond, pinned.patch, latest.patch))
	return out, nil
}

func hasVariable(list []admissionregistrationv1.Variable, name string) bool {
	for _, v := range list {
		if v.Name == name {
			return true
		}
	}
	return false
}

// missingRevisionPatch removes a field no pod has, whose name says why:
// the patch fails, and the policy's failurePolicy Fail refuses the pod
// with that message.
func missingRevisionPatch(sidecarSet, missing string) string {
	msg := fmt.Sprintf("SidecarSet %s spec.injectionStrategy.revision names %s, which does not exist: pod refused rather than injected with another revision", sidecarSet, missing)
	return fmt.Sprintf(`[JSONPatch{op: "remove", path: %s}]`, celString("/metadata/"+jsonPointerEscape(msg)))
}

// pinCondition is the CEL condition under which a new pod gets the pinned
// revision: "true" and "false" when it does not depend on the pod.
func pinCondition(ss *v1beta1.SidecarSet) (string, error) {
	us := ss.Spec.UpdateStrategy
	if us.Paused || ss.Spec.InjectionStrategy.Revision.Policy != v1beta1.PartialSidecarSetInjectRevisionPolicy {
		return "true", nil
	}
	var parts []string
	if us.Selector != nil {
		sel, err := selectorCEL(us.Selector)
		if err != nil {
			return "", fmt.Errorf("spec.updateStrategy.selector: %w", err)
		}
		parts = append(parts, "!("+sel+")")
	}
	if p := us.Partition; p != nil && p.Type == intstr.String {
		n, err := intstr.GetScaledValueFromIntOrPercent(p, 100, true)
		if err != nil {
			return "", fmt.Errorf("spec.updateStrategy.partition: %w", err)
		}
		if n > 0 {
			return "true", nil // see injectionMutation
		}
	}
	if len(parts) == 0 {
		return "false", nil
	}
	return strings.Join(parts, " || "), nil
}

// selectorCEL is a label selector as a CEL condition on the pod's labels,
// with the meaning of labels.Selector (NotIn and DoesNotExist match pods
// without the key; an empty selector matches every pod).
func selectorCEL(sel *metav1.LabelSelector) (string, error) {
	if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		return "", err
	}
	const l = "object.metadata.?labels.orValue({})"
	var terms []string
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		terms = append(terms, fmt.Sprintf("(%s in %s && %s[%s] == %s)", celString(k), l, l, celString(k), celString(sel.MatchLabels[k])))
	}
	for _, r := range sel.MatchExpressions {
		k := celString(r.Key)
		vals := make([]string, len(r.Values))
		for i, v := range r.Values {
			vals[i] = celString(v)
		}
		in := fmt.Sprintf("(%s in %s && %s[%s] in [%s])", k, l, l, k, strings.Join(vals, ", "))
		switch r.Operator {
		case metav1.LabelSelectorOpIn:
			terms = append(terms, in)
		case metav1.LabelSelectorOpNotIn:
			terms = append(terms, "!"+in)
		case metav1.LabelSelectorOpExists:
			terms = append(terms, fmt.Sprintf("(%s in %s)", k, l))
		case metav1.LabelSelectorOpDoesNotExist:
			terms = append(terms, fmt.Sprintf("!(%s in %s)", k, l))
		}
	}
	if len(terms) == 0 {
		return "true", nil
	}
	return strings.Join(terms, " && "), nil
}
