package cloneset

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// member is one pod a CloneSet owns, classified by the controller.
type member struct {
	pod *corev1.Pod
	// revision is the controller-revision-hash label.
	revision string
	// available: Ready for minReadySeconds, InPlaceUpdateReady not False,
	// and in a serving lifecycle state (Normal or Updated).
	available bool
	// specifiedDelete: named in scaleStrategy.podsToDelete or labelled
	// apps.kruise.io/specified-delete.
	specifiedDelete bool
	// inFlight: chosen for an in-place update that has not finished
	// (PreparingUpdate, or Updating); the update step leaves it alone.
	inFlight bool
	// update says how the pod reaches updateRevision.
	update updateMode
	// priority is the pod's rank under priorityStrategy (podorder.Ranker).
	priority []int64
	// deleteHeld: the preDelete hook would hold the pod in PreparingDelete.
	deleteHeld bool
	// recreate: set by makePlan on a pod it deletes to recreate it at
	// updateRevision (rather than to scale down).
	recreate bool
}

type updateMode int

const (
	// updateRecreate: delete the pod and create a new one.
	updateRecreate updateMode = iota
	// updateInPlace: change images and/or metadata in place.
	updateInPlace
	// updateImpossible: InPlaceOnly, and the change cannot be made in place.
	updateImpossible
)

// planInput is a CloneSet's spec resolved to numbers, and its live pods:
// owned, not terminating, not already being deleted (PreparingDelete).
type planInput struct {
	replicas int
	// partition is how many pods stay at old revisions (resolved from a
	// number or percentage, at most replicas).
	partition int
	// maxUnavailable and maxSurge of the update strategy, resolved; not
	// both zero.
	maxUnavailable, maxSurge int
	// scaleMaxUnavailable caps unavailable pods while scaling up; -1 = no cap.
	scaleMaxUnavailable int
	paused              bool
	updateRevision      string
	// createRevision is the revision of pods created to keep the partition
	// at old revisions: the current revision when its template is known,
	// otherwise updateRevision.
	createRevision string
	scatter        pub.UpdateScatterStrategy
	members        []*member
	// heldForDelete is how many pods the preDelete hook holds in
	// PreparingDelete. They still count toward replicas, so they get no
	// replacement before they are gone, unless excludeHeldForDelete (the
	// CloneSet's scaling-exclude-preparing-delete label) says otherwise.
	heldForDelete        int
	excludeHeldForDelete bool
}

// plan is what one pass does: pods to create (one revision name per pod),
// pods to delete, pods to update in place. Blocked counts pods the update
// strategy cannot move (InPlaceOnly with a change that is not in place).
type plan struct {
	create  []string
	delete  []*member
	inPlace []*member
	blocked int
}

// makePlan decides one pass of scaling and updating.
//
// Scaling comes first and a pass that scales does not also update, so each
// update decision sees the pods the scale produced:
//
//   - pods marked for deletion (podsToDelete, specified-delete label) are
//     deleted whatever else happens; with replicas unchanged they are
//     replaced once they are gone. A pod the preDelete hook holds in
//     PreparingDelete counts as one of the replicas until then, unless the
//     CloneSet asks for it to be replaced at once (excludeHeldForDelete).
//   - the target pod count is replicas, plus up to maxSurge extra pods at
//     updateRevision while old pods wait to be recreated. Updates that are
//     made in place never surge: there is nothing to bring up first.
//   - new pods are created at updateRevision until replicas-partition pods
//     are at it, and at createRevision after that.
//   - excess pods are deleted from the side (old or updated) that has more
//     than the partition allows, then in deletionOrder.
//
// Updating moves old pods to updateRevision in updateOrder until
// replicas-partition pods are there; without maxSurge a recreated pod's
// replacement is created in the same pass. Each update of an available pod uses
// one unit of the budget maxUnavailable + (live pods - replicas) - pods
// already unavailable; updating an unavailable pod is free. So no more than
// maxUnavailable pods below replicas are ever unavailable on account of the
// rollout.
func makePlan(in planInput) plan {
	var p plan
	var live, old, updated []*member
	for _, m := range in.members {
		if m.specifiedDelete {
			p.delete = append(p.delete, m)
			continue
		}
		live = append(live, m)
		if m.revision == in.updateRevision {
			updated = append(updated, m)
		} else {
			old = append(old, m)
		}
	}
	keepOld := min(in.partition, in.replicas)
	desiredUpdated := in.replicas - keepOld

	// Every old pod beyond the partition is to be moved; pods missing
	// below replicas are created at updateRevision first (see create).
	toUpdate := 0
	if !in.paused {
		toUpdate = max(0, len(old)-keepOld)
	}
	candidates := updateOrder(old, in.scatter)
	surge := 0
	if in.maxSurge > 0 && toUpdate > 0 {
		recreate := 0
		for _, m := range candidates[:toUpdate] {
			if m.update == updateRecreate {
				recreate++
			}
		}
		surge = min(in.maxSurge, recreate)
	}

	target := in.replicas + surge
	// Pods marked for deletion are still replicas until they are gone (or,
	// with excludeHeldForDelete, until the preDelete hook holds them), as in
	// OpenKruise: a marked pod's replacement comes after it, not beside it.
	counted := len(live) + len(p.delete)
	if !in.excludeHeldForDelete {
		counted += in.heldForDelete
	}
	switch diff := counted - target; {
	case diff < 0:
		n := -diff
		if in.scaleMaxUnavailable >= 0 {
			n = min(n, max(0, in.scaleMaxUnavailable-unavailable(live)))
		}
		// An old pod already on its way to updateRevision in place (held
		// in PreparingUpdate by the inPlaceUpdate hook) counts as updated,
		// as in OpenKruise: the pod recreated beside it keeps the old
		// revision, or the partition would be overrun once it finishes.
		atUpdate := max(0, min(n, desiredUpdated+surge-len(updated)-inFlight(old)))
		for i := range n {
			rev := in.createRevision
			if i < atUpdate {
				rev = in.updateRevision
			}
			p.create = append(p.create, rev)
		}
	case len(live) > target:
		// Pods held for deletion are on their way out already: only live
		// pods beyond the target are chosen.
		p.delete = append(p.delete, scaleDownVictims(old, updated, len(live)-target, len(old)-keepOld)...)
	}
	if len(p.create) > 0 || len(p.delete) > 0 || toUpdate == 0 {
		return p
	}

	budget := in.maxUnavailable + len(live) - in.replicas - unavailable(live)
	// Pods already on their way in place hold their slots first, wherever
	// updateOrder ranks them: a pod created beside one held in
	// PreparingUpdate is not updated too (OpenKruise's "regard
	// preparing-update pod as update when scaling").
	chosen := inFlight(candidates)
	for _, m := range candidates {
		if chosen >= toUpdate {
			break
		}
		if m.inFlight {
			continue
		}
		if m.update == updateImpossible {
			p.blocked++
			continue
		}
		if m.available {
			if budget <= 0 {
				break
			}
			budget--
		}
		chosen++
		if m.update == updateInPlace {
			p.inPlace = append(p.inPlace, m)
		} else {
			// Without surge the replacement is created in the same pass:
			// waiting a pass for the scale step to notice the gap would leave
			// half the unavailability budget idle. With surge, the surge
			// pods are the replacements.
			// A pod the preDelete hook holds is replaced once it is gone,
			// as on scale (see counted above).
			m.recreate = true
			p.delete = append(p.delete, m)
			if in.maxSurge == 0 && (!m.deleteHeld || in.excludeHeldForDelete) {
				p.create = append(p.create, in.updateRevision)
			}
		}
	}
	return p
}

// scaleDownVictims picks n pods to delete. While more old pods exist than
// the partition keeps (excessOld > 0) they go first, so that scaling down
// never undoes a rollout; otherwise updated pods go first, so that the
// partition's old pods survive.
func scaleDownVictims(old, updated []*member, n, excessOld int) []*member {
	old, updated = deletionOrder(old), deletionOrder(updated)
	var out []*member
	take := func(from []*member, k int) []*member {
		k = min(k, len(from), n-len(out))
		out = append(out, from[:k]...)
		return from[k:]
	}
	if excessOld > 0 {
		old = take(old, excessOld)
	}
	updated = take(updated, n)
	take(old, n)
	return out
}

func inFlight(ms []*member) int {
	n := 0
	for _, m := range ms {
		if m.inFlight {
			n++
		}
	}
	return n
}

func unavailable(ms []*member) int {
	n := 0
	for _, m := range ms {
		if !m.available {
			n++
		}
	}
	return n
}
