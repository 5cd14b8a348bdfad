package cloneset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controllers/expectations"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// ControllerName names the controller in metrics, logs and events.
const ControllerName = "cloneset-controller"

// Field indexes on the cache: the UID of an object's controlling CloneSet,
// or orphanKey for a pod with no controller at all.
const (
	ownerIndex = "myriad.dev/cloneset-uid"
	orphanKey  = "<orphan>"
)

// Options tune the controller.
type Options struct {
	// Workers is how many CloneSets are reconciled at once.
	Workers int
	// InPlaceResize says the cluster has the pods/resize subresource, so cpu
	// and memory changes can be made in place too.
	InPlaceResize bool
	// RecreateOnClaimTemplateChange is OpenKruise's
	// RecreatePodWhenChangeVCTInCloneSetGate: a pod whose revision was made
	// with other volumeClaimTemplates than the update revision's is
	// recreated (with new PVCs) rather than updated in place, except under
	// InPlaceOnly. Off, as in OpenKruise, claim template changes reach new
	// pods only.
	RecreateOnClaimTemplateChange bool
	// Clock is the time source; the real clock when nil.
	Clock clock.Clock
}

// Reconciler reconciles CloneSets. Reads come from the manager's cache;
// pods are written through a typed clientset (protobuf, and what
// inplace.Updater takes), everything else through the manager's client.
type Reconciler struct {
	client      client.Client
	apiReader   client.Reader
	kube        kubernetes.Interface
	events      events.EventRecorder
	clock       clock.Clock
	updater     *inplace.Updater
	exp         *expectations.Expectations
	eligibility inplace.EligibilityOptions
	// recreateOnClaimChange: see Options.RecreateOnClaimTemplateChange.
	recreateOnClaimChange bool
}

// Setup registers the controller and its cache indexes with mgr.
func Setup(mgr ctrl.Manager, kube kubernetes.Interface, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	r := &Reconciler{
		client:      mgr.GetClient(),
		apiReader:   mgr.GetAPIReader(),
		kube:        kube,
		events:      mgr.GetEventRecorder(ControllerName),
		clock:       clk,
		updater:     &inplace.Updater{Pods: kube.CoreV1(), Clock: clk},
		exp:         expectations.New(clk, expectations.DefaultTimeout),
		eligibility: inplace.EligibilityOptions{InPlaceResize: opts.InPlaceResize},

		recreateOnClaimChange: opts.RecreateOnClaimTemplateChange,
	}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	for _, obj := range []client.Object{&appsv1.ControllerRevision{}, &corev1.PersistentVolumeClaim{}} {
		if err := idx.IndexField(ctx, obj, ownerIndex, controllerUID(false)); err != nil {
			return fmt.Errorf("index %T by owner: %w", obj, err)
		}
	}
	if err := idx.IndexField(ctx, &corev1.Pod{}, ownerIndex, controllerUID(true)); err != nil {
		return fmt.Errorf("index pods by owner: %w", err)
	}
	workers := max(1, opts.Workers)
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1alpha1.CloneSet{}).
		Owns(&corev1.Pod{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.orphanOwners)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// controllerUID indexes an object by the UID of its controlling CloneSet;
// with orphans, an object with no controller at all is indexed as orphanKey.
func controllerUID(orphans bool) client.IndexerFunc {
	return func(obj client.Object) []string {
		ref := metav1.GetControllerOf(obj)
		switch {
		case ref == nil && orphans:
			return []string{orphanKey}
		case ref == nil:
			return nil
		case ref.Kind == "CloneSet" && ref.APIVersion == v1alpha1.SchemeGroupVersion.String():
			return []string{string(ref.UID)}
		}
		return nil
	}
}

// orphanOwners maps a pod without a controller to the CloneSets in its
// namespace whose selector matches it, so they can adopt it.
func (r *Reconciler) orphanOwners(ctx context.Context, obj client.Object) []reconcile.Request {
	if metav1.GetControllerOf(obj) != nil || obj.GetDeletionTimestamp() != nil {
		return nil
	}
	var list v1alpha1.CloneSetList
	if err := r.client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		sel, err := metav1.LabelSelectorAsSelector(list.Items[i].Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(obj.GetLabels())) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// Reconcile runs one pass for a CloneSet; see the package comment.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cs := &v1alpha1.CloneSet{}
	if err := r.client.Get(ctx, req.NamespacedName, cs); err != nil {
		if apierrors.IsNotFound(err) {
			r.exp.Forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if cs.DeletionTimestamp != nil {
		return reconcile.Result{}, nil // the garbage collector removes its pods
	}
	sel, err := metav1.LabelSelectorAsSelector(cs.Spec.Selector)
	if err != nil || sel.Empty() {
		// Admission rejects these; one that got in anyway must not select
		// every pod in the namespace.
		r.events.Eventf(cs, nil, corev1.EventTypeWarning, "InvalidSelector", "Reconcile", "spec.selector is empty or invalid: %v", err)
		return reconcile.Result{}, nil
	}
	pods, err := r.claimPods(ctx, cs, sel)
	if err != nil {
		return reconcile.Result{}, err
	}
	if ok, wait := r.exp.Satisfied(req.NamespacedName, pods); !ok {
		expectationWaits.Inc()
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	revs, err := r.syncRevisions(ctx, cs)
	if err != nil || revs == nil {
		return reconcile.Result{Requeue: revs == nil && err == nil}, err
	}
	ps := r.newPass(cs, sel, pods, revs)
	ps.run(ctx)
	if err := r.syncStatus(ctx, ps); err != nil {
		if apierrors.IsConflict(err) {
			// A newer CloneSet is on its way through the cache and will
			// trigger a pass of its own; nothing here is lost.
			return reconcile.Result{Requeue: true}, nil
		}
		return reconcile.Result{}, err
	}
	r.trimHistory(ctx, ps)
	return reconcile.Result{RequeueAfter: ps.requeueAfter}, ps.err()
}

// claimPods returns the live pods the CloneSet controls after adopting
// matching orphans and releasing controlled pods whose labels no longer
// match. Only pods carrying the instance-id label are cached at all (see
// manager), so only those can be adopted.
func (r *Reconciler) claimPods(ctx context.Context, cs *v1alpha1.CloneSet, sel labels.Selector) ([]*corev1.Pod, error) {
	var owned, orphans corev1.PodList
	if err := r.client.List(ctx, &owned, client.InNamespace(cs.Namespace), client.MatchingFields{ownerIndex: string(cs.UID)}); err != nil {
		return nil, err
	}
	if err := r.client.List(ctx, &orphans, client.InNamespace(cs.Namespace), client.MatchingFields{ownerIndex: orphanKey}); err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, 0, len(owned.Items))
	for i := range owned.Items {
		p := &owned.Items[i]
		if sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
			continue
		}
		if p.DeletionTimestamp == nil {
			if err := r.setController(ctx, cs, p, false); err != nil {
				return nil, err
			}
		}
	}
	checked := false
	for i := range orphans.Items {
		p := &orphans.Items[i]
		if p.DeletionTimestamp != nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if !checked {
			// Adopt only for a CloneSet that is not being deleted, read
			// fresh: the cached one may predate its deletion.
			fresh := &v1alpha1.CloneSet{}
			if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(cs), fresh); err != nil {
				return nil, err
			}
			if fresh.UID != cs.UID || fresh.DeletionTimestamp != nil {
				return out, nil
			}
			checked = true
		}
		if err := r.setController(ctx, cs, p, true); err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				continue
			}
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// setController adopts (add) or releases (remove) a pod with a patch that
// carries the pod's UID, so a pod recreated under the same name is never
// touched.
func (r *Reconciler) setController(ctx context.Context, cs *v1alpha1.CloneSet, p *corev1.Pod, add bool) error {
	var patch string
	if add {
		patch = fmt.Sprintf(`{"metadata":{"uid":%q,"ownerReferences":[{"apiVersion":%q,"kind":"CloneSet","name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}]}}`,
			p.UID, v1alpha1.SchemeGroupVersion.String(), cs.Name, cs.UID)
	} else {
		patch = fmt.Sprintf(`{"metadata":{"uid":%q,"ownerReferences":[{"$patch":"delete","uid":%q}]}}`, p.UID, cs.UID)
	}
	_, err := r.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// minDuration returns the smaller positive duration.
func minDuration(a, b time.Duration) time.Duration {
	if a <= 0 || (b > 0 && b < a) {
		return b
	}
	return a
}
