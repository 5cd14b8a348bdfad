package statefulset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/expectations"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// ControllerName names the controller in metrics, logs and events.
const ControllerName = "statefulset-controller"

// Field indexes: the UID of an object's controlling StatefulSet, or
// orphanKey for a pod with no controller at all.
const (
	ownerIndex = "myriad.dev/statefulset-uid"
	orphanKey  = "<orphan>"
)

// DefaultStuckAfter is how long past its deletion deadline a terminating
// pod may stay before the controller reports it and stops waiting for it.
const DefaultStuckAfter = 5 * time.Minute

// Options tune the controller.
type Options struct {
	// Workers is how many StatefulSets are reconciled at once.
	Workers int
	// InPlaceResize says the cluster has the pods/resize subresource.
	InPlaceResize bool
	// StuckAfter overrides DefaultStuckAfter.
	StuckAfter time.Duration
	// ResizeClaims enables volumeClaimUpdateStrategy OnPodRollingUpdate
	// (OpenKruise's alpha StatefulSetAutoResizePVCGate): claims grow with
	// their templates during a rolling update (claims_resize.go).
	ResizeClaims bool
	// Clock is the time source; the real clock when nil.
	Clock clock.Clock
}

// Reconciler reconciles Advanced StatefulSets. StatefulSets and
// ControllerRevisions are read from the manager's cache; pods (only those
// carrying statefulset.kubernetes.io/pod-name, which every StatefulSet pod,
// upstream's or this one's, carries) and claims from a cache of its own;
// pods are written through a typed clientset.
type Reconciler struct {
	client      client.Client
	cache       client.Reader
	apiReader   client.Reader
	kube        kubernetes.Interface
	events      events.EventRecorder
	clock       clock.Clock
	updater     *inplace.Updater
	exp         *expectations.Expectations
	eligibility inplace.EligibilityOptions
	stuckAfter  time.Duration
	departed    departed
	// resizeClaims is Options.ResizeClaims.
	resizeClaims bool
}

// Setup registers the controller, its cache and its indexes with mgr.
func Setup(mgr ctrl.Manager, kube kubernetes.Interface, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	member, err := labels.NewRequirement(appsv1.StatefulSetPodNameLabel, selection.Exists, nil)
	if err != nil {
		return fmt.Errorf("pod cache selector: %w", err)
	}
	own, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: labels.NewSelector().Add(*member)},
			// Claims are few beside pods, and a set must see claims it did
			// not create (made before it, or left by an earlier set) to
			// apply the retention policy to them.
			&corev1.PersistentVolumeClaim{}: {},
		},
	})
	if err != nil {
		return fmt.Errorf("statefulset pod cache: %w", err)
	}
	if err := mgr.Add(own); err != nil {
		return err
	}
	stuck := opts.StuckAfter
	if stuck <= 0 {
		stuck = DefaultStuckAfter
	}
	r := &Reconciler{
		client:       mgr.GetClient(),
		cache:        own,
		apiReader:    mgr.GetAPIReader(),
		kube:         kube,
		events:       mgr.GetEventRecorder(ControllerName),
		clock:        clk,
		updater:      &inplace.Updater{Pods: kube.CoreV1(), Clock: clk},
		exp:          expectations.New(clk, expectations.DefaultTimeout),
		eligibility:  inplace.EligibilityOptions{InPlaceResize: opts.InPlaceResize},
		stuckAfter:   stuck,
		resizeClaims: opts.ResizeClaims,
	}
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &appsv1.ControllerRevision{}, ownerIndex, controllerUID(false)); err != nil {
		return fmt.Errorf("index revisions by StatefulSet: %w", err)
	}
	if err := own.IndexField(ctx, &corev1.Pod{}, ownerIndex, controllerUID(true)); err != nil {
		return fmt.Errorf("index pods by StatefulSet: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1beta1.StatefulSet{}).
		Owns(&appsv1.ControllerRevision{}).
		WatchesRawSource(source.Kind(own, &corev1.Pod{},
			handler.TypedEnqueueRequestForOwner[*corev1.Pod](mgr.GetScheme(), mgr.GetRESTMapper(), &v1beta1.StatefulSet{}, handler.OnlyControllerOwner()))).
		WatchesRawSource(source.Kind(own, &corev1.Pod{}, handler.TypedEnqueueRequestsFromMapFunc(r.orphanOwners))).
		WatchesRawSource(source.Kind(own, &corev1.Pod{}, r.departed.handler())).
		// A claim a set grew (claims_resize.go) brings the set back as
		// its volume grows.
		WatchesRawSource(source.Kind(own, &corev1.PersistentVolumeClaim{}, handler.TypedEnqueueRequestsFromMapFunc(resizedBy))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, opts.Workers)}).
		Complete(r)
}

// resizedBy maps a claim a StatefulSet grew to that set.
func resizedBy(_ context.Context, claim *corev1.PersistentVolumeClaim) []reconcile.Request {
	set := claim.Annotations[ownedByAnnotation]
	if set == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: claim.Namespace, Name: set}}}
}

// controllerUID indexes an object by the UID of its controlling
// StatefulSet; with orphans, an object with no controller as orphanKey.
func controllerUID(orphans bool) client.IndexerFunc {
	return func(obj client.Object) []string {
		ref := metav1.GetControllerOf(obj)
		switch {
		case ref == nil && orphans:
			return []string{orphanKey}
		case ref == nil:
			return nil
		case ref.Kind == kind.Kind && ref.APIVersion == v1beta1.SchemeGroupVersion.String():
			return []string{string(ref.UID)}
		}
		return nil
	}
}

// orphanOwners maps a pod without a controller to the StatefulSets in its
// namespace whose selector matches it and whose member it would be.
func (r *Reconciler) orphanOwners(ctx context.Context, pod *corev1.Pod) []reconcile.Request {
	if metav1.GetControllerOf(pod) != nil || pod.DeletionTimestamp != nil {
		return nil
	}
	var list v1beta1.StatefulSetList
	if err := r.client.List(ctx, &list, client.InNamespace(pod.Namespace)); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		set := &list.Items[i]
		sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
		if _, member := OrdinalOf(set.Name, pod); member && err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(set)})
		}
	}
	return out
}

// Reconcile runs one pass for a StatefulSet; see the package comment.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	set := &v1beta1.StatefulSet{}
	if err := r.client.Get(ctx, req.NamespacedName, set); err != nil {
		if apierrors.IsNotFound(err) {
			r.exp.Forget(req.NamespacedName)
			forgetMetrics(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if set.DeletionTimestamp != nil {
		return reconcile.Result{}, nil // the garbage collector removes its pods
	}
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		// Admission rejects these; one that got in anyway must not select
		// every pod in the namespace.
		r.events.Eventf(set, nil, corev1.EventTypeWarning, "InvalidSelector", "Reconcile", "spec.selector is empty or invalid: %v", err)
		return reconcile.Result{}, nil
	}
	if err := r.releaseDeparted(ctx, set, sel); err != nil {
		return reconcile.Result{}, err
	}
	pods, err := r.claimPods(ctx, set, sel)
	if err != nil {
		return reconcile.Result{}, err
	}
	if ok, wait := r.exp.Satisfied(req.NamespacedName, pods); !ok {
		expectationWaits.Inc()
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	revs, err := r.syncRevisions(ctx, set)
	if err != nil || revs == nil {
		return reconcile.Result{Requeue: revs == nil && err == nil}, err
	}
	ps, err := r.newPass(set, pods, revs)
	if err != nil {
		r.events.Eventf(set, nil, corev1.EventTypeWarning, "InvalidSpec", "Reconcile", "%v", err)
		return reconcile.Result{}, nil // admission rejects these; nothing to retry
	}
	ps.run(ctx)
	if err := r.syncStatus(ctx, ps); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{Requeue: true}, nil // a newer object brings its own pass
		}
		return reconcile.Result{}, err
	}
	r.trimHistory(ctx, set, revs, pods)
	return reconcile.Result{RequeueAfter: ps.requeueAfter}, ps.err()
}

// claimPods returns the member pods the StatefulSet controls after adopting
// matching orphans and releasing controlled pods whose labels no longer
// match. Pods are read from this controller's cache.
func (r *Reconciler) claimPods(ctx context.Context, set *v1beta1.StatefulSet, sel labels.Selector) ([]*corev1.Pod, error) {
	var owned, orphans corev1.PodList
	if err := r.cache.List(ctx, &owned, client.InNamespace(set.Namespace), client.MatchingFields{ownerIndex: string(set.UID)}); err != nil {
		return nil, err
	}
	if err := r.cache.List(ctx, &orphans, client.InNamespace(set.Namespace), client.MatchingFields{ownerIndex: orphanKey}); err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, 0, len(owned.Items))
	for i := range owned.Items {
		p := &owned.Items[i]
		if _, member := OrdinalOf(set.Name, p); member && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
			continue
		}
		if p.DeletionTimestamp == nil {
			if err := r.setController(ctx, set, p, false); err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			}
		}
	}
	checked := false
	for i := range orphans.Items {
		p := &orphans.Items[i]
		if _, member := OrdinalOf(set.Name, p); !member || p.DeletionTimestamp != nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if !checked {
			// Adopt only for a set that is not being deleted, read fresh:
			// the cached one may predate its deletion.
			fresh := &v1beta1.StatefulSet{}
			if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(set), fresh); err != nil {
				return nil, err
			}
			if fresh.UID != set.UID || fresh.DeletionTimestamp != nil {
				return out, nil
			}
			checked = true
		}
		if err := r.setController(ctx, set, p, true); err != nil {
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
func (r *Reconciler) setController(ctx context.Context, set *v1beta1.StatefulSet, p *corev1.Pod, add bool) error {
	var patch string
	if add {
		patch = fmt.Sprintf(`{"metadata":{"uid":%q,"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}]}}`,
			p.UID, v1beta1.SchemeGroupVersion.String(), kind.Kind, set.Name, set.UID)
	} else {
		patch = fmt.Sprintf(`{"metadata":{"uid":%q,"ownerReferences":[{"$patch":"delete","uid":%q}]}}`, p.UID, set.UID)
	}
	_, err := r.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}
