package daemonset

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// daemonPod is one live (not terminating) pod of a DaemonSet, classified
// by the controller.
type daemonPod struct {
	pod  *corev1.Pod
	node string
	// updated: the pod's controller-revision-hash is the update revision's.
	updated bool
	// ready: the Ready condition is True; available: ready for
	// minReadySeconds and not in an in-place update.
	ready, available bool
	// failed: phase Failed; the pod is replaced. backoff: a failed pod on a
	// node whose pods keep failing, left in place (and the node without a
	// new pod) until its backoff passes, as upstream does.
	failed, backoff bool
	// preparingDelete: the pod was chosen for deletion and the preDelete
	// hook holds it; the node waits for it to go before getting a new pod.
	preparingDelete bool
	// inPlace: the pod can reach the update revision in place.
	inPlace bool
}

// nodeInfo is one node of the cluster as one DaemonSet sees it.
type nodeInfo struct {
	name string
	// shouldRun: the node should run the daemon pod; shouldContinue: a pod
	// already there may stay (an untolerated NoSchedule taint added later
	// does not evict it, as upstream).
	shouldRun, shouldContinue bool
	// inRollout: the rollout selector lets the node's pod be updated.
	inRollout bool
	pods      []*daemonPod
}

// planInput is a DaemonSet resolved to numbers, and the cluster's nodes.
type planInput struct {
	// nodes: every node, sorted by name.
	nodes []*nodeInfo
	// orphaned: pods whose node no longer exists.
	orphaned []*daemonPod
	// onDelete: updateStrategy.type OnDelete; pods change only when deleted.
	onDelete bool
	paused   bool
	// inPlace: rollingUpdateType InPlaceIfPossible.
	inPlace bool
	// maxUnavailable, maxSurge, partition and burst, resolved against the
	// desired node count; surge is zero when inPlace.
	maxUnavailable, maxSurge, partition, burst int
	// partitionedScaling: new nodes get pods only while fewer than
	// desired-partition nodes run the update revision.
	partitionedScaling bool
}

// plan is what one pass does.
type plan struct {
	// create: nodes to get a new pod at the update revision.
	create []string
	// delete: pods to delete (or to hand to the preDelete hook).
	delete []*daemonPod
	// inPlace: pods to update in place.
	inPlace []*daemonPod
	// leftSelector: nodes outside the rollout selector that run, or are
	// moving to, the update revision: they left the selector during the
	// rollout (or joined the cluster after it started). Their operation is
	// finished, never left half-way, and they are reported.
	leftSelector []string
}

// makePlan decides one pass, in upstream's order: first every node gets
// exactly one pod (manage), then old pods move to the update revision
// within maxUnavailable, maxSurge and partition (update). It is a pure
// function of its input.
func makePlan(in planInput) plan {
	var p plan
	deleting := map[*daemonPod]bool{}
	del := func(d *daemonPod) {
		if !deleting[d] {
			deleting[d] = true
			p.delete = append(p.delete, d)
		}
	}
	surge := in.maxSurge > 0 && !in.inPlace
	desired, updatedNodes := 0, 0
	var newNodes []string
	for _, n := range in.nodes {
		live, held := livePods(n)
		switch {
		case n.shouldRun:
			desired++
			for _, d := range n.pods {
				if d.failed && !d.backoff && !d.preparingDelete {
					del(d)
				}
			}
			if hasUpdated(live) {
				updatedNodes++
			}
			if len(live) == 0 && !held {
				newNodes = append(newNodes, n.name)
			}
			for _, d := range excess(live, surge) {
				del(d)
			}
		case !n.shouldContinue:
			for _, d := range n.pods {
				if !d.preparingDelete {
					del(d)
				}
			}
		}
		if !n.inRollout && hasUpdated(live) {
			p.leftSelector = append(p.leftSelector, n.name)
		}
	}
	for _, d := range in.orphaned {
		if !d.preparingDelete {
			del(d)
		}
	}
	if in.partitionedScaling {
		newNodes = newNodes[:min(len(newNodes), max(0, desired-updatedNodes-in.partition))]
	}
	p.create = newNodes

	if !in.onDelete && !in.paused {
		p.update(in, desired-updatedNodes-in.partition, surge, deleting, del)
	}
	// burstReplicas caps each kind of write per pass. In-place updates too:
	// each costs two writes, and a pass that starts thousands holds every
	// completion back until it is done, so the rollout moves in plateaus.
	p.create = p.create[:min(len(p.create), in.burst)]
	p.delete = p.delete[:min(len(p.delete), in.burst)]
	p.inPlace = p.inPlace[:min(len(p.inPlace), in.burst)]
	return p
}

// update moves old pods to the update revision. allowed is how many more
// nodes the partition lets move.
func (p *plan) update(in planInput, allowed int, surge bool, deleting map[*daemonPod]bool, del func(*daemonPod)) {
	unavailable, surging := 0, 0
	type candidate struct {
		node string
		old  *daemonPod
	}
	var candidates []candidate
	for _, n := range in.nodes {
		if !n.shouldRun {
			continue
		}
		live, held := livePods(n)
		var newPod, oldPod *daemonPod
		for _, d := range live {
			if deleting[d] {
				continue
			}
			if d.updated {
				newPod = d
			} else {
				oldPod = d
			}
		}
		if held || (newPod == nil || !newPod.available) && (oldPod == nil || !oldPod.available) {
			unavailable++
		}
		switch {
		case newPod != nil && oldPod != nil:
			// A surge pair: the old pod goes only once the new one is
			// available, whatever the selector or partition say now, so no
			// node is left with two pods or without a serving one.
			surging++
			if newPod.available {
				del(oldPod)
			}
		case oldPod != nil && !held && n.inRollout:
			candidates = append(candidates, candidate{n.name, oldPod})
		}
	}
	// Unavailable old pods first: replacing them costs no availability.
	sort.SliceStable(candidates, func(i, j int) bool {
		return !candidates[i].old.available && candidates[j].old.available
	})
	for _, c := range candidates {
		if allowed <= 0 {
			return
		}
		switch {
		case surge:
			// Standard with surge: the new pod is created next to the old
			// one; an unavailable old pod needs no surge budget.
			if c.old.available {
				if surging >= in.maxSurge {
					continue
				}
				surging++
			}
			p.create = append(p.create, c.node)
		default:
			if c.old.available {
				if unavailable >= in.maxUnavailable {
					continue
				}
				unavailable++
			}
			if in.inPlace && c.old.inPlace {
				p.inPlace = append(p.inPlace, c.old)
			} else {
				del(c.old)
			}
		}
		allowed--
	}
}

// livePods are the node's pods that count as running it: not failed and not
// held for deletion; held reports whether one is held (by the preDelete hook,
// or failed and in backoff), so the node gets no new pod yet.
func livePods(n *nodeInfo) (live []*daemonPod, held bool) {
	for _, d := range n.pods {
		switch {
		case d.preparingDelete, d.failed && d.backoff:
			held = true
		case !d.failed:
			live = append(live, d)
		}
	}
	return live, held
}

func hasUpdated(pods []*daemonPod) bool {
	for _, d := range pods {
		if d.updated {
			return true
		}
	}
	return false
}

// excess are the pods beyond the one a node should run: all but the best
// (updated, then available, then oldest). With surge, one updated pod next
// to one old pod is a rollout in progress, not an excess.
func excess(live []*daemonPod, surge bool) []*daemonPod {
	if len(live) <= 1 {
		return nil
	}
	if surge && len(live) == 2 && live[0].updated != live[1].updated {
		return nil
	}
	sorted := append([]*daemonPod(nil), live...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.updated != b.updated {
			return a.updated
		}
		if a.available != b.available {
			return a.available
		}
		return a.pod.CreationTimestamp.Before(&b.pod.CreationTimestamp)
	})
	return sorted[1:]
}
