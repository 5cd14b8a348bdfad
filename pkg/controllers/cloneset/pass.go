package cloneset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controllers/batch"
	"github.com/myriad-dev/myriad/pkg/controllers/lifecycle"
	"github.com/myriad-dev/myriad/pkg/controllers/podorder"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// maxWritesPerPass bounds the creates and the deletes of one pass, as
// upstream's ReplicaSet controller bounds its bursts: a 10,000-replica
// scale-up becomes a stream of passes, each waiting for the cache to show
// the previous one.
const maxWritesPerPass = 500

// maxInPlacePerPass bounds the in-place updates one pass starts. Each costs
// two writes, and completions are written by later passes: starting a whole
// maxUnavailable batch of thousands at once held every completion back
// until the batch was done, so the rollout moved in plateaus.
const maxInPlacePerPass = 250

// pass is one reconcile of one CloneSet.
type pass struct {
	r    *Reconciler
	cs   *v1alpha1.CloneSet
	key  types.NamespacedName
	sel  labels.Selector
	pods []*corev1.Pod // controlled and matching, terminating ones included
	revs *revisions
	res  resolved
	now  time.Time

	members []*member
	// heldForDelete counts pods the preDelete hook holds in PreparingDelete.
	heldForDelete int
	plans         map[string]inplace.Plan // in-place plan by pod name
	// eligible memoizes inPlacePlan by the pod's revision: every pod of a
	// revision gets the same plan, and comparing templates 10^4 times per
	// pass would dominate it.
	eligible map[string]eligibility

	mu           sync.Mutex
	scaleErrs    []error
	updateErrs   []error
	blocked      int
	requeueAfter time.Duration
}

func (r *Reconciler) newPass(cs *v1alpha1.CloneSet, sel labels.Selector, pods []*corev1.Pod, revs *revisions) *pass {
	return &pass{
		r: r, cs: cs, key: types.NamespacedName{Namespace: cs.Namespace, Name: cs.Name},
		sel: sel, pods: pods, revs: revs, res: resolve(cs), now: r.clock.Now(),
		plans: map[string]inplace.Plan{}, eligible: map[string]eligibility{},
	}
}

func (ps *pass) failScale(err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.scaleErrs = append(ps.scaleErrs, err)
}

func (ps *pass) failUpdate(err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.updateErrs = append(ps.updateErrs, err)
}

func (ps *pass) requeue(after time.Duration) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.requeueAfter = minDuration(ps.requeueAfter, after)
}

func (ps *pass) err() error {
	return errors.Join(append(slices.Clone(ps.scaleErrs), ps.updateErrs...)...)
}

// run advances lifecycles, then scales and updates by makePlan.
func (ps *pass) run(ctx context.Context) {
	if !ps.lifecycle(ctx) {
		return // pod writes made; the next pass sees them
	}
	p := makePlan(planInput{
		replicas:             ps.res.replicas,
		partition:            ps.res.partition,
		maxUnavailable:       ps.res.maxUnavailable,
		maxSurge:             ps.res.maxSurge,
		scaleMaxUnavailable:  ps.res.scaleMaxUnavailable,
		paused:               ps.cs.Spec.UpdateStrategy.Paused,
		updateRevision:       ps.revs.update,
		createRevision:       ps.revs.current,
		scatter:              ps.cs.Spec.UpdateStrategy.ScatterStrategy,
		members:              ps.members,
		heldForDelete:        ps.heldForDelete,
		excludeHeldForDelete: ps.cs.Labels[v1alpha1.CloneSetScalingExcludePreparingDeleteKey] == "true",
	})
	ps.blocked = p.blocked
	// Deletes first: a recreated pod's replacement must not exist beside
	// it, which would be a surge nobody asked for.
	ps.deletePods(ctx, p.delete)
	ps.createPods(ctx, p.create)
	ps.updateInPlace(ctx, p.inPlace)
	if len(p.create) == 0 && len(p.delete) == 0 {
		ps.cleanupClaims(ctx)
	}
}

// lifecycle classifies the pods into members and makes the transitions
// that need no decision: deleting pods whose preDelete hook was released,
// moving lifecycle states on (nextState), finishing in-place updates the
// runtime completed (and opening the gate of new pods), and applying
// in-place updates whose inPlaceUpdate hook was released. A pod moving to
// another state is classified in the state it moves to. It reports whether
// the pass may go on to scale and update: not while any of these writes
// failed.
func (ps *pass) lifecycle(ctx context.Context) bool {
	var work []func() error
	lc := ps.cs.Spec.Lifecycle
	toDelete := map[string]bool{}
	for _, n := range ps.cs.Spec.ScaleStrategy.PodsToDelete {
		toDelete[n] = true
	}
	prio := podorder.NewRanker(ps.cs.Spec.UpdateStrategy.PriorityStrategy)
	update, ok := ps.revs.templates[ps.revs.update]
	if !ok {
		update = &ps.cs.Spec.Template
	}
	specified := func(pod *corev1.Pod) bool { return toDelete[pod.Name] || pod.Labels[pub.SpecifiedDeleteKey] != "" }
	revive := revivable(ps.res.replicas, ps.pods, lc, specified)
	for _, pod := range ps.pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		before := len(work)
		state := lifecycle.State(pod)
		if revive[pod] {
			work = append(work, func() error { return ps.setState(ctx, pod, pub.LifecycleStatePreparingNormal) })
			state = pub.LifecycleStatePreparingNormal
		} else if state == pub.LifecycleStatePreparingDelete {
			if lc == nil || !lifecycle.Hooked(lc.PreDelete, pod) {
				work = append(work, func() error { return ps.deleteNow(ctx, pod) })
			} else {
				ps.heldForDelete++
			}
			continue
		}
		rev := pod.Labels[pub.ControllerRevisionHashLabelKey]
		atUpdate := rev == ps.revs.update
		if next := lifecycle.Next(lc, pod, atUpdate); next != "" {
			work = append(work, func() error { return ps.followState(ctx, pod, next) })
			state = next // classified as it will be, so the plan counts it
		}
		m := &member{
			pod:             pod,
			revision:        rev,
			specifiedDelete: specified(pod),
			priority:        prio.Rank(pod),
			deleteHeld:      lc != nil && lifecycle.Hooked(lc.PreDelete, pod),
		}
		ps.members = append(ps.members, m)
		switch {
		case atUpdate:
			if !inplace.Check(pod) {
				m.inFlight = true
			}
			switch {
			case needsComplete(pod):
				work = append(work, func() error { return ps.complete(ctx, pod) })
			case state == pub.LifecycleStateUpdating && !m.inFlight:
				// The gate is open: the update is over. Its own write, so a
				// conflict with the gate's write cannot lose it.
				work = append(work, func() error { return ps.followState(ctx, pod, pub.LifecycleStateUpdated) })
				state = pub.LifecycleStateUpdated
			}
		case state == pub.LifecycleStatePreparingUpdate:
			m.inFlight = true
			if lc == nil || !lifecycle.Hooked(lc.InPlaceUpdate, pod) {
				if plan, ok := ps.inPlacePlan(pod, update); ok {
					work = append(work, func() error { return ps.apply(ctx, pod, plan) })
				}
			}
		default:
			m.update = ps.updateMode(pod, update)
			if inplace.GateCondition(pod) == nil && needsComplete(pod) {
				// Created at the current revision (below the partition):
				// its gate was never set, and nothing but this opens it. A
				// False gate here is an update in progress, left to Apply.
				work = append(work, func() error { return ps.complete(ctx, pod) })
			}
		}
		m.available = !m.inFlight && ps.available(pod, state)
		// KruisePodReady follows the state; its own write, only when this
		// pass writes the pod nothing else (the next pass catches up).
		if _, changed := lifecycle.PodReadyCondition(pod, lc, state, ps.now); changed && len(work) == before {
			work = append(work, func() error { _, err := ps.syncPodReady(ctx, pod, state); return err })
		}
	}
	if len(work) == 0 {
		return true
	}
	err := batch.Parallel(len(work), func(i int) error { return work[i]() })
	if err != nil {
		ps.failUpdate(err)
		return false
	}
	return true
}

// needsComplete: the pod's InPlaceUpdateReady gate is not True yet, though
// it may be (a new pod, a finished update, or a rolled back one), or the
// next batch of its in-place update is due.
func needsComplete(pod *corev1.Pod) bool {
	if inplace.NextBatchDue(pod) {
		return true // the next launch-priority batch starts there
	}
	if !inplace.HasReadinessGate(pod) {
		return false
	}
	c := inplace.GateCondition(pod)
	return c == nil || c.Status != corev1.ConditionTrue
}

// updateMode says how a pod at another revision reaches the update one.
func (ps *pass) updateMode(pod *corev1.Pod, update *corev1.PodTemplateSpec) updateMode {
	typ := ps.cs.Spec.UpdateStrategy.Type
	if typ == "" || typ == v1alpha1.RecreateCloneSetUpdateStrategyType {
		return updateRecreate
	}
	if plan, ok := ps.inPlacePlan(pod, update); ok {
		ps.plans[pod.Name] = plan
		return updateInPlace
	}
	if typ == v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType {
		return updateImpossible
	}
	return updateRecreate
}

// inPlacePlan is the in-place change from the pod's revision template to
// update; not ok when that revision is gone or the change needs a new pod
// (for this pod: inplace.Applicable).
func (ps *pass) inPlacePlan(pod *corev1.Pod, update *corev1.PodTemplateSpec) (inplace.Plan, bool) {
	rev := pod.Labels[pub.ControllerRevisionHashLabelKey]
	e, ok := ps.eligible[rev]
	if !ok {
		if from, ok := ps.revs.templates[rev]; ok && !ps.claimsChanged(rev) {
			e.plan, e.ok = inplace.Eligible(from, update, ps.r.eligibility)
		}
		ps.eligible[rev] = e
	}
	return e.plan, e.ok && inplace.Applicable(pod, e.plan)
}

// claimsChanged: with RecreateOnClaimTemplateChange, the pod's revision was
// made with other claim templates than the update revision, so the pod is
// recreated to get claims that match, unless the strategy is InPlaceOnly. A
// revision without the annotation (made before Myriad stamped it) never
// counts as changed, so turning the option on recreates nothing by itself.
func (ps *pass) claimsChanged(rev string) bool {
	if !ps.r.recreateOnClaimChange || ps.cs.Spec.UpdateStrategy.Type == v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType {
		return false
	}
	from, ok1 := ps.revs.claims[rev]
	to, ok2 := ps.revs.claims[ps.revs.update]
	return ok1 && ok2 && from != to
}

type eligibility struct {
	plan inplace.Plan
	ok   bool
}

// available: Ready for minReadySeconds, InPlaceUpdateReady not False and in
// a serving lifecycle state. A pod that will become available only by time
// passing schedules a requeue for that moment.
func (ps *pass) available(pod *corev1.Pod, state pub.LifecycleStateType) bool {
	since := podorder.ReadySince(pod)
	if since == nil || !lifecycle.Serving(state) {
		return false
	}
	if c := inplace.GateCondition(pod); c != nil && c.Status == corev1.ConditionFalse {
		return false
	}
	minReady := time.Duration(ps.cs.Spec.MinReadySeconds) * time.Second
	if left := since.Add(minReady).Sub(ps.now); left > 0 {
		ps.requeue(left)
		return false
	}
	return true
}

// createPods creates one pod per revision name, with fresh instance ids or
// the ids of PVCs left by earlier pods.
func (ps *pass) createPods(ctx context.Context, revs []string) {
	if len(revs) == 0 {
		return
	}
	revs = revs[:min(len(revs), maxWritesPerPass)]
	reuse := ps.reusableClaimIDs(ctx)
	ids := make([]string, len(revs))
	for i := range ids {
		if i < len(reuse) {
			ids[i] = reuse[i]
		} else {
			ids[i] = newInstanceID()
		}
	}
	var created atomic.Int32
	_, err := batch.SlowStart(len(revs), func(i int) error {
		t, ok := ps.revs.templates[revs[i]]
		if !ok {
			t = &ps.cs.Spec.Template
		}
		pod := newPod(ps.cs, t, revs[i], ids[i])
		if err := ps.createClaims(ctx, ids[i], i < len(reuse)); err != nil {
			if errors.Is(err, errClaimGoing) {
				ps.requeue(time.Second)
				return nil
			}
			return err
		}
		ps.r.exp.ExpectCreate(ps.key, pod.Name)
		_, err := ps.r.kube.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		countOp("create", err)
		if err != nil {
			ps.r.exp.CreateFailed(ps.key, pod.Name)
			if apierrors.IsAlreadyExists(err) {
				// The terminating pod whose claims this one takes over, or
				// an instance id collision: the next pass retries.
				return nil
			}
			return fmt.Errorf("create pod %s: %w", pod.Name, err)
		}
		created.Add(1)
		return nil
	})
	if err != nil {
		ps.failScale(err)
		ps.r.events.Eventf(ps.cs, nil, corev1.EventTypeWarning, "FailedCreate", "Scale", "creating pods failed: %v", err)
	}
	if n := created.Load(); n > 0 {
		ps.r.events.Eventf(ps.cs, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Scale", "created %d pods", n)
	}
}

// deletePods deletes pods, or holds them in PreparingDelete while the
// preDelete hook holds them.
func (ps *pass) deletePods(ctx context.Context, ms []*member) {
	if len(ms) == 0 {
		return
	}
	ms = ms[:min(len(ms), maxWritesPerPass)]
	lc := ps.cs.Spec.Lifecycle
	_, err := batch.SlowStart(len(ms), func(i int) error {
		pod := ms[i].pod
		if lc != nil && lifecycle.Hooked(lc.PreDelete, pod) {
			// Out of endpoints first (markPodNotReady), then the state
			// the hook owner acts on.
			pod, err := ps.syncPodReady(ctx, pod, pub.LifecycleStatePreparingDelete)
			if err != nil {
				return err
			}
			if ms[i].recreate {
				// Marked as OpenKruise marks the pods it recreates, so a
				// later scale-up never takes it back (see revivable).
				return ps.setState(ctx, pod, pub.LifecycleStatePreparingDelete, pub.SpecifiedDeleteKey)
			}
			return ps.setState(ctx, pod, pub.LifecycleStatePreparingDelete)
		}
		return ps.deleteNow(ctx, pod)
	})
	if err != nil {
		ps.failScale(err)
		ps.r.events.Eventf(ps.cs, nil, corev1.EventTypeWarning, "FailedDelete", "Scale", "deleting pods failed: %v", err)
		return
	}
	ps.r.events.Eventf(ps.cs, nil, corev1.EventTypeNormal, "SuccessfulDelete", "Scale", "deleted %d pods", len(ms))
}

// deleteNow deletes a pod, with its UID as precondition so that a pod
// recreated under the same name survives.
func (ps *pass) deleteNow(ctx context.Context, pod *corev1.Pod) error {
	ps.r.exp.ExpectDelete(ps.key, pod.UID)
	err := ps.r.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	countOp("delete", err)
	if err != nil && !apierrors.IsNotFound(err) {
		ps.r.exp.DeleteFailed(ps.key, pod.UID)
		return fmt.Errorf("delete pod %s: %w", pod.Name, err)
	}
	return ps.deleteClaimsOf(ctx, pod)
}

// updateInPlace starts in-place updates: held in PreparingUpdate while the
// inPlaceUpdate hook holds the pod, applied otherwise.
func (ps *pass) updateInPlace(ctx context.Context, ms []*member) {
	if len(ms) == 0 {
		return
	}
	ms = ms[:min(len(ms), maxInPlacePerPass)]
	if len(ms) == maxInPlacePerPass {
		ps.requeue(time.Millisecond) // more to start once the cache shows these
	}
	lc := ps.cs.Spec.Lifecycle
	err := batch.Parallel(len(ms), func(i int) error {
		pod := ms[i].pod
		if lc != nil && lifecycle.Hooked(lc.InPlaceUpdate, pod) {
			pod, err := ps.syncPodReady(ctx, pod, pub.LifecycleStatePreparingUpdate)
			if err != nil {
				return err
			}
			return ps.setState(ctx, pod, pub.LifecycleStatePreparingUpdate)
		}
		return ps.apply(ctx, pod, ps.plans[pod.Name])
	})
	if err != nil {
		ps.failUpdate(err)
		ps.r.events.Eventf(ps.cs, nil, corev1.EventTypeWarning, "FailedUpdate", "Update", "in-place update failed: %v", err)
	}
}

// apply runs one in-place update step. With lifecycle hooks the pod's
// state becomes Updating in the same write; without, the state label stays
// Normal, saving a write per pod.
func (ps *pass) apply(ctx context.Context, pod *corev1.Pod, plan inplace.Plan) error {
	if ps.cs.Spec.Lifecycle != nil {
		// A new map: plan is shared by every pod of its revision.
		set := map[string]string{}
		for k, v := range plan.Labels.Set {
			set[k] = v
		}
		set[pub.LifecycleStateKey] = string(pub.LifecycleStateUpdating)
		plan.Labels.Set = set
	}
	grace := time.Duration(0)
	if s := ps.cs.Spec.UpdateStrategy.InPlaceUpdateStrategy; s != nil {
		grace = time.Duration(s.GracePeriodSeconds) * time.Second
	}
	res, err := ps.r.updater.Apply(ctx, pod, inplace.Request{Revision: ps.revs.update, Plan: plan, GracePeriod: grace})
	countOp("inplace_update", err)
	if res.Pod != nil && res.Pod != pod {
		ps.r.exp.ExpectWrite(ps.key, pod.Name, res.Pod.ResourceVersion)
	}
	if res.RequeueAfter > 0 {
		ps.requeue(res.RequeueAfter)
	}
	if err != nil && !errors.Is(err, inplace.ErrGateReopened) {
		return err
	}
	return nil
}

// complete opens the InPlaceUpdateReady gate when the runtime has finished;
// a later pass moves an Updating pod on to Updated.
func (ps *pass) complete(ctx context.Context, pod *corev1.Pod) error {
	_, err := ps.r.updater.Complete(ctx, pod)
	countOp("complete", err)
	return err
}

// followState makes a move that follows from what already happened to the
// pod, on the condition only that its state and revision are as read
// (lifecycle.FollowPatch says why not its resourceVersion).
func (ps *pass) followState(ctx context.Context, pod *corev1.Pod, s pub.LifecycleStateType) error {
	body, err := lifecycle.FollowPatch(pod, s, pub.ControllerRevisionHashLabelKey, ps.now)
	if err != nil {
		return err
	}
	next := pod.DeepCopy()
	err = ps.r.client.Patch(ctx, next, client.RawPatch(types.JSONPatchType, body))
	countOp("lifecycle", err)
	if err != nil {
		// Invalid: a test failed, the pod has moved on; the next pass
		// decides again from the newer pod.
		if apierrors.IsInvalid(err) || apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("set pod %s lifecycle state %s: %w", pod.Name, s, err)
	}
	ps.r.exp.ExpectWrite(ps.key, pod.Name, next.ResourceVersion)
	return nil
}

// setState writes the lifecycle state label and its timestamp, with the
// cached resourceVersion as precondition: a state must never be set on the
// strength of a pod that has changed since.
func (ps *pass) setState(ctx context.Context, pod *corev1.Pod, s pub.LifecycleStateType, markLabels ...string) error {
	next := pod.DeepCopy()
	next.Labels[pub.LifecycleStateKey] = string(s)
	for _, l := range markLabels {
		next.Labels[l] = "true"
	}
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	next.Annotations[pub.LifecycleTimestampKey] = ps.now.UTC().Format(time.RFC3339)
	err := ps.r.client.Patch(ctx, next, client.MergeFromWithOptions(pod, client.MergeFromWithOptimisticLock{}))
	countOp("lifecycle", err)
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // the next pass decides again from the newer pod
		}
		return fmt.Errorf("set pod %s lifecycle state %s: %w", pod.Name, s, err)
	}
	ps.r.exp.ExpectWrite(ps.key, pod.Name, next.ResourceVersion)
	return nil
}
