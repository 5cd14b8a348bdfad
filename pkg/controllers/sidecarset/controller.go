package sidecarset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/expectations"
)

// ControllerName names the controller in metrics, logs and events.
const ControllerName = "sidecarset-controller"

// Options tune the controller.
type Options struct {
	// Workers is how many SidecarSets are reconciled at once.
	Workers int
	// Clock is the time source; the real clock when nil.
	Clock clock.Clock
	// RevisionNamespace holds the SidecarSets' ControllerRevisions;
	// DefaultRevisionNamespace when empty.
	RevisionNamespace string
}

// Reconciler reconciles SidecarSets. SidecarSets, namespaces, policies and
// bindings come from the manager's cache; pods from a cache of their own
// holding every pod (a SidecarSet may select any pod, and the manager's pod
// cache holds CloneSet pods only). Policies are written through the typed
// clientset with server-side apply.
type Reconciler struct {
	client client.Client
	pods   cache.Cache
	kube   kubernetes.Interface
	events events.EventRecorder
	clock  clock.Clock
	// exp remembers the pod writes of sidecar upgrades the pod cache has
	// not shown yet.
	exp *expectations.Expectations
	// revisionNS holds the SidecarSets' ControllerRevisions.
	revisionNS string
}

// Setup registers the controller and its pod cache with mgr.
func Setup(mgr ctrl.Manager, kube kubernetes.Interface, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	pods, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return fmt.Errorf("sidecarset pod cache: %w", err)
	}
	if err := mgr.Add(pods); err != nil {
		return err
	}
	revisionNS := opts.RevisionNamespace
	if revisionNS == "" {
		revisionNS = DefaultRevisionNamespace
	}
	r := &Reconciler{client: mgr.GetClient(), pods: pods, kube: kube, events: mgr.GetEventRecorder(ControllerName), clock: clk,
		exp: expectations.New(clk, expectations.DefaultTimeout), revisionNS: revisionNS}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1beta1.SidecarSet{}).
		// By name, not owner: a policy written at admission (Enforcer) has
		// no owner until this controller adds it, or removes it.
		Watches(&admissionregistrationv1.MutatingAdmissionPolicy{}, handler.EnqueueRequestsFromMapFunc(policyOwner)).
		Watches(&admissionregistrationv1.MutatingAdmissionPolicyBinding{}, handler.EnqueueRequestsFromMapFunc(policyOwner)).
		WatchesRawSource(source.Kind[client.Object](pods, &corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.sidecarSetsOf), podChanges())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, opts.Workers)}).
		Complete(r)
}

// policyOwner maps a policy or binding this package wrote to its
// SidecarSet.
func policyOwner(_ context.Context, o client.Object) []reconcile.Request {
	name, ok := strings.CutPrefix(o.GetName(), PolicyPrefix)
	if !ok || o.GetLabels()[ManagedByLabel] != managedBy {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
}

// sidecarSetsOf maps a pod to the SidecarSets that select it or were
// injected into it. SidecarSets are few (they are cluster-wide policy), so
// each pod event checks them all.
func (r *Reconciler) sidecarSetsOf(ctx context.Context, o client.Object) []reconcile.Request {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return nil
	}
	var list v1beta1.SidecarSetList
	if err := r.client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		ss := &list.Items[i]
		if Injected(pod, ss.Name) || r.selects(ctx, ss, pod) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: ss.Name}})
		}
	}
	return out
}

// selects reports whether the SidecarSet's selector and namespace terms
// pick the pod; a selector that does not parse picks nothing.
func (r *Reconciler) selects(ctx context.Context, ss *v1beta1.SidecarSet, pod *corev1.Pod) bool {
	if ss.Spec.Selector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(ss.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		return false
	}
	if ss.Spec.Namespace != "" && ss.Spec.Namespace != pod.Namespace {
		return false
	}
	if ss.Spec.NamespaceSelector == nil {
		return true
	}
	nsSel, err := metav1.LabelSelectorAsSelector(ss.Spec.NamespaceSelector)
	if err != nil {
		return false
	}
	var ns corev1.Namespace
	if err := r.client.Get(ctx, types.NamespacedName{Name: pod.Namespace}, &ns); err != nil {
		return false
	}
	return nsSel.Matches(labels.Set(ns.Labels))
}

// podChanges passes pod events that can change a SidecarSet's status:
// creation, deletion, and changes of labels, annotations, phase,
// readiness, or of what a container runs (an in-place upgrade finishing).
// Other pod updates do not.
func podChanges() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*corev1.Pod)
			n, ok2 := e.ObjectNew.(*corev1.Pod)
			if !ok1 || !ok2 {
				return true
			}
			return !apiequality.Semantic.DeepEqual(o.Labels, n.Labels) ||
				!apiequality.Semantic.DeepEqual(o.Annotations, n.Annotations) ||
				o.Status.Phase != n.Status.Phase || podReady(o) != podReady(n) ||
				!sameContainerStates(o, n) ||
				(o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// Reconcile makes the SidecarSet's policy and binding match its spec and
// writes its status; see the package comment.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ss := &v1beta1.SidecarSet{}
	if err := r.client.Get(ctx, req.NamespacedName, ss); err != nil {
		if apierrors.IsNotFound(err) {
			uninjectedPods.DeleteLabelValues(req.Name)
			notUpgradablePods.DeleteLabelValues(req.Name)
			r.exp.Forget(req.NamespacedName)
			// A policy written at the SidecarSet's admission, which may
			// still be in flight, is kept a while (Enforcer).
			var p admissionregistrationv1.MutatingAdmissionPolicy
			if err := r.client.Get(ctx, types.NamespacedName{Name: PolicyName(req.Name)}, &p); err == nil {
				if left := orphanLeft(&p, r.clock.Now()); left > 0 {
					return reconcile.Result{RequeueAfter: left}, nil
				}
			}
			// Owner references let the garbage collector remove the
			// policy too; deleting it here stops injection at once.
			return reconcile.Result{}, r.deletePolicy(ctx, req.Name)
		}
		return reconcile.Result{}, err
	}
	if ss.DeletionTimestamp != nil {
		return reconcile.Result{}, r.deletePolicy(ctx, ss.Name)
	}
	// Revision history first: the policy injects the latest or a pinned
	// revision.
	var errs []error
	inj, err := r.syncRevisions(ctx, ss)
	if err != nil {
		if ss.Spec.InjectionStrategy.Revision != nil {
			return reconcile.Result{}, err // a pin cannot be resolved without its history
		}
		// History is bookkeeping: the latest spec is injected without it
		// (pods then record no revision name) and the write is retried.
		errs = append(errs, err)
		inj = Injection{}
	}
	policy, binding, err := CompileWith(ss, inj)
	switch {
	case err != nil:
		// Admission refuses such specs; one that got in anyway (written
		// while the webhook was away) is said on the object, not retried.
		r.events.Eventf(ss, nil, corev1.EventTypeWarning, "InvalidSpec", "Compile", "cannot inject: %v", err)
		errs = append(errs, r.deletePolicy(ctx, ss.Name))
	case ss.Spec.InjectionStrategy.Paused:
		errs = append(errs, r.deletePolicy(ctx, ss.Name))
	default:
		errs = append(errs, r.applyPolicy(ctx, policy, binding))
	}

	rev, err := Revisions(ss)
	if err != nil {
		return reconcile.Result{}, errors.Join(append(errs, err)...)
	}
	rev.ControllerRevision = inj.Latest
	pods, err := r.selectedPods(ctx, ss)
	if err != nil {
		return reconcile.Result{}, errors.Join(append(errs, err)...)
	}
	now := metav1.NewTime(r.clock.Now())
	plan := planUpgrade(ss, views(ss, rev, pods))
	res := ComputeStatus(ss, rev, pods, now)
	r.setUpgradableCondition(ss, &res.Status, plan, now)
	uninjectedPods.WithLabelValues(ss.Name).Set(float64(len(res.Uninjected)))
	notUpgradablePods.WithLabelValues(ss.Name).Set(float64(len(plan.notUpgradable)))
	before := apimeta.FindStatusCondition(ss.Status.Conditions, v1beta1.SidecarSetPodsInjected)
	after := apimeta.FindStatusCondition(res.Status.Conditions, v1beta1.SidecarSetPodsInjected)
	if after.Status == metav1.ConditionFalse && (before == nil || before.Message != after.Message) {
		r.events.Eventf(ss, nil, corev1.EventTypeWarning, ReasonPodsWithoutSidecars, "Inject", "%s", after.Message)
	}
	if !apiequality.Semantic.DeepEqual(ss.Status, res.Status) {
		fresh := ss.DeepCopy()
		fresh.Status = res.Status
		if err := r.client.Status().Update(ctx, fresh); err != nil {
			if apierrors.IsConflict(err) {
				return reconcile.Result{Requeue: true}, errors.Join(errs...)
			}
			errs = append(errs, fmt.Errorf("update status of SidecarSet %s: %w", ss.Name, err))
		}
	}
	// The plan moves pods only on a cache that shows this controller's
	// own last writes; otherwise pods upgraded a moment ago would look
	// available and maxUnavailable would be exceeded.
	if ok, wait := r.exp.Satisfied(req.NamespacedName, pods); !ok {
		return reconcile.Result{RequeueAfter: wait}, errors.Join(errs...)
	}
	errs = append(errs, r.rollOut(ctx, ss, rev, plan))
	return reconcile.Result{}, errors.Join(errs...)
}

// selectedPods are the pods the SidecarSet's selector and namespace terms
// pick, from the pod cache, without copies (they are only read).
func (r *Reconciler) selectedPods(ctx context.Context, ss *v1beta1.SidecarSet) ([]*corev1.Pod, error) {
	if ss.Spec.Selector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ss.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, nil // nothing is selected; admission names the field
	}
	opts := []client.ListOption{client.MatchingLabelsSelector{Selector: sel}, client.UnsafeDisableDeepCopy}
	if ss.Spec.Namespace != "" {
		opts = append(opts, client.InNamespace(ss.Spec.Namespace))
	}
	var list corev1.PodList
	if err := r.pods.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("list pods of SidecarSet %s: %w", ss.Name, err)
	}
	var allowed func(ns string) bool
	if ss.Spec.NamespaceSelector != nil {
		nsSel, err := metav1.LabelSelectorAsSelector(ss.Spec.NamespaceSelector)
		if err != nil {
			return nil, nil
		}
		var nsList corev1.NamespaceList
		if err := r.client.List(ctx, &nsList, client.MatchingLabelsSelector{Selector: nsSel}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("list namespaces of SidecarSet %s: %w", ss.Name, err)
		}
		names := make(map[string]bool, len(nsList.Items))
		for _, ns := range nsList.Items {
			names[ns.Name] = true
		}
		allowed = func(ns string) bool { return names[ns] }
	}
	out := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		if allowed == nil || allowed(list.Items[i].Namespace) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// fieldManager owns the fields of the policies and bindings.
const fieldManager = "myriad-sidecarset"

// applyPolicy server-side applies the policy, then the binding, when the
// cached ones differ from them.
func (r *Reconciler) applyPolicy(ctx context.Context, policy *admissionregistrationv1.MutatingAdmissionPolicy, binding *admissionregistrationv1.MutatingAdmissionPolicyBinding) error {
	var cur admissionregistrationv1.MutatingAdmissionPolicy
	err := r.client.Get(ctx, types.NamespacedName{Name: policy.Name}, &cur)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read MutatingAdmissionPolicy %s: %w", policy.Name, err)
	}
	if err != nil || !apiequality.Semantic.DeepEqual(cur.Spec, policy.Spec) || !apiequality.Semantic.DeepEqual(cur.OwnerReferences, policy.OwnerReferences) {
		body, err := json.Marshal(policy)
		if err != nil {
			return fmt.Errorf("encode MutatingAdmissionPolicy %s: %w", policy.Name, err)
		}
		_, err = r.kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Patch(ctx, policy.Name, types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: fieldManager, Force: ptr.To(true)})
		countWrite("apply", err)
		if err != nil {
			return fmt.Errorf("apply MutatingAdmissionPolicy %s: %w", policy.Name, err)
		}
	}
	var curB admissionregistrationv1.MutatingAdmissionPolicyBinding
	err = r.client.Get(ctx, types.NamespacedName{Name: binding.Name}, &curB)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read MutatingAdmissionPolicyBinding %s: %w", binding.Name, err)
	}
	if err != nil || !apiequality.Semantic.DeepEqual(curB.Spec, binding.Spec) || !apiequality.Semantic.DeepEqual(curB.OwnerReferences, binding.OwnerReferences) {
		body, err := json.Marshal(binding)
		if err != nil {
			return fmt.Errorf("encode MutatingAdmissionPolicyBinding %s: %w", binding.Name, err)
		}
		_, err = r.kube.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Patch(ctx, binding.Name, types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: fieldManager, Force: ptr.To(true)})
		countWrite("apply", err)
		if err != nil {
			return fmt.Errorf("apply MutatingAdmissionPolicyBinding %s: %w", binding.Name, err)
		}
	}
	return nil
}

// deletePolicy removes the binding first (injection stops with it), then
// the policy.
func (r *Reconciler) deletePolicy(ctx context.Context, sidecarSet string) error {
	name := PolicyName(sidecarSet)
	// The cache says whether there is anything to delete, so a paused
	// SidecarSet costs no API call per pod event.
	var p admissionregistrationv1.MutatingAdmissionPolicy
	var b admissionregistrationv1.MutatingAdmissionPolicyBinding
	errP := r.client.Get(ctx, types.NamespacedName{Name: name}, &p)
	errB := r.client.Get(ctx, types.NamespacedName{Name: name}, &b)
	if apierrors.IsNotFound(errP) && apierrors.IsNotFound(errB) {
		return nil
	}
	err := r.kube.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Delete(ctx, name, metav1.DeleteOptions{})
	countWrite("delete", err)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete MutatingAdmissionPolicyBinding %s: %w", name, err)
	}
	err = r.kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Delete(ctx, name, metav1.DeleteOptions{})
	countWrite("delete", err)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete MutatingAdmissionPolicy %s: %w", name, err)
	}
	return nil
}

// sameContainerStates: every container runs the same image, with the same
// imageID, container ID and readiness.
func sameContainerStates(o, n *corev1.Pod) bool {
	if len(o.Status.ContainerStatuses) != len(n.Status.ContainerStatuses) {
		return false
	}
	for i, a := range o.Status.ContainerStatuses {
		b := n.Status.ContainerStatuses[i]
		if a.Name != b.Name || a.Image != b.Image || a.ImageID != b.ImageID || a.ContainerID != b.ContainerID || a.Ready != b.Ready {
			return false
		}
	}
	return true
}
