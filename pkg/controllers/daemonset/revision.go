package daemonset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/history"
)

// defaultRevisionHistoryLimit is how many unused revisions are kept when
// spec.revisionHistoryLimit is unset, as OpenKruise defaults it.
const defaultRevisionHistoryLimit = 10

// revisions are a DaemonSet's ControllerRevisions and their templates.
type revisions struct {
	list      []*appsv1.ControllerRevision
	templates map[string]*corev1.PodTemplateSpec // by hash
	update    string                             // the current template's hash
}

// syncRevisions finds or creates the revision of the current template; a
// template seen before (a rollback) reuses its revision, moved to the head
// of the history. It returns nil revisions after bumping collisionCount.
func (r *Reconciler) syncRevisions(ctx context.Context, ds *v1beta1.DaemonSet) (*revisions, error) {
	var list appsv1.ControllerRevisionList
	if err := r.client.List(ctx, &list, client.InNamespace(ds.Namespace), client.MatchingFields{ownerIndex: string(ds.UID)}); err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	data, err := history.Data(&ds.Spec.Template)
	if err != nil {
		return nil, fmt.Errorf("encode template of %s/%s: %w", ds.Namespace, ds.Name, err)
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
		revs.templates[cr.Labels[pub.ControllerRevisionHashLabelKey]] = t
		if equal == nil && apiequality.Semantic.DeepEqual(t, &ds.Spec.Template) {
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
		hash := history.Hash(data, ds.Status.CollisionCount)
		cr := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{
				Name:            ds.Name + "-" + hash,
				Namespace:       ds.Namespace,
				Labels:          map[string]string{pub.ControllerRevisionHashLabelKey: hash},
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, v1beta1.SchemeGroupVersion.WithKind("DaemonSet"))},
			},
			Data:     runtime.RawExtension{Raw: data},
			Revision: head + 1,
		}
		for k, v := range ds.Spec.Template.Labels {
			if _, set := cr.Labels[k]; !set {
				cr.Labels[k] = v
			}
		}
		if err := r.client.Create(ctx, cr); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("create revision %s: %w", cr.Name, err)
			}
			existing := &appsv1.ControllerRevision{}
			if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(cr), existing); err != nil {
				return nil, err
			}
			t, terr := history.Template(existing)
			if !metav1.IsControlledBy(existing, ds) || terr != nil || !apiequality.Semantic.DeepEqual(t, &ds.Spec.Template) {
				return nil, r.bumpCollisionCount(ctx, ds)
			}
			cr = existing
		}
		equal = cr
		revs.list = append(revs.list, cr)
		revs.templates[hash] = ds.Spec.Template.DeepCopy()
	}
	revs.update = equal.Labels[pub.ControllerRevisionHashLabelKey]
	return revs, nil
}

func (r *Reconciler) bumpCollisionCount(ctx context.Context, ds *v1beta1.DaemonSet) error {
	next := ds.DeepCopy()
	var c int32
	if next.Status.CollisionCount != nil {
		c = *next.Status.CollisionCount
	}
	c++
	next.Status.CollisionCount = &c
	return r.client.Status().Update(ctx, next)
}

// trimHistory deletes the oldest revisions beyond revisionHistoryLimit that
// no pod runs; failures are left for the next pass.
func (r *Reconciler) trimHistory(ctx context.Context, ps *pass) {
	limit := defaultRevisionHistoryLimit
	if l := ps.ds.Spec.RevisionHistoryLimit; l != nil {
		limit = int(*l)
	}
	inUse := map[string]bool{ps.revs.update: true}
	for _, p := range ps.pods {
		inUse[p.Labels[pub.ControllerRevisionHashLabelKey]] = true
	}
	hashOf := func(cr *appsv1.ControllerRevision) bool { return inUse[cr.Labels[pub.ControllerRevisionHashLabelKey]] }
	for _, cr := range history.ToDelete(ps.revs.list, limit, hashOf) {
		if err := r.client.Delete(ctx, cr, client.Preconditions{UID: &cr.UID}); err != nil && !apierrors.IsNotFound(err) {
			return
		}
	}
}
