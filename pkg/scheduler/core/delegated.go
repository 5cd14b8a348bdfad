package core

import (
	"slices"

	v1 "k8s.io/api/core/v1"
)

// Resources the core leaves to others: since v1.37 an extended resource
// that a DeviceClass names (spec.extendedResourceName, or the implicit
// deviceclass.resource.kubernetes.io/<class>) is served by Dynamic Resource
// Allocation on every node that has none of it in allocatable. kube's
// NodeResourcesFit skips such a resource there and its DynamicResources
// plugin allocates devices for it instead; the core does the same skip and
// Myriad's runtime hands those pods to that plugin (kubeplugins).
//
// Which names are delegated changes with DeviceClasses, so the pod's
// delegated names are part of its class key: a new DeviceClass gives the
// pods it affects a new class, and no cached verdict is ever stale.

// SetDelegated installs the test for delegated resource names (nil: none).
// It must be safe to call with the core's lock held.
func (sc *Scheduler) SetDelegated(fn func(v1.ResourceName) bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.delegated = fn
}

// delegatedFor is the pod's requested resource names that are delegated,
// sorted; nil for nearly every pod.
func (sc *Scheduler) delegatedFor(pod *v1.Pod) []v1.ResourceName {
	if sc.delegated == nil {
		return nil
	}
	var out []v1.ResourceName
	add := func(rl v1.ResourceList) {
		for name, q := range rl {
			if !q.IsZero() && isScalarResource(name) && !slices.Contains(out, name) && sc.delegated(name) {
				out = append(out, name)
			}
		}
	}
	// Limits too: a container's request of an extended resource defaults
	// to its limit.
	for _, cs := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			add(cs[i].Resources.Requests)
			add(cs[i].Resources.Limits)
		}
	}
	if r := pod.Spec.Resources; r != nil {
		add(r.Requests)
		add(r.Limits)
	}
	add(pod.Spec.Overhead)
	slices.Sort(out)
	return out
}

// delegatedHere: name is left to DRA on n (n has none of it).
func delegatedHere(delegated []v1.ResourceName, name v1.ResourceName, n *NodeInfo) bool {
	return len(delegated) > 0 && n.Allocatable.Scalar[name] == 0 && slices.Contains(delegated, name)
}
