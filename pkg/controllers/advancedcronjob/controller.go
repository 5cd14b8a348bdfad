package advancedcronjob

import (
	"context"
	"errors"
	"fmt"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// ControllerName names the controller in metrics, logs and events.
const ControllerName = "advancedcronjob-controller"

// ownerIndex indexes Jobs and BroadcastJobs by the UID of their
// controlling AdvancedCronJob.
const ownerIndex = "myriad.dev/advancedcronjob-uid"

// Options tune the controller.
type Options struct {
	// Workers is how many AdvancedCronJobs are reconciled at once.
	Workers int
	// Clock is the time source; the real clock when nil.
	Clock clock.Clock
}

// Reconciler reconciles AdvancedCronJobs from the manager's cache.
type Reconciler struct {
	client client.Client
	events events.EventRecorder
	clock  clock.Clock
	// handled is the latest schedule time this process created a job for,
	// by AdvancedCronJob (a handledTime): it covers the moment the cached status does
	// not show that time yet and the job is already gone (a TTL of zero).
	handled sync.Map
}

type handledTime struct {
	uid types.UID
	at  metav1.Time
}

// Setup registers the controller and its cache indexes with mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	r := &Reconciler{client: mgr.GetClient(), events: mgr.GetEventRecorder(ControllerName), clock: clk}
	idx := mgr.GetFieldIndexer()
	for _, obj := range []client.Object{&batchv1.Job{}, &v1beta1.BroadcastJob{}} {
		if err := idx.IndexField(context.Background(), obj, ownerIndex, ownerUID); err != nil {
			return fmt.Errorf("index %T by owner: %w", obj, err)
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1beta1.AdvancedCronJob{}).
		Owns(&batchv1.Job{}).
		Owns(&v1beta1.BroadcastJob{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, opts.Workers)}).
		Complete(r)
}

func ownerUID(obj client.Object) []string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != "AdvancedCronJob" {
		return nil
	}
	return []string{string(ref.UID)}
}

// Reconcile runs one pass for an AdvancedCronJob; see the package comment.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	acj := &v1beta1.AdvancedCronJob{}
	if err := r.client.Get(ctx, req.NamespacedName, acj); err != nil {
		if apierrors.IsNotFound(err) {
			r.handled.Delete(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if acj.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	children, err := r.children(ctx, acj)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := r.clock.Now()
	seen := acj
	if v, ok := r.handled.Load(req.NamespacedName); ok && v.(handledTime).uid == acj.UID {
		if t := v.(handledTime).at; acj.Status.LastScheduleTime == nil || t.After(acj.Status.LastScheduleTime.Time) {
			seen = acj.DeepCopy()
			seen.Status.LastScheduleTime = &t
		}
	}
	plan := Decide(seen, children, now)
	if plan.Err != nil {
		r.events.Eventf(acj, nil, corev1.EventTypeWarning, "InvalidSchedule", "Reconcile", "spec.schedule: %v", plan.Err)
		// A schedule that does not parse waits for a spec change.
		return reconcile.Result{}, r.writeStatus(ctx, acj, plan.Status)
	}
	kind := string(plan.Status.Type)
	if plan.EventReason != "" {
		runs.WithLabelValues(kind, plan.EventReason).Inc()
		r.events.Eventf(acj, nil, corev1.EventTypeWarning, plan.EventReason, "Reconcile", "%s", plan.EventMessage)
	}
	var errs []error
	for _, c := range plan.Delete {
		if err := r.deleteChild(ctx, acj.Namespace, c); err != nil {
			errs = append(errs, err)
		}
	}
	if !plan.Create.IsZero() {
		child := NewChild(acj, plan.Create)
		if child == nil {
			return reconcile.Result{}, nil // admission rejects this; nothing to run
		}
		err := r.client.Create(ctx, child)
		switch {
		case err == nil:
			runs.WithLabelValues(kind, "created").Inc()
			r.handled.Store(req.NamespacedName, handledTime{uid: acj.UID, at: metav1.NewTime(plan.Create)})
			r.events.Eventf(acj, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "created %s %s", plan.Status.Type, child.GetName())
			plan.Status.Active = append(plan.Status.Active, corev1.ObjectReference{Kind: string(plan.Status.Type),
				APIVersion: apiVersion(string(plan.Status.Type)), Namespace: acj.Namespace, Name: child.GetName(), UID: child.GetUID()})
		case apierrors.IsAlreadyExists(err):
			// Created by an earlier pass whose status write was lost.
			runs.WithLabelValues(kind, "exists").Inc()
			r.handled.Store(req.NamespacedName, handledTime{uid: acj.UID, at: metav1.NewTime(plan.Create)})
		default:
			// Not recorded as handled: the next pass tries this time again.
			runs.WithLabelValues(kind, "error").Inc()
			r.events.Eventf(acj, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "create %s %s: %v", plan.Status.Type, child.GetName(), err)
			plan.Status.LastScheduleTime = acj.Status.LastScheduleTime
			errs = append(errs, fmt.Errorf("create %s %s/%s: %w", plan.Status.Type, acj.Namespace, child.GetName(), err))
		}
	}
	if err := r.writeStatus(ctx, acj, plan.Status); err != nil {
		errs = append(errs, err)
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, errors.Join(errs...)
}

func (r *Reconciler) children(ctx context.Context, acj *v1beta1.AdvancedCronJob) ([]Child, error) {
	var jobs batchv1.JobList
	if err := r.client.List(ctx, &jobs, client.InNamespace(acj.Namespace), client.MatchingFields{ownerIndex: string(acj.UID)}); err != nil {
		return nil, fmt.Errorf("list jobs of %s/%s: %w", acj.Namespace, acj.Name, err)
	}
	var bcjs v1beta1.BroadcastJobList
	if err := r.client.List(ctx, &bcjs, client.InNamespace(acj.Namespace), client.MatchingFields{ownerIndex: string(acj.UID)}); err != nil {
		return nil, fmt.Errorf("list broadcastjobs of %s/%s: %w", acj.Namespace, acj.Name, err)
	}
	out := make([]Child, 0, len(jobs.Items)+len(bcjs.Items))
	for i := range jobs.Items {
		out = append(out, jobChild(&jobs.Items[i]))
	}
	for i := range bcjs.Items {
		out = append(out, broadcastJobChild(&bcjs.Items[i]))
	}
	return out, nil
}

func (r *Reconciler) deleteChild(ctx context.Context, ns string, c Child) error {
	var obj client.Object = &batchv1.Job{}
	if c.Kind == "BroadcastJob" {
		obj = &v1beta1.BroadcastJob{}
	}
	obj.SetNamespace(ns)
	obj.SetName(c.Name)
	err := r.client.Delete(ctx, obj, client.Preconditions{UID: &c.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete %s %s/%s: %w", c.Kind, ns, c.Name, err)
	}
	return nil
}

func (r *Reconciler) writeStatus(ctx context.Context, acj *v1beta1.AdvancedCronJob, st v1beta1.AdvancedCronJobStatus) error {
	if apiequality.Semantic.DeepEqual(acj.Status, st) {
		return nil
	}
	fresh := acj.DeepCopy()
	fresh.Status = st
	// A merge patch without a resourceVersion: the status is this
	// controller's alone, and a conflict must not lose lastScheduleTime.
	if err := r.client.Status().Patch(ctx, fresh, client.MergeFrom(acj)); err != nil {
		return fmt.Errorf("update status of %s/%s: %w", acj.Namespace, acj.Name, err)
	}
	return nil
}
