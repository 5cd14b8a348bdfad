package core

import v1 "k8s.io/api/core/v1"

// External is what the core does not decide itself for one pod: Myriad's
// runtime fills it from kube-scheduler's own plugins (volumes, dynamic
// resources, node-declared features) for the few pods that need them.
//
// Its verdicts depend on objects the snapshot does not hold (claims,
// volumes, devices), so they are never cached: they cost every pod that
// has them, on every node it visits, and nothing to pods that have none.
// Both functions are called with the core's lock held and must not change
// the snapshot.
//
// nominated, in both, are the pods nominated to n that the pod must leave
// room for (priority at least its own; nil nearly always). As kube's
// RunFilterPluginsWithNominatedPods, the pod must pass the plugins both
// with them counted on n and without them: the core already counts them
// for its own filters, and a nominated pod's volumes take a node's attach
// slots or a ReadWriteOncePod claim just as its resources take room.
type External struct {
	// Check runs after all of the core's own filters have passed n. It
	// returns why the pod cannot go there, in kube-scheduler's words, or nil.
	Check func(n *NodeInfo, nominated []*v1.Pod) []string
	// Score returns, for the candidates that passed every filter, each
	// one's weighted score to add to the core's total (kube's plugin
	// weights applied, normalized over these candidates).
	Score func(cands []*NodeInfo) []int64
	// Without checks n as it would be with the pods gone: the victims a
	// preemption weighs there (kube's SelectVictimsOnNode tells the
	// plugins' PreFilter extensions of each removal and runs their filters
	// on the node without them). So a ReadWriteOncePod claim's holder, a
	// pod on a conflicting disk or pods holding a node's attach slots can
	// be evicted for a pod of higher priority. Nil: what Check decides is
	// taken as not freed by evictions.
	Without func(n *NodeInfo, gone, nominated []*v1.Pod) []string
}

// checkExt is e's Check of pod on n, with the nominations there that pod
// must leave room for.
func (sc *Scheduler) checkExt(e *External, pod *v1.Pod, n *NodeInfo) []string {
	if e == nil || e.Check == nil {
		return nil
	}
	return e.Check(n, sc.reservingPods(pod, n))
}

// checkExtWithout is e's Without of pod on n with the pods in gone
// removed (Check as n stands when e has no Without).
func (sc *Scheduler) checkExtWithout(e *External, pod *v1.Pod, n *NodeInfo, gone []*PodInfo) []string {
	switch {
	case e == nil:
		return nil
	case e.Without == nil:
		return sc.checkExt(e, pod, n)
	}
	pods := make([]*v1.Pod, len(gone))
	for i, p := range gone {
		pods[i] = p.Pod
	}
	return e.Without(n, pods, sc.reservingPods(pod, n))
}
