package core

import (
	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// A nomination reserves room on a node for a pending pod that preempted
// pods there (its status.nominatedNodeName), so that while the victims
// terminate, pods of lower priority cannot take the room they free — kube's
// nominator. As in kube, a nominated pod counts on its node for every pod of
// lower or equal priority.
//
// The reservation is node-local: resources, pod count and host ports, and
// for the plugins Myriad runs from kube-scheduler (volumes, devices) the
// nominated pods are counted on their node as kube counts them (see
// External). kube also adds nominated pods to the cross-node state of
// topology spread and inter-pod affinity; Myriad does not, because that
// state is computed once per attempt from indexes and nominations are few
// and short-lived.
type nomination struct {
	pi       *PodInfo
	node     string
	priority int32
}

// podPriority is the pod's priority (0 when the admission plugin did not
// set one), as kube reads it.
func podPriority(pod *v1.Pod) int32 { return corev1helpers.PodPriority(pod) }

// Nominate records that pod waits for room on node. A pod has at most one
// nomination; a new one replaces the old.
func (sc *Scheduler) Nominate(pod *v1.Pod, node string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.nominate(pod, node)
}

func (sc *Scheduler) nominate(pod *v1.Pod, node string) {
	key := PodKey(pod)
	if old := sc.nominated[key]; old != nil {
		if old.node == node && old.pi.Pod == pod {
			return
		}
		sc.unnominate(key)
	}
	nm := &nomination{pi: NewPodInfo(pod, false), node: node, priority: podPriority(pod)}
	sc.nominated[key] = nm
	sc.nominatedOn[node] = append(sc.nominatedOn[node], nm)
}

// ClearNomination drops pod's nomination (it was bound, deleted, or lost
// its nomination to a pod of higher priority).
func (sc *Scheduler) ClearNomination(pod *v1.Pod) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.unnominate(PodKey(pod))
}

func (sc *Scheduler) unnominate(key string) {
	nm := sc.nominated[key]
	if nm == nil {
		return
	}
	delete(sc.nominated, key)
	list := sc.nominatedOn[nm.node]
	for i, x := range list {
		if x == nm {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(sc.nominatedOn, nm.node)
	} else {
		sc.nominatedOn[nm.node] = list
	}
}

// NominatedNode returns the node pod is nominated to, or "".
func (sc *Scheduler) NominatedNode(pod *v1.Pod) string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if nm := sc.nominated[PodKey(pod)]; nm != nil {
		return nm.node
	}
	return ""
}

// nominatedNodeOf is the node to try first for pod: its own nomination, or
// the one in its status (set by an earlier leader).
func (sc *Scheduler) nominatedNodeOf(pod *v1.Pod) *NodeInfo {
	name := pod.Status.NominatedNodeName
	if nm := sc.nominated[PodKey(pod)]; nm != nil {
		name = nm.node
	}
	if name == "" {
		return nil
	}
	return sc.snap.Get(name)
}

// reserving returns the nominations on n that pod must leave room for:
// other pods of priority >= pod's.
func (sc *Scheduler) reserving(pod *v1.Pod, n *NodeInfo) []*nomination {
	if len(sc.nominatedOn) == 0 {
		return nil
	}
	list := sc.nominatedOn[n.Node.Name]
	if len(list) == 0 {
		return nil
	}
	key, prio := PodKey(pod), podPriority(pod)
	var out []*nomination
	for _, nm := range list {
		if nm.pi.Key != key && nm.priority >= prio {
			out = append(out, nm)
		}
	}
	return out
}

// withReservations returns n as pod must see it: a copy holding the
// reserving nominated pods, or n itself when there are none.
func (sc *Scheduler) withReservations(pod *v1.Pod, n *NodeInfo) *NodeInfo {
	res := sc.reserving(pod, n)
	if len(res) == 0 {
		return n
	}
	view := n.clone()
	for _, nm := range res {
		view.addPod(nm.pi, view.Generation)
	}
	return view
}

// reservingPods is reserving's pods: what the plugins count on n for pod.
func (sc *Scheduler) reservingPods(pod *v1.Pod, n *NodeInfo) []*v1.Pod {
	res := sc.reserving(pod, n)
	if len(res) == 0 {
		return nil
	}
	out := make([]*v1.Pod, len(res))
	for i, nm := range res {
		out[i] = nm.pi.Pod
	}
	return out
}
