package daemonset

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/expectations"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// ControllerName names the controller in metrics, logs and events.
const ControllerName = "daemonset-controller"

// PodLabel is put on every pod an Advanced DaemonSet creates. The
// controller's pod cache holds only pods carrying it, so at 10^5 pods it
// caches daemon pods alone; only such pods can be adopted.
const PodLabel = "apps.kruise.io/daemonset-pod"

// Field indexes: the UID of an object's controlling DaemonSet.
const ownerIndex = "myriad.dev/daemonset-uid"

// Options tune the controller.
type Options struct {
	// Workers is how many DaemonSets are reconciled at once.
	Workers int
	// InPlaceResize says the cluster has the pods/resize subresource.
	InPlaceResize bool
	// Clock is the time source; the real clock when nil.
	Clock clock.Clock
}

// Reconciler reconciles DaemonSets. Nodes, DaemonSets and
// ControllerRevisions are read from the manager's cache, daemon pods from
// a cache of their own; pods are written through a typed clientset.
type Reconciler struct {
	client      client.Client
	pods        client.Reader
	apiReader   client.Reader
	kube        kubernetes.Interface
	events      events.EventRecorder
	clock       clock.Clock
	updater     *inplace.Updater
	exp         *expectations.Expectations
	eligibility inplace.EligibilityOptions
	// failedBackoff spaces out replacing a node's failed pods (1s doubling
	// to 15 min, upstream's values), so a pod that fails at once is not
	// recreated in a tight loop.
	failedBackoff *flowcontrol.Backoff
}

// Setup registers the controller, its pod cache and its indexes with mgr.
func Setup(mgr ctrl.Manager, kube kubernetes.Interface, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	owned, err := labels.NewRequirement(PodLabel, selection.Exists, nil)
	if err != nil {
		return fmt.Errorf("pod cache selector: %w", err)
	}
	podCache, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.Pod{}: {Label: labels.NewSelector().Add(*owned)}},
	})
	if err != nil {
		return fmt.Errorf("daemon pod cache: %w", err)
	}
	if err := mgr.Add(podCache); err != nil {
		return err
	}
	r := &Reconciler{
		client:      mgr.GetClient(),
		pods:        podCache,
		apiReader:   mgr.GetAPIReader(),
		kube:        kube,
		events:      mgr.GetEventRecorder(ControllerName),
		clock:       clk,
		updater:     &inplace.Updater{Pods: kube.CoreV1(), Clock: clk},
		exp:         expectations.New(clk, expectations.DefaultTimeout),
		eligibility: inplace.EligibilityOptions{InPlaceResize: opts.InPlaceResize},
		// The "fake" constructor is the one that takes a clock: ours.
		failedBackoff: flowcontrol.NewFakeBackOff(time.Second, 15*time.Minute, clk),
	}
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &appsv1.ControllerRevision{}, ownerIndex, controllerUID); err != nil {
		return fmt.Errorf("index revisions by DaemonSet: %w", err)
	}
	if err := podCache.IndexField(ctx, &corev1.Pod{}, ownerIndex, controllerUID); err != nil {
		return fmt.Errorf("index pods by DaemonSet: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1beta1.DaemonSet{}).
		Owns(&appsv1.ControllerRevision{}).
		WatchesRawSource(source.Kind(podCache, &corev1.Pod{},
			handler.TypedEnqueueRequestForOwner[*corev1.Pod](mgr.GetScheme(), mgr.GetRESTMapper(), &v1beta1.DaemonSet{}, handler.OnlyControllerOwner()))).
		Watches(&corev1.Node{}, nodeHandler{r}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, opts.Workers)}).
		Complete(r)
}

// controllerUID indexes an object by the UID of its controlling DaemonSet.
func controllerUID(obj client.Object) []string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != "DaemonSet" || ref.APIVersion != v1beta1.SchemeGroupVersion.String() {
		return nil
	}
	return []string{string(ref.UID)}
}

// nodeHandler enqueues every DaemonSet when a node appears, goes, or changes
// in what eligibility and the rollout selector read (labels, taints,
// unschedulable). Status-only updates (heartbeats at 10^4 nodes) enqueue
// nothing. The queue collapses the burst of one DaemonSet key per node.
type nodeHandler struct{ r *Reconciler }

func (h nodeHandler) Create(ctx context.Context, _ event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.enqueueAll(ctx, q)
}

func (h nodeHandler) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	o, n := e.ObjectOld.(*corev1.Node), e.ObjectNew.(*corev1.Node)
	if o == nil || n == nil || maps.Equal(o.Labels, n.Labels) && o.Spec.Unschedulable == n.Spec.Unschedulable &&
		slices.EqualFunc(o.Spec.Taints, n.Spec.Taints, func(a, b corev1.Taint) bool { return a.MatchTaint(&b) && a.Value == b.Value }) {
		return
	}
	h.enqueueAll(ctx, q)
}

func (h nodeHandler) Delete(ctx context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.enqueueAll(ctx, q)
}

func (h nodeHandler) Generic(context.Context, event.GenericEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}

func (h nodeHandler) enqueueAll(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	var list v1beta1.DaemonSetList
	if err := h.r.client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for i := range list.Items {
		q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
}

// Reconcile runs one pass for a DaemonSet; see the package comment.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ds := &v1beta1.DaemonSet{}
	if err := r.client.Get(ctx, req.NamespacedName, ds); err != nil {
		if apierrors.IsNotFound(err) {
			r.exp.Forget(req.NamespacedName)
			r.failedBackoff.GC()
			nodesUnavailable.DeleteLabelValues(req.Namespace, req.Name)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if ds.DeletionTimestamp != nil {
		return reconcile.Result{}, nil // the garbage collector removes its pods
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		r.events.Eventf(ds, nil, corev1.EventTypeWarning, "InvalidSelector", "Reconcile", "spec.selector is empty or invalid: %v", err)
		return reconcile.Result{}, nil
	}
	pods, err := r.claimPods(ctx, ds, sel)
	if err != nil {
		return reconcile.Result{}, err
	}
	if ok, wait := r.exp.Satisfied(req.NamespacedName, pods); !ok {
		expectationWaits.Inc()
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	revs, err := r.syncRevisions(ctx, ds)
	if err != nil || revs == nil {
		return reconcile.Result{Requeue: revs == nil && err == nil}, err
	}
	var nodes corev1.NodeList
	// Read-only: at 10^4 nodes a deep copy per pass would dominate its cost.
	if err := r.client.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return reconcile.Result{}, fmt.Errorf("list nodes: %w", err)
	}
	ps, err := r.newPass(ds, nodes.Items, pods, revs)
	if err != nil {
		r.events.Eventf(ds, nil, corev1.EventTypeWarning, "InvalidSpec", "Reconcile", "%v", err)
		return reconcile.Result{}, nil
	}
	ps.run(ctx)
	if err := r.syncStatus(ctx, ps); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{Requeue: true}, nil
		}
		return reconcile.Result{}, err
	}
	r.trimHistory(ctx, ps)
	return reconcile.Result{RequeueAfter: ps.requeueAfter}, ps.err()
}

// claimPods returns the live and terminating pods the DaemonSet controls,
// after adopting orphans (carrying PodLabel) that its selector matches.
// Owned pods whose labels stopped matching are left to the garbage
// collector's owner reference and not counted.
func (r *Reconciler) claimPods(ctx context.Context, ds *v1beta1.DaemonSet, sel labels.Selector) ([]*corev1.Pod, error) {
	var owned corev1.PodList
	// Read-only, never deep-copied: a pass writes pods only through the
	// clientset, and copies a pod before handing it to the in-place updater.
	if err := r.pods.List(ctx, &owned, client.InNamespace(ds.Namespace), client.MatchingFields{ownerIndex: string(ds.UID)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	out := make([]*corev1.Pod, 0, len(owned.Items))
	for i := range owned.Items {
		if sel.Matches(labels.Set(owned.Items[i].Labels)) {
			out = append(out, &owned.Items[i])
		}
	}
	var all corev1.PodList
	if err := r.pods.List(ctx, &all, client.InNamespace(ds.Namespace), client.MatchingLabelsSelector{Selector: sel}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list orphan pods: %w", err)
	}
	for i := range all.Items {
		p := &all.Items[i]
		if metav1.GetControllerOf(p) != nil || p.DeletionTimestamp != nil {
			continue
		}
		patch := fmt.Sprintf(`{"metadata":{"uid":%q,"ownerReferences":[{"apiVersion":%q,"kind":"DaemonSet","name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}]}}`,
			p.UID, v1beta1.SchemeGroupVersion.String(), ds.Name, ds.UID)
		adopted, err := r.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, "application/strategic-merge-patch+json", []byte(patch), metav1.PatchOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				continue
			}
			return nil, fmt.Errorf("adopt pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		out = append(out, adopted)
	}
	return out, nil
}
