package core

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// pdb is what preemption needs of a PodDisruptionBudget: which pods it
// covers and how many of them may still be disrupted.
type pdb struct {
	selector  labels.Selector
	allowed   int32
	disrupted map[string]struct{}
}

// pdbIndex holds budgets by namespace, then name: victims are always
// matched against the budgets of their own namespace only.
type pdbIndex map[string]map[string]*pdb

// UpdatePDB adds or replaces a PodDisruptionBudget. Preemption prefers
// victims whose eviction keeps every budget, as kube does; it never refuses
// to preempt because of one.
func (sc *Scheduler) UpdatePDB(b *policyv1.PodDisruptionBudget) {
	sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
	if err != nil || b.Spec.Selector == nil {
		// kube: an invalid, nil or empty selector matches no pod.
		sel = labels.Nothing()
	}
	p := &pdb{selector: sel, allowed: b.Status.DisruptionsAllowed}
	if len(b.Status.DisruptedPods) > 0 {
		p.disrupted = make(map[string]struct{}, len(b.Status.DisruptedPods))
		for name := range b.Status.DisruptedPods {
			p.disrupted[name] = struct{}{}
		}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ns := sc.pdbs[b.Namespace]
	if ns == nil {
		ns = map[string]*pdb{}
		sc.pdbs[b.Namespace] = ns
	}
	ns[b.Name] = p
}

// RemovePDB forgets a PodDisruptionBudget.
func (sc *Scheduler) RemovePDB(b *policyv1.PodDisruptionBudget) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if ns := sc.pdbs[b.Namespace]; ns != nil {
		delete(ns, b.Name)
		if len(ns) == 0 {
			delete(sc.pdbs, b.Namespace)
		}
	}
}

// splitByPDB partitions victims (sorted, most important first) into those
// whose eviction would exceed a budget and the rest, spending each budget's
// allowance in that order, as kube's FilterVictimsWithPDBViolation.
func (idx pdbIndex) splitByPDB(victims []*PodInfo) (violating, ok []*PodInfo) {
	if len(idx) == 0 {
		return nil, victims
	}
	spent := map[*pdb]int32{}
	violates := func(pod *PodInfo) bool {
		if len(pod.Pod.Labels) == 0 {
			return false
		}
		set := labels.Set(pod.Pod.Labels)
		for _, b := range idx[pod.Pod.Namespace] {
			if b.selector.Empty() || !b.selector.Matches(set) {
				continue
			}
			// Already counted by the disruption controller: no new disruption.
			if _, done := b.disrupted[pod.Pod.Name]; done {
				continue
			}
			spent[b]++
			if b.allowed-spent[b] < 0 {
				return true
			}
		}
		return false
	}
	for _, v := range victims {
		if violates(v) {
			violating = append(violating, v)
		} else {
			ok = append(ok, v)
		}
	}
	return violating, ok
}
