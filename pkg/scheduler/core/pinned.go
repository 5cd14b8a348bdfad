package core

import (
	"slices"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Why nodes that a pod's node-name affinity rules out were not looked at,
// in kube-scheduler's words (its NodeAffinity PreFilter).
const (
	ReasonNotInNodeNames   = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
	ReasonAffinityConflict = "pod affinity terms conflict"
)

// pinnedNames is kube's NodeAffinity PreFilter: when every required node
// selector term names its nodes (matchFields metadata.name In), only the
// named nodes can fit, and a scheduler need look at no other. DaemonSet and
// BroadcastJob pods are pinned so, one node each: without this, placing an
// agent on each of 10,000 nodes evaluates 10,000 nodes per pod. pinned is
// false when some term leaves every node open; names (sorted) is empty
// when the terms contradict each other.
func pinnedNames(pod *v1.Pod) (names []string, pinned bool) {
	terms := requiredNodeTerms(pod)
	if len(terms) == 0 {
		return nil, false
	}
	var union sets.Set[string]
	for _, t := range terms {
		var term sets.Set[string] // requirements of a term are ANDed
		for _, r := range t.MatchFields {
			if !isNameIn(r) {
				continue
			}
			if s := sets.New(r.Values...); term == nil {
				term = s
			} else {
				term = term.Intersection(s)
			}
		}
		if term == nil {
			return nil, false // terms are ORed: this one allows any node
		}
		union = union.Union(term)
	}
	return sets.List(union), true
}

// isPinned reports whether pinnedNames pins pod, without building sets.
func isPinned(pod *v1.Pod) bool {
	terms := requiredNodeTerms(pod)
	for _, t := range terms {
		if !slices.ContainsFunc(t.MatchFields, isNameIn) {
			return false
		}
	}
	return len(terms) > 0
}

// requiredNodeTerms are the pod's required node selector terms, if any.
func requiredNodeTerms(pod *v1.Pod) []v1.NodeSelectorTerm {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
}

func isNameIn(r v1.NodeSelectorRequirement) bool {
	return r.Key == metav1.ObjectNameField && r.Operator == v1.NodeSelectorOpIn
}

// searchSpace is the nodes a decision or a preemption looks at: every
// listed node, or for a pinned pod its named nodes that are listed, with
// the reason the others get.
func (sc *Scheduler) searchSpace(pod *v1.Pod) (search []*NodeInfo, absentReason string) {
	names, pinned := pinnedNames(pod)
	if !pinned {
		return sc.snap.nodes, ""
	}
	if len(names) == 0 {
		return nil, ReasonAffinityConflict
	}
	search = make([]*NodeInfo, 0, len(names))
	for _, name := range names {
		if n := sc.snap.byName[name]; n != nil && n.Node != nil && n.slot >= 0 {
			search = append(search, n)
		}
	}
	return search, ReasonNotInNodeNames
}
