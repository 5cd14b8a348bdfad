package daemonset

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// defaultRevisionHistoryLimit is how many unused revisions are kept when
// spec.revisionHistoryLimit is unset, as OpenKruise defaults it.
const defaultRevisionHistoryLimit = 10

// revisionPatch is a DaemonSet ControllerRevision's Data: a patch replacing
// the template, the shape upstream and OpenKruise store, so tools reading
// their DaemonSet history (kubectl rollout history) read Myriad's too.
type revisionPatch struct {
	Spec struct {
		Template json.RawMessage `json:"template"`
	} `json:"spec"`
}

func revisionData(t *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	fields["$patch"] = json.RawMessage(`"replace"`)
	var p revisionPatch
	if p.Spec.Template, err = json.Marshal(fields); err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

func revisionTemplate(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var p revisionPatch
	if err := json.Unmarshal(cr.Data.Raw, &p); err != nil {
		return nil, fmt.Errorf("controllerrevision %s: %w", cr.Name, err)
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal(p.Spec.Template, &t); err != nil {
		return nil, fmt.Errorf("controllerrevision %s template: %w", cr.Name, err)
	}
	return &t, nil
}

// revisionHash is the controller-revision-hash of a template: short and
// label-safe, and different after a collision bump.
func revisionHash(data []byte, collisions *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisions != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisions), 10)))
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

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
	data, err := revisionData(&ds.Spec.Template)
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
		t, err := revisionTemplate(cr)
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
		hash := revisionHash(data, ds.Status.CollisionCount)
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
			t, terr := revisionTemplate(existing)
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
	var old []*appsv1.ControllerRevision
	for _, cr := range ps.revs.list {
		if !inUse[cr.Labels[pub.ControllerRevisionHashLabelKey]] {
			old = append(old, cr)
		}
	}
	if len(old) <= limit {
		return
	}
	sort.SliceStable(old, func(i, j int) bool { return old[i].Revision < old[j].Revision })
	for _, cr := range old[:len(old)-limit] {
		if err := r.client.Delete(ctx, cr, client.Preconditions{UID: &cr.UID}); err != nil && !apierrors.IsNotFound(err) {
			return
		}
	}
}
