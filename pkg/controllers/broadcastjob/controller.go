package broadcastjob

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/batch"
	"github.com/myriad-dev/myriad/pkg/controllers/status"
)

// ControllerName names the controller in metrics, logs and events.
const ControllerName = "broadcastjob-controller"

// jobUIDIndex indexes the job pod cache by the owning job's UID label.
const jobUIDIndex = "myriad.dev/broadcastjob-uid"

// Options tune the controller.
type Options struct {
	// Workers is how many BroadcastJobs are reconciled at once.
	Workers int
	// Clock is the time source; the real clock when nil.
	Clock clock.Clock
}

// Reconciler reconciles BroadcastJobs. Jobs and nodes come from the
// manager's cache; the jobs' pods from a cache of their own that holds only
// pods carrying the job UID label (the manager's pod cache is filtered to
// CloneSet pods). Pods are written through the typed clientset.
type Reconciler struct {
	client client.Client
	pods   cache.Cache
	kube   kubernetes.Interface
	events events.EventRecorder
	clock  clock.Clock
	exp    *expectations
}

// Setup registers the controller and its pod cache with mgr.
func Setup(mgr ctrl.Manager, kube kubernetes.Interface, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	owned, err := labels.NewRequirement(v1beta1.BroadcastJobControllerUIDLabel, selection.Exists, nil)
	if err != nil {
		return fmt.Errorf("job pod selector: %w", err)
	}
	pods, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.Pod{}: {Label: labels.NewSelector().Add(*owned)}},
	})
	if err != nil {
		return fmt.Errorf("broadcastjob pod cache: %w", err)
	}
	if err := mgr.Add(pods); err != nil {
		return err
	}
	if err := pods.IndexField(context.Background(), &corev1.Pod{}, jobUIDIndex, func(o client.Object) []string {
		if uid := o.GetLabels()[v1beta1.BroadcastJobControllerUIDLabel]; uid != "" {
			return []string{uid}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index job pods: %w", err)
	}
	r := &Reconciler{
		client: mgr.GetClient(),
		pods:   pods,
		kube:   kube,
		events: mgr.GetEventRecorder(ControllerName),
		clock:  clk,
		exp:    newExpectations(clk),
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1beta1.BroadcastJob{}).
		WatchesRawSource(source.Kind[client.Object](pods, &corev1.Pod{},
			handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &v1beta1.BroadcastJob{}, handler.OnlyControllerOwner()))).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.activeJobs), nodeChanges()).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, opts.Workers)}).
		Complete(r)
}

// activeJobs maps a node change to every unfinished BroadcastJob: any of
// them may now have to run a pod there (kruise#1199).
func (r *Reconciler) activeJobs(ctx context.Context, _ client.Object) []reconcile.Request {
	var list v1beta1.BroadcastJobList
	if err := r.client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if !finished(&list.Items[i].Status) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// Reconcile runs one pass for a BroadcastJob; see the package comment.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	job := &v1beta1.BroadcastJob{}
	if err := r.client.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			r.exp.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if job.DeletionTimestamp != nil {
		return reconcile.Result{}, nil // the garbage collector removes its pods
	}
	var podList corev1.PodList
	// No deep copies: Decide and the writes only read pods and nodes, and at
	// 10^4 nodes copying them all on every pass would dominate its cost.
	if err := r.pods.List(ctx, &podList, client.InNamespace(job.Namespace), client.MatchingFields{jobUIDIndex: string(job.UID)}, client.UnsafeDisableDeepCopy); err != nil {
		return reconcile.Result{}, fmt.Errorf("list pods of %s: %w", req, err)
	}
	pods := make([]*corev1.Pod, len(podList.Items))
	for i := range podList.Items {
		pods[i] = &podList.Items[i]
	}
	if ok, wait := r.exp.satisfied(req.NamespacedName, pods); !ok {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	var nodeList corev1.NodeList
	if !finished(&job.Status) {
		if err := r.client.List(ctx, &nodeList, client.UnsafeDisableDeepCopy); err != nil {
			return reconcile.Result{}, fmt.Errorf("list nodes: %w", err)
		}
	}
	nodes := make([]*corev1.Node, len(nodeList.Items))
	for i := range nodeList.Items {
		nodes[i] = &nodeList.Items[i]
	}

	plan := Decide(job, nodes, pods, r.clock.Now())
	if plan.DeleteJob {
		err := r.client.Delete(ctx, job, client.Preconditions{UID: &job.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("delete finished job %s after its TTL: %w", req, err)
		}
		return reconcile.Result{}, nil
	}
	if plan.EventReason != "" && (plan.Status.Phase != job.Status.Phase || plan.Pause) {
		typ := corev1.EventTypeNormal
		if plan.Status.Phase != v1beta1.PhaseCompleted {
			typ = corev1.EventTypeWarning
		}
		r.events.Eventf(job, nil, typ, plan.EventReason, "Reconcile", "%s", plan.EventMessage)
	}
	var errs []error
	current := job // the object the status update goes on
	if plan.Pause {
		patched := job.DeepCopy()
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"paused":true}}`))
		if err := r.client.Patch(ctx, patched, patch); err != nil {
			errs = append(errs, fmt.Errorf("pause %s: %w", req, err))
		} else {
			current = patched // its resourceVersion, so the status write does not conflict with our own patch
		}
	}
	errs = append(errs, r.deletePods(ctx, req.NamespacedName, plan.Delete))
	if err := r.createPods(ctx, req.NamespacedName, job, plan.Create); err != nil {
		// Said on the job too: quota or admission refusing its pods is the
		// user's to fix, and the manager's log is not where they look.
		r.events.Eventf(job, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "%v", err)
		errs = append(errs, err)
	}
	if !apiequality.Semantic.DeepEqual(job.Status, plan.Status) {
		// Replaced whole, without the cached resourceVersion (see package
		// status): with an update, 336 of 921 status writes conflicted in a
		// 10,000-node run.
		fresh := current.DeepCopy()
		fresh.Status = plan.Status
		if err := status.Replace(ctx, r.client, fresh, plan.Status); err != nil {
			errs = append(errs, fmt.Errorf("update status of %s: %w", req, err))
		}
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, errors.Join(errs...)
}

func (r *Reconciler) createPods(ctx context.Context, key types.NamespacedName, job *v1beta1.BroadcastJob, nodes []string) error {
	_, err := batch.SlowStart(len(nodes), func(i int) error {
		pod := NewPod(job, nodes[i])
		_, err := r.kube.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		countOp("create", err)
		switch {
		case err == nil, apierrors.IsAlreadyExists(err):
			r.exp.created(key, pod.Name)
			return nil
		default:
			return fmt.Errorf("create pod %s/%s for node %s: %w", job.Namespace, pod.Name, nodes[i], err)
		}
	})
	return err
}

func (r *Reconciler) deletePods(ctx context.Context, key types.NamespacedName, pods []*corev1.Pod) error {
	return batch.Parallel(len(pods), func(i int) error {
		p := pods[i]
		err := r.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(p.UID))})
		countOp("delete", err)
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		r.exp.deleted(key, p.UID)
		return nil
	})
}

// builderNodePredicate passes node events that can change where a job may
// run: added or removed nodes, and changes of labels, taints, cordon or
// allocatable. Heartbeats and condition updates are dropped, which at 10^4
// nodes is nearly every node event.
func nodeChanges() builder.Predicates {
	return builder.WithPredicates(predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*corev1.Node)
			n, ok2 := e.ObjectNew.(*corev1.Node)
			if !ok1 || !ok2 {
				return true
			}
			return !apiequality.Semantic.DeepEqual(o.Labels, n.Labels) ||
				!apiequality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) ||
				o.Spec.Unschedulable != n.Spec.Unschedulable ||
				!apiequality.Semantic.DeepEqual(o.Status.Allocatable, n.Status.Allocatable)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	})
}
