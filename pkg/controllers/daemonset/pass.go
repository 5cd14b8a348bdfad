package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/batch"
	"github.com/myriad-dev/myriad/pkg/controllers/lifecycle"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// defaultBurstReplicas is OpenKruise's default burstReplicas.
const defaultBurstReplicas = 250

// pass is one reconcile of one DaemonSet.
type pass struct {
	r    *Reconciler
	ds   *v1beta1.DaemonSet
	key  types.NamespacedName
	pods []*corev1.Pod // controlled and matching, terminating ones included
	revs *revisions
	now  time.Time
	in   planInput
	// plans: in-place plans by pod name, for pods that can take one.
	plans map[string]inplace.Plan

	// selectorCondition is the RolloutSelectorExcluded condition to
	// write; zero when the DaemonSet has no rollout selector.
	selectorCondition appsv1.DaemonSetCondition

	mu           sync.Mutex
	errs         []error
	requeueAfter time.Duration
}

// resolveRollingUpdate returns the rolling update settings with
// OpenKruise's defaults and its deprecated Surging read as Standard.
func resolveRollingUpdate(ds *v1beta1.DaemonSet) v1beta1.RollingUpdateDaemonSet {
	var ru v1beta1.RollingUpdateDaemonSet
	if ds.Spec.UpdateStrategy.RollingUpdate != nil {
		ru = *ds.Spec.UpdateStrategy.RollingUpdate
	}
	switch ru.Type {
	case "":
		ru.Type = v1beta1.StandardRollingUpdateType
	case v1beta1.DeprecatedSurgingRollingUpdateType:
		ru.Type = v1beta1.StandardRollingUpdateType
		if ru.MaxSurge == nil {
			one := intstr.FromInt32(1)
			ru.MaxSurge = &one
		}
	}
	if ru.MaxUnavailable == nil && ru.MaxSurge == nil {
		one := intstr.FromInt32(1)
		ru.MaxUnavailable = &one
	}
	return ru
}

// scaled resolves an int-or-percent of total, rounding up; nil is def.
func scaled(v *intstr.IntOrString, total, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, true)
	if err != nil {
		return 0, err
	}
	return max(0, n), nil
}

func (r *Reconciler) newPass(ds *v1beta1.DaemonSet, nodes []corev1.Node, pods []*corev1.Pod, revs *revisions) (*pass, error) {
	ps := &pass{r: r, ds: ds, key: types.NamespacedName{Namespace: ds.Namespace, Name: ds.Name},
		pods: pods, revs: revs, now: r.clock.Now(), plans: map[string]inplace.Plan{}}
	ru := resolveRollingUpdate(ds)
	var rollout labels.Selector
	if ru.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(ru.Selector)
		if err != nil {
			return nil, fmt.Errorf("spec.updateStrategy.rollingUpdate.selector: %w", err)
		}
		rollout = s
	}
	elig := newEligibility(&ds.Spec.Template)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	byNode := map[string]*nodeInfo{}
	desired := 0
	for i := range nodes {
		n := &nodes[i]
		run, cont := elig.check(n)
		if run {
			desired++
		}
		info := &nodeInfo{name: n.Name, shouldRun: run, shouldContinue: cont, inRollout: inRollout(rollout, n)}
		ps.in.nodes = append(ps.in.nodes, info)
		byNode[n.Name] = info
	}
	var err error
	in := &ps.in
	if in.maxUnavailable, err = scaled(ru.MaxUnavailable, desired, 0); err != nil {
		return nil, fmt.Errorf("spec.updateStrategy.rollingUpdate.maxUnavailable: %w", err)
	}
	if in.maxSurge, err = scaled(ru.MaxSurge, desired, 0); err != nil {
		return nil, fmt.Errorf("spec.updateStrategy.rollingUpdate.maxSurge: %w", err)
	}
	if in.partition, err = scaled(ru.Partition, desired, 0); err != nil {
		return nil, fmt.Errorf("spec.updateStrategy.rollingUpdate.partition: %w", err)
	}
	if in.burst, err = scaled(ds.Spec.BurstReplicas, desired, defaultBurstReplicas); err != nil {
		return nil, fmt.Errorf("spec.burstReplicas: %w", err)
	}
	in.burst = max(1, in.burst)
	in.inPlace = ru.Type == v1beta1.InplaceRollingUpdateType
	if in.inPlace {
		in.maxSurge = 0
	}
	if in.maxUnavailable == 0 && in.maxSurge == 0 {
		in.maxUnavailable = 1 // as upstream: a rollout must be able to move
	}
	in.onDelete = ds.Spec.UpdateStrategy.Type == v1beta1.OnDeleteDaemonSetStrategyType
	in.paused = ru.Paused != nil && *ru.Paused
	in.partitionedScaling = (ds.Spec.ScaleStrategy != nil && ds.Spec.ScaleStrategy.PartitionedScaling) ||
		ds.Annotations[v1beta1.ProgressiveCreatePodAnnotation] == "true"

	update := revs.templates[revs.update]
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		d := &daemonPod{
			pod:             p,
			node:            targetNode(p),
			updated:         p.Labels[pub.ControllerRevisionHashLabelKey] == revs.update,
			failed:          p.Status.Phase == corev1.PodFailed,
			preparingDelete: pub.LifecycleStateType(p.Labels[pub.LifecycleStateKey]) == pub.LifecycleStatePreparingDelete,
		}
		if d.failed && r.failedBackoff.IsInBackOffSinceUpdate(backoffKey(ds, d.node), ps.now) {
			d.backoff = true
			ps.requeue(r.failedBackoff.Get(backoffKey(ds, d.node)))
		}
		d.ready, d.available = ps.availability(p)
		if in.inPlace && !d.updated && update != nil {
			if old := revs.templates[p.Labels[pub.ControllerRevisionHashLabelKey]]; old != nil {
				if plan, ok := inplace.Eligible(old, update, r.eligibility); ok && inplace.Applicable(p, plan) {
					d.inPlace = true
					ps.plans[p.Name] = plan
				}
			}
		}
		if n := byNode[d.node]; n != nil {
			n.pods = append(n.pods, d)
		} else {
			in.orphaned = append(in.orphaned, d)
		}
	}
	return ps, nil
}

// backoffKey names a node's failed-pod backoff for one DaemonSet.
func backoffKey(ds *v1beta1.DaemonSet, node string) string {
	return string(ds.UID) + "/" + node
}

// availability: ready is the Ready condition; available is ready for
// minReadySeconds with no in-place update in flight. A pod that will become
// available requeues the pass for that moment.
func (ps *pass) availability(p *corev1.Pod) (ready, available bool) {
	var since time.Time
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready, since = true, c.LastTransitionTime.Time
		}
	}
	if !ready || !inplace.Check(p) {
		return ready, false
	}
	if g := inplace.GateCondition(p); g != nil && g.Status == corev1.ConditionFalse {
		return ready, false
	}
	if left := since.Add(time.Duration(ps.ds.Spec.MinReadySeconds) * time.Second).Sub(ps.now); left > 0 {
		ps.requeue(left)
		return ready, false
	}
	return ready, true
}

// run finishes what earlier passes started (held deletions, in-place
// completions), then carries out the plan.
func (ps *pass) run(ctx context.Context) {
	var work []func() error
	lc := ps.ds.Spec.Lifecycle
	var preDelete *pub.LifecycleHook
	if lc != nil {
		preDelete = lc.PreDelete
	}
	for _, p := range ps.pods {
		switch {
		case p.DeletionTimestamp != nil:
		case pub.LifecycleStateType(p.Labels[pub.LifecycleStateKey]) == pub.LifecycleStatePreparingDelete:
			if !lifecycle.Hooked(preDelete, p) {
				work = append(work, func() error { return ps.deletePod(ctx, p) })
			}
		case needsComplete(p):
			work = append(work, func() error { return ps.complete(ctx, p) })
		}
	}
	p := makePlan(ps.in)
	ps.reportLeftSelector(p.leftSelector)
	for _, d := range p.delete {
		if d.failed {
			ps.r.failedBackoff.Next(backoffKey(ps.ds, d.node), ps.now)
		}
		if lifecycle.Hooked(preDelete, d.pod) {
			work = append(work, func() error { return ps.holdForDelete(ctx, d.pod) })
		} else {
			work = append(work, func() error { return ps.deletePod(ctx, d.pod) })
		}
	}
	for _, d := range p.inPlace {
		work = append(work, func() error { return ps.applyInPlace(ctx, d.pod) })
	}
	if err := batch.Parallel(len(work), func(i int) error { return work[i]() }); err != nil {
		ps.fail(err)
	}
	if _, err := batch.SlowStart(len(p.create), func(i int) error { return ps.createPod(ctx, p.create[i]) }); err != nil {
		ps.fail(err)
	}
}

// needsComplete: the pod's InPlaceUpdateReady gate is not True yet though
// it may be (a new pod, or an in-place update the runtime finished).
func needsComplete(pod *corev1.Pod) bool {
	if !inplace.HasReadinessGate(pod) {
		return false
	}
	c := inplace.GateCondition(pod)
	return c == nil || c.Status != corev1.ConditionTrue
}

// newPod is the daemon pod for node at the update revision: the template,
// the daemon tolerations, pinned to the node, with the in-place readiness
// gate so a later InPlaceIfPossible rollout can take it out of endpoints.
func (ps *pass) newPod(node string) *corev1.Pod {
	t := ps.revs.templates[ps.revs.update]
	if t == nil {
		t = &ps.ds.Spec.Template
	}
	t = t.DeepCopy()
	lbls := map[string]string{}
	for k, v := range t.Labels {
		lbls[k] = v
	}
	lbls[pub.ControllerRevisionHashLabelKey] = ps.revs.update
	lbls[PodLabel] = "true"
	if ps.ds.Spec.Lifecycle != nil {
		lbls[pub.LifecycleStateKey] = string(pub.LifecycleStateNormal)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ps.ds.Name + "-",
			Namespace:       ps.ds.Namespace,
			Labels:          lbls,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ps.ds, v1beta1.SchemeGroupVersion.WithKind("DaemonSet"))},
		},
		Spec: t.Spec,
	}
	addDaemonTolerations(&pod.Spec)
	pinToNode(&pod.Spec, node)
	inplace.InjectReadinessGate(pod)
	return pod
}

func (ps *pass) createPod(ctx context.Context, node string) error {
	created, err := ps.r.kube.CoreV1().Pods(ps.ds.Namespace).Create(ctx, ps.newPod(node), metav1.CreateOptions{})
	countOp("create", err)
	if err != nil {
		return fmt.Errorf("create daemon pod for node %s: %w", node, err)
	}
	ps.r.exp.ExpectCreate(ps.key, created.Name)
	return nil
}

// deletePod deletes with the pod's UID as precondition, so a pod
// recreated under the same name is never touched.
func (ps *pass) deletePod(ctx context.Context, p *corev1.Pod) error {
	uid := p.UID
	err := ps.r.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	countOp("delete", err)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s: %w", p.Name, err)
	}
	ps.r.exp.ExpectDelete(ps.key, uid)
	return nil
}

// holdForDelete moves a pod the preDelete hook holds to PreparingDelete;
// it is deleted by a later pass once the hook owner releases it.
func (ps *pass) holdForDelete(ctx context.Context, p *corev1.Pod) error {
	patch := fmt.Sprintf(`{"metadata":{"uid":%q,"resourceVersion":%q,"labels":{%q:%q},"annotations":{%q:%q}}}`,
		p.UID, p.ResourceVersion, pub.LifecycleStateKey, pub.LifecycleStatePreparingDelete,
		pub.LifecycleTimestampKey, ps.now.UTC().Format(time.RFC3339))
	out, err := ps.r.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	countOp("lifecycle", err)
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // the next pass decides again from the newer pod
		}
		return fmt.Errorf("set pod %s %s: %w", p.Name, pub.LifecycleStatePreparingDelete, err)
	}
	ps.r.exp.ExpectWrite(ps.key, p.Name, out.ResourceVersion)
	return nil
}

func (ps *pass) applyInPlace(ctx context.Context, p *corev1.Pod) error {
	res, err := ps.r.updater.Apply(ctx, p.DeepCopy(), inplace.Request{Revision: ps.revs.update, Plan: ps.plans[p.Name]})
	countOp("inplace_update", err)
	if res.Pod != nil && res.Pod.ResourceVersion != p.ResourceVersion {
		ps.r.exp.ExpectWrite(ps.key, p.Name, res.Pod.ResourceVersion)
	}
	if res.RequeueAfter > 0 {
		ps.requeue(res.RequeueAfter)
	}
	if err != nil && !errors.Is(err, inplace.ErrGateReopened) {
		return fmt.Errorf("update pod %s in place: %w", p.Name, err)
	}
	return nil
}

func (ps *pass) complete(ctx context.Context, p *corev1.Pod) error {
	_, err := ps.r.updater.Complete(ctx, p.DeepCopy())
	countOp("complete", err)
	return err
}

func (ps *pass) requeue(d time.Duration) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.requeueAfter <= 0 || d < ps.requeueAfter {
		ps.requeueAfter = d
	}
}

func (ps *pass) fail(err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.errs = append(ps.errs, err)
}

func (ps *pass) err() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return errors.Join(ps.errs...)
}
