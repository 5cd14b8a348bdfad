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
// Resources, pod count and host ports are reserved by adding the nominated
// pods to a copy of the node. Topology spread and inter-pod (anti-)affinity
// and the plugins Myriad runs from kube-scheduler (volumes, devices) judge
// the node twice, as kube's RunFilterPluginsWithNominatedPods does: with
// the nominated pods counted there and without them; the pod must pass
// both (spread and anti-affinity are stricter with them, required
// affinity without them).
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

// crossNodeWithNominated is the cross-node filters' pass with the pods
// nominated to n that pod must leave room for counted on n (kube's first
// pass of RunFilterPluginsWithNominatedPods, through the PreFilter
// extensions' AddPod). The pass without them is the ordinary one. cs is
// left as it was.
func (sc *Scheduler) crossNodeWithNominated(f *nodeFacts, cs *clusterState, pod *v1.Pod, n *NodeInfo) string {
	if cs.empty() {
		return ""
	}
	res := sc.reserving(pod, n)
	if len(res) == 0 {
		return ""
	}
	for _, nm := range res {
		cs.account(f, pod, nm.pi, n, 1)
	}
	defer func() {
		for _, nm := range res {
			cs.account(f, pod, nm.pi, n, -1)
		}
	}()
	if r := filterSpread(cs.spread, pod, n); r != "" {
		return r
	}
	return filterInterPod(cs, n)
}
