package cloneset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controllers/history"
)

// defaultRevisionHistoryLimit is how many unused revisions are kept when
// spec.revisionHistoryLimit is unset, as for Deployments.
const defaultRevisionHistoryLimit = 10

// revisions are a CloneSet's ControllerRevisions and their templates.
type revisions struct {
	list      []*appsv1.ControllerRevision
	templates map[string]*corev1.PodTemplateSpec // by revision name
	// claims are the claimTemplatesHash annotations, by revision name, of
	// the revisions that carry one.
	claims  map[string]string
	update  string // the current template's revision
	current string // status.currentRevision, if still known
}

// syncRevisions finds or creates the revision of the current template.
// Returning to an earlier template (a rollback) reuses that template's
// revision and moves it to the head of the history, so pods still at it
// count as updated at once. It returns nil revisions (and no error) after
// bumping status.collisionCount on a name collision; the caller requeues.
func (r *Reconciler) syncRevisions(ctx context.Context, cs *v1alpha1.CloneSet) (*revisions, error) {
	var list appsv1.ControllerRevisionList
	if err := r.client.List(ctx, &list, client.InNamespace(cs.Namespace), client.MatchingFields{ownerIndex: string(cs.UID)}); err != nil {
		return nil, err
	}
	data, err := history.Data(&cs.Spec.Template)
	if err != nil {
		return nil, fmt.Errorf("encode template of %s/%s: %w", cs.Namespace, cs.Name, err)
	}
	revs := &revisions{templates: map[string]*corev1.PodTemplateSpec{}, claims: map[string]string{}}
	claims := claimTemplatesHash(cs.Spec.VolumeClaimTemplates)
	var head int64
	var equal *appsv1.ControllerRevision
	name := revisionName(cs, data)
	for i := range list.Items {
		cr := &list.Items[i]
		revs.list = append(revs.list, cr)
		head = max(head, cr.Revision)
		if t, err := history.Template(cr); err == nil {
			revs.templates[cr.Name] = t
		}
		if h, ok := cr.Annotations[claimTemplatesHashAnnotation]; ok {
			revs.claims[cr.Name] = h
		}
		if (equal == nil || cr.Name == name) && sameTemplate(cr, data) {
			equal = cr
		}
	}
	switch {
	case equal != nil && equal.Revision < head:
		// A rollback to an earlier template takes today's claim templates
		// with it, as OpenKruise stamps them.
		moved := equal.DeepCopy()
		moved.Revision = head + 1
		metav1.SetMetaDataAnnotation(&moved.ObjectMeta, claimTemplatesHashAnnotation, claims)
		revs.claims[moved.Name] = claims
		if err := r.client.Update(ctx, moved); err != nil {
			return nil, fmt.Errorf("move revision %s to the head of the history: %w", equal.Name, err)
		}
	case equal == nil:
		cr := newRevision(cs, data, head+1)
		metav1.SetMetaDataAnnotation(&cr.ObjectMeta, claimTemplatesHashAnnotation, claims)
		err := r.client.Create(ctx, cr)
		if apierrors.IsAlreadyExists(err) {
			existing := &appsv1.ControllerRevision{}
			if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(cr), existing); err != nil {
				return nil, err
			}
			if metav1IsControlledBy(existing, cs) && sameTemplate(existing, data) {
				cr, err = existing, nil
			} else {
				return nil, r.bumpCollisionCount(ctx, cs)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("create revision %s: %w", cr.Name, err)
		}
		equal = cr
		revs.list = append(revs.list, cr)
		revs.templates[cr.Name] = cs.Spec.Template.DeepCopy()
		if h, ok := cr.Annotations[claimTemplatesHashAnnotation]; ok {
			revs.claims[cr.Name] = h
		}
	}
	revs.update = equal.Name
	revs.current = cs.Status.CurrentRevision
	if _, known := revs.templates[revs.current]; !known {
		revs.current = revs.update
	}
	return revs, nil
}

func metav1IsControlledBy(obj client.Object, cs *v1alpha1.CloneSet) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && ref.UID == cs.UID {
			return true
		}
	}
	return false
}

// bumpCollisionCount makes the next revision name differ from one taken by
// an object that is not this template's revision.
func (r *Reconciler) bumpCollisionCount(ctx context.Context, cs *v1alpha1.CloneSet) error {
	next := cs.DeepCopy()
	var c int32
	if next.Status.CollisionCount != nil {
		c = *next.Status.CollisionCount
	}
	c++
	next.Status.CollisionCount = &c
	return r.client.Status().Update(ctx, next)
}

// trimHistory deletes the oldest revisions beyond revisionHistoryLimit that
// no pod uses and that are neither the update nor the current revision.
// Failures are left for the next pass.
func (r *Reconciler) trimHistory(ctx context.Context, ps *pass) {
	limit := defaultRevisionHistoryLimit
	if l := ps.cs.Spec.RevisionHistoryLimit; l != nil {
		limit = int(*l)
	}
	inUse := map[string]bool{ps.revs.update: true, ps.revs.current: true}
	for _, p := range ps.pods {
		inUse[p.Labels[pub.ControllerRevisionHashLabelKey]] = true
	}
	for _, cr := range history.ToDelete(ps.revs.list, limit, func(cr *appsv1.ControllerRevision) bool { return inUse[cr.Name] }) {
		if err := r.client.Delete(ctx, cr, client.Preconditions{UID: &cr.UID}); err != nil && !apierrors.IsNotFound(err) {
			return
		}
	}
}
