package sidecarset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/controller/history"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// The RevisionPinned condition, Myriad's addition: present while
// injectionStrategy.revision pins a revision, False when that revision
// does not exist (new pods the SidecarSet selects are then refused).
const (
	ConditionRevisionPinned = "RevisionPinned"
	ReasonRevisionFound     = "RevisionFound"
	ReasonRevisionNotFound  = "RevisionNotFound"
)

// maxCollisions bounds the names tried for a new revision; a 32-bit hash
// collides with another revision of the same SidecarSet almost never.
const maxCollisions = 5

// syncRevisions records the SidecarSet's current injected spec as its
// latest ControllerRevision (a spec seen before is moved to the head of the
// history, as upstream controllers do on rollback), trims the history, and
// says what the policy injects. It sets the RevisionPinned condition on
// ss's status in memory (the status update writes it), with an event when
// the pinned revision goes missing.
//
// ControllerRevisions come from the manager's cache and are written with
// the manager's client: upstream's history.Interface needs a client-go
// lister the controller-runtime cache does not offer, so only its pure
// helpers are used.
func (r *Reconciler) syncRevisions(ctx context.Context, ss *v1beta1.SidecarSet) (Injection, error) {
	var list appsv1.ControllerRevisionList
	if err := r.client.List(ctx, &list, client.InNamespace(r.revisionNS), client.MatchingLabels{SidecarSetNameLabel: ss.Name}); err != nil {
		return Injection{}, fmt.Errorf("list revisions of SidecarSet %s: %w", ss.Name, err)
	}
	var revs []*appsv1.ControllerRevision
	for i := range list.Items {
		// A revision of an earlier SidecarSet of the same name waits for
		// the garbage collector; it is not this one's.
		if metav1.IsControlledBy(&list.Items[i], ss) {
			revs = append(revs, &list.Items[i])
		}
	}
	history.SortControllerRevisions(revs)
	next := int64(1)
	if n := len(revs); n > 0 {
		next = revs[n-1].Revision + 1
	}
	cur, err := Revisions(ss)
	if err != nil {
		return Injection{}, err
	}
	var equal *appsv1.ControllerRevision
	for i := len(revs) - 1; i >= 0 && equal == nil; i-- {
		if sameSpec(revs[i], ss, cur.Hash) {
			equal = revs[i]
		}
	}
	var latest *appsv1.ControllerRevision
	switch {
	case equal != nil && equal == revs[len(revs)-1]:
		latest = equal
	case equal != nil:
		moved := equal.DeepCopy()
		moved.Revision = next
		if err := r.client.Update(ctx, moved); err != nil {
			return Injection{}, fmt.Errorf("move revision %s of SidecarSet %s to the head of its history: %w", equal.Name, ss.Name, err)
		}
		latest = moved
		for i := range revs {
			if revs[i] == equal {
				revs = append(revs[:i], revs[i+1:]...)
				break
			}
		}
		revs = append(revs, latest)
	default:
		cr, err := r.createRevision(ctx, ss, next)
		if err != nil {
			return Injection{}, err
		}
		latest = cr
		revs = append(revs, latest)
	}
	if cv := ss.Spec.CustomVersion; cv != "" && latest.Labels[v1beta1.SidecarSetCustomVersionLabel] != cv {
		// The same spec under a new customVersion: the label follows the
		// spec's, as OpenKruise's does.
		patch := client.MergeFrom(latest.DeepCopy())
		latest.Labels[v1beta1.SidecarSetCustomVersionLabel] = cv
		if err := r.client.Patch(ctx, latest, patch); err != nil {
			return Injection{}, fmt.Errorf("label revision %s of SidecarSet %s with customVersion %s: %w", latest.Name, ss.Name, cv, err)
		}
	}
	if err := r.trimRevisions(ctx, ss, revs); err != nil {
		return Injection{}, err
	}

	inj := Injection{Latest: latest.Name}
	pinned, what, ok := PinnedRevision(ss, revs)
	before := apimeta.FindStatusCondition(ss.Status.Conditions, ConditionRevisionPinned)
	now := metav1.NewTime(r.clock.Now())
	switch {
	case ss.Spec.InjectionStrategy.Revision == nil || what == "":
		apimeta.RemoveStatusCondition(&ss.Status.Conditions, ConditionRevisionPinned)
	case !ok:
		inj.Missing = what
		msg := fmt.Sprintf("spec.injectionStrategy.revision names %s, which this SidecarSet has no revision of (it keeps its revisions in namespace %s); new pods it selects are refused until the revision is named right or the pin removed", what, r.revisionNS)
		if before == nil || before.Status != metav1.ConditionFalse || before.Message != msg {
			r.events.Eventf(ss, nil, corev1.EventTypeWarning, ReasonRevisionNotFound, "Inject", "%s", msg)
		}
		apimeta.SetStatusCondition(&ss.Status.Conditions, metav1.Condition{Type: ConditionRevisionPinned, Status: metav1.ConditionFalse,
			Reason: ReasonRevisionNotFound, Message: msg, ObservedGeneration: ss.Generation, LastTransitionTime: now})
	default:
		restored, rev, err := RestoreRevision(ss, pinned)
		if err != nil {
			return Injection{}, err
		}
		inj.Pinned, inj.PinnedRevision = restored, rev
		apimeta.SetStatusCondition(&ss.Status.Conditions, metav1.Condition{Type: ConditionRevisionPinned, Status: metav1.ConditionTrue,
			Reason: ReasonRevisionFound, Message: fmt.Sprintf("new pods get revision %s (%s, policy %s)", pinned.Name, what, pinPolicy(ss)),
			ObservedGeneration: ss.Generation, LastTransitionTime: now})
	}
	return inj, nil
}

func pinPolicy(ss *v1beta1.SidecarSet) v1beta1.SidecarSetInjectRevisionPolicy {
	if p := ss.Spec.InjectionStrategy.Revision.Policy; p != "" {
		return p
	}
	return v1beta1.AlwaysSidecarSetInjectRevisionPolicy
}

// createRevision creates the revision of the current spec, trying the
// next name on a collision with a different revision.
func (r *Reconciler) createRevision(ctx context.Context, ss *v1beta1.SidecarSet, number int64) (*appsv1.ControllerRevision, error) {
	collisions := int32(0)
	if ss.Status.CollisionCount != nil {
		collisions = *ss.Status.CollisionCount
	}
	for try := int32(0); try < maxCollisions; try++ {
		cr, err := NewRevision(ss, r.revisionNS, number, collisions+try)
		if err != nil {
			return nil, err
		}
		err = r.client.Create(ctx, cr)
		if err == nil {
			return cr, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create revision %s of SidecarSet %s: %w", cr.Name, ss.Name, err)
		}
		// The cache may not show it yet: read it from the API server.
		existing, err := r.kube.AppsV1().ControllerRevisions(cr.Namespace).Get(ctx, cr.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read revision %s of SidecarSet %s: %w", cr.Name, ss.Name, err)
		}
		if metav1.IsControlledBy(existing, ss) && sameSpec(existing, ss, cr.Annotations[v1beta1.SidecarSetHashAnnotation]) {
			return existing, nil
		}
	}
	return nil, fmt.Errorf("create revision of SidecarSet %s: %d names taken by other revisions", ss.Name, maxCollisions)
}

// trimRevisions deletes what RevisionsToTrim says; the pods are read only
// when the history is over its limit.
func (r *Reconciler) trimRevisions(ctx context.Context, ss *v1beta1.SidecarSet, revs []*appsv1.ControllerRevision) error {
	limit := defaultRevisionHistoryLimit
	if l := ss.Spec.RevisionHistoryLimit; l != nil {
		limit = max(1, int(*l))
	}
	if len(revs) <= limit {
		return nil
	}
	pods, err := r.selectedPods(ctx, ss)
	if err != nil {
		return err
	}
	for _, cr := range RevisionsToTrim(ss, revs, pods) {
		if err := r.client.Delete(ctx, cr, client.Preconditions{UID: &cr.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete revision %s of SidecarSet %s: %w", cr.Name, ss.Name, err)
		}
	}
	return nil
}
