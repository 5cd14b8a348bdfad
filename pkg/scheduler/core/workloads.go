package core

import (
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// System-default topology spreading needs to know which pods are a pod's
// siblings: kube derives a selector from the Services that select the pod
// and from its controller if that is a ReplicationController, ReplicaSet or
// StatefulSet (kube's helper.DefaultSelector). The workload index keeps
// just those selectors, fed from informers like namespaces and budgets.

type ownerKind uint8

const (
	ownerNone ownerKind = iota
	ownerRC
	ownerRS
	ownerSS
)

type ownerKey struct {
	kind     ownerKind
	ns, name string
}

type serviceSelector struct {
	set labels.Set
	sel labels.Selector
}

// ownerSelector is what a controller adds: labels merged (RC) or
// requirements added (RS, SS).
type ownerSelector struct {
	set  labels.Set
	reqs labels.Requirements
	str  string // to tell a real change from a status update
}

// defaultSpread is a pod's system-default spreading: its siblings are the
// pods of namespace ns that sel matches. Shared by every pod that resolves
// to the same (ns, selector).
type defaultSpread struct {
	ns  string
	sel labels.Selector
	key string // ns + selector, unique per (ns, selector)
}

// workloadIndex resolves default selectors.
//
// Resolution is cached by what it depends on: the namespace, the
// controller, and the pod's values of the label keys any Service of the
// namespace selects on. Replicas of one workload, StatefulSet pods with
// their unique pod-name labels included, share one entry, so a decision
// costs a map lookup instead of a pass over the namespace's Services. Any
// change to a Service or controller selector drops the cache, which is
// rebuilt one workload at a time; status-only updates change nothing.
type workloadIndex struct {
	services    map[string]map[string]serviceSelector // ns -> name
	serviceKeys map[string]map[string]int             // ns -> label key -> services selecting on it
	owners      map[ownerKey]ownerSelector
	resolved    map[string]*defaultSpread // nil: no defaulting
}

const maxResolved = 4096

func newWorkloadIndex() workloadIndex {
	return workloadIndex{
		services:    map[string]map[string]serviceSelector{},
		serviceKeys: map[string]map[string]int{},
		owners:      map[ownerKey]ownerSelector{},
		resolved:    map[string]*defaultSpread{},
	}
}

// UpdateService records the selector of a Service for system-default
// topology spreading. A Service without a selector selects no pod, and one
// with an empty selector adds nothing to a pod's selector, so neither is kept.
func (sc *Scheduler) UpdateService(svc *v1.Service) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	w := &sc.workloads
	old, had := w.services[svc.Namespace][svc.Name]
	sel := svc.Spec.Selector
	if len(sel) == 0 {
		if had {
			w.removeService(svc.Namespace, svc.Name)
		}
		return
	}
	if had && labels.Equals(old.set, sel) {
		return
	}
	if had {
		w.removeService(svc.Namespace, svc.Name)
	}
	set := labels.Set(sel)
	ns := w.services[svc.Namespace]
	if ns == nil {
		ns = map[string]serviceSelector{}
		w.services[svc.Namespace] = ns
	}
	ns[svc.Name] = serviceSelector{set: set, sel: set.AsSelectorPreValidated()}
	keys := w.serviceKeys[svc.Namespace]
	if keys == nil {
		keys = map[string]int{}
		w.serviceKeys[svc.Namespace] = keys
	}
	for k := range set {
		keys[k]++
	}
	clear(w.resolved)
}

// RemoveService forgets a Service.
func (sc *Scheduler) RemoveService(svc *v1.Service) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.workloads.removeService(svc.Namespace, svc.Name)
}

func (w *workloadIndex) removeService(namespace, name string) {
	old, ok := w.services[namespace][name]
	if !ok {
		return
	}
	delete(w.services[namespace], name)
	if len(w.services[namespace]) == 0 {
		delete(w.services, namespace)
	}
	keys := w.serviceKeys[namespace]
	for k := range old.set {
		if keys[k]--; keys[k] <= 0 {
			delete(keys, k)
		}
	}
	if len(keys) == 0 {
		delete(w.serviceKeys, namespace)
	}
	clear(w.resolved)
}

// UpdateReplicationController records an RC's selector.
func (sc *Scheduler) UpdateReplicationController(rc *v1.ReplicationController) {
	set := labels.Set(rc.Spec.Selector)
	sc.setOwner(ownerKey{ownerRC, rc.Namespace, rc.Name}, ownerSelector{set: set, str: set.String()}, len(set) > 0)
}

// RemoveReplicationController forgets an RC.
func (sc *Scheduler) RemoveReplicationController(rc *v1.ReplicationController) {
	sc.setOwner(ownerKey{ownerRC, rc.Namespace, rc.Name}, ownerSelector{}, false)
}

// UpdateReplicaSet records a ReplicaSet's selector.
func (sc *Scheduler) UpdateReplicaSet(rs *appsv1.ReplicaSet) {
	o, ok := requirementsOf(rs.Spec.Selector)
	sc.setOwner(ownerKey{ownerRS, rs.Namespace, rs.Name}, o, ok)
}

// RemoveReplicaSet forgets a ReplicaSet.
func (sc *Scheduler) RemoveReplicaSet(rs *appsv1.ReplicaSet) {
	sc.setOwner(ownerKey{ownerRS, rs.Namespace, rs.Name}, ownerSelector{}, false)
}

// UpdateStatefulSet records a StatefulSet's selector.
func (sc *Scheduler) UpdateStatefulSet(ss *appsv1.StatefulSet) {
	o, ok := requirementsOf(ss.Spec.Selector)
	sc.setOwner(ownerKey{ownerSS, ss.Namespace, ss.Name}, o, ok)
}

// RemoveStatefulSet forgets a StatefulSet.
func (sc *Scheduler) RemoveStatefulSet(ss *appsv1.StatefulSet) {
	sc.setOwner(ownerKey{ownerSS, ss.Namespace, ss.Name}, ownerSelector{}, false)
}

// requirementsOf parses a controller's selector; ok is false when it adds
// nothing (nil, empty or invalid), exactly the cases kube skips.
func requirementsOf(ls *metav1.LabelSelector) (ownerSelector, bool) {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return ownerSelector{}, false
	}
	reqs, ok := sel.Requirements()
	if !ok || len(reqs) == 0 {
		return ownerSelector{}, false
	}
	return ownerSelector{reqs: reqs, str: sel.String()}, true
}

// setOwner stores (present) or drops a controller's selector; a controller
// that adds nothing is the same as an absent one.
func (sc *Scheduler) setOwner(k ownerKey, o ownerSelector, present bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	w := &sc.workloads
	old, had := w.owners[k]
	switch {
	case present && had && old.str == o.str:
		return
	case present:
		w.owners[k] = o
	case had:
		delete(w.owners, k)
	default:
		return
	}
	clear(w.resolved)
}

// controllerOf classifies a pod's controller as kube does: by its
// apiVersion's group and version and its kind; anything else is none.
func controllerOf(pod *v1.Pod) (ownerKind, string) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return ownerNone, ""
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || gv.Version != "v1" {
		return ownerNone, ""
	}
	switch {
	case gv.Group == "" && ref.Kind == "ReplicationController":
		return ownerRC, ref.Name
	case gv.Group == "apps" && ref.Kind == "ReplicaSet":
		return ownerRS, ref.Name
	case gv.Group == "apps" && ref.Kind == "StatefulSet":
		return ownerSS, ref.Name
	}
	return ownerNone, ""
}

// defaultSpreadOf returns the pod's system-default spreading, or nil when
// its selector would be empty (kube then does not spread the pod at all).
func (w *workloadIndex) defaultSpreadOf(pod *v1.Pod) *defaultSpread {
	kind, owner := controllerOf(pod)
	keys := w.serviceKeys[pod.Namespace]
	if kind == ownerNone && len(keys) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(pod.Namespace)
	b.WriteByte(0)
	b.WriteByte(byte('0' + kind))
	b.WriteString(owner)
	if len(keys) > 0 {
		var proj []string
		for k, v := range pod.Labels {
			if keys[k] > 0 {
				proj = append(proj, k+"="+v)
			}
		}
		sort.Strings(proj)
		for _, kv := range proj {
			b.WriteByte(0)
			b.WriteString(kv)
		}
	}
	key := b.String()
	if d, ok := w.resolved[key]; ok {
		return d
	}
	d := w.resolve(pod, kind, owner)
	if len(w.resolved) >= maxResolved {
		clear(w.resolved)
	}
	w.resolved[key] = d
	return d
}

// resolve is kube's helper.DefaultSelector over the index.
func (w *workloadIndex) resolve(pod *v1.Pod, kind ownerKind, owner string) *defaultSpread {
	set := labels.Set{}
	podLabels := labels.Set(pod.Labels)
	for _, s := range w.services[pod.Namespace] {
		if s.sel.Matches(podLabels) {
			// Every matching Service agrees with the pod's labels, so the
			// merge order does not matter.
			set = labels.Merge(set, s.set)
		}
	}
	sel := set.AsSelector()
	if o, ok := w.owners[ownerKey{kind, pod.Namespace, owner}]; ok {
		if kind == ownerRC {
			sel = labels.Merge(set, o.set).AsSelector()
		} else {
			sel = sel.Add(o.reqs...)
		}
	}
	if sel.Empty() {
		return nil
	}
	return &defaultSpread{ns: pod.Namespace, sel: sel, key: pod.Namespace + "\x00" + sel.String()}
}
