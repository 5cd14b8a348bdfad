package statefulset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/history"
)

// defaultRevisionHistoryLimit is how many unused revisions are kept when
// spec.revisionHistoryLimit is unset, as upstream defaults it.
const defaultRevisionHistoryLimit = 10

// revisions are a StatefulSet's ControllerRevisions and their templates,
// keyed by revision name (which is what pods carry in
// controller-revision-hash and status names, as upstream).
type revisions struct {
	list      []*appsv1.ControllerRevision
	templates map[string]*corev1.PodTemplateSpec
	update    string // the revision of today's template
	current   string // status.currentRevision while still known, else update
}

// syncRevisions finds or creates the revision of the current template. A
// template seen before (a rollback) reuses its revision, moved to the head
// of the history, so pods still at it count as updated at once. It returns
// nil revisions (and no error) after bumping status.collisionCount on a
// name collision; the caller requeues.
func (r *Reconciler) syncRevisions(ctx context.Context, set *v1beta1.StatefulSet) (*revisions, error) {
	var list appsv1.ControllerRevisionList
	if err := r.client.List(ctx, &list, client.InNamespace(set.Namespace), client.MatchingFields{ownerIndex: string(set.UID)}); err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	data, err := history.Data(&set.Spec.Template)
	if err != nil {
		return nil, fmt.Errorf("encode template of %s/%s: %w", set.Namespace, set.Name, err)
	}
	revs := &revisions{templates: map[string]*corev1.PodTemplateSpec{}}
	var head int64
	var equal *appsv1.ControllerRevision
	for i := range list.Items {
		cr := &list.Items[i]
		revs.list = append(revs.list, cr)
		head = max(head, cr.Revision)
		t, err := history.Template(cr)
		if err != nil {
			continue
		}
		revs.templates[cr.Name] = t
		if equal == nil && history.SameTemplate(cr, &set.Spec.Template) {
			equal = cr
		}
	}
	switch {
	case equal != nil && equal.Revision < head:
		moved := equal.DeepCopy()
		moved.Revision = head + 1
		if err := r.client.Update(ctx, moved); err != nil {
			return nil, fmt.Errorf("move revision %s to the head of the history: %w", equal.Name, err)
		}
	case equal == nil:
		cr := newRevision(set, data, head+1)
		if err := r.client.Create(ctx, cr); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("create revision %s: %w", cr.Name, err)
			}
			existing := &appsv1.ControllerRevision{}
			if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(cr), existing); err != nil {
				return nil, err
			}
			if !metav1.IsControlledBy(existing, set) || !history.SameTemplate(existing, &set.Spec.Template) {
				return nil, r.bumpCollisionCount(ctx, set)
			}
			cr = existing
		}
		equal = cr
		revs.list = append(revs.list, cr)
		revs.templates[cr.Name] = set.Spec.Template.DeepCopy()
	}
	revs.update = equal.Name
	revs.current = set.Status.CurrentRevision
	if _, known := revs.templates[revs.current]; !known {
		revs.current = revs.update
	}
	return revs, nil
}

// newRevision is the ControllerRevision <set>-<hash> holding data. It
// carries the selector's labels, so `kubectl get controllerrevisions -l`
// finds a set's history, and the hash under controller-revision-hash.
func newRevision(set *v1beta1.StatefulSet, data []byte, number int64) *appsv1.ControllerRevision {
	hash := history.Hash(data, set.Status.CollisionCount)
	labels := map[string]string{pub.ControllerRevisionHashLabelKey: hash}
	if set.Spec.Selector != nil {
		for k, v := range set.Spec.Selector.MatchLabels {
			labels[k] = v
		}
	}
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            set.Name + "-" + hash,
			Namespace:       set.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, kind)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: number,
	}
}

// bumpCollisionCount makes the next revision name differ from one taken by
// an object that is not this template's revision.
func (r *Reconciler) bumpCollisionCount(ctx context.Context, set *v1beta1.StatefulSet) error {
	next := set.DeepCopy()
	var c int32
	if next.Status.CollisionCount != nil {
		c = *next.Status.CollisionCount
	}
	c++
	next.Status.CollisionCount = &c
	return r.client.Status().Update(ctx, next)
}

// trimHistory deletes the oldest revisions beyond revisionHistoryLimit that
// no pod runs and that are neither the update nor the current revision;
// failures are left for the next pass.
func (r *Reconciler) trimHistory(ctx context.Context, set *v1beta1.StatefulSet, revs *revisions, pods []*corev1.Pod) {
	limit := defaultRevisionHistoryLimit
	if l := set.Spec.RevisionHistoryLimit; l != nil {
		limit = int(*l)
	}
	inUse := map[string]bool{revs.update: true, revs.current: true}
	for _, p := range pods {
		inUse[p.Labels[pub.ControllerRevisionHashLabelKey]] = true
	}
	for _, cr := range history.ToDelete(revs.list, limit, func(cr *appsv1.ControllerRevision) bool { return inUse[cr.Name] }) {
		if err := r.client.Delete(ctx, cr, client.Preconditions{UID: &cr.UID}); err != nil && !apierrors.IsNotFound(err) {
			return
		}
	}
}
