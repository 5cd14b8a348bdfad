package statefulset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	intstrutil "k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/batch"
	"github.com/myriad-dev/myriad/pkg/controllers/lifecycle"
	"github.com/myriad-dev/myriad/pkg/controllers/podorder"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// maxWritesPerPass bounds the creates and the deletes of one pass, as
// upstream's ReplicaSet controller bounds its bursts: a Parallel scale-up
// of thousands becomes a stream of passes, each waiting for the cache to
// show the previous one.
const maxWritesPerPass = 500

// maxInPlacePerPass bounds the in-place updates one pass starts (each costs
// two writes; completions are written by later passes).
const maxInPlacePerPass = 250

// pass is one reconcile of one StatefulSet: it reads the pods into the
// plan's input, makes the lifecycle transitions that need no decision,
// then carries out MakePlan's plan.
type pass struct {
	r    *Reconciler
	set  *v1beta1.StatefulSet
	key  types.NamespacedName
	pods []*corev1.Pod // controlled members, terminating ones included
	revs *revisions
	now  time.Time

	in     Input
	plan   Plan
	byName map[string]*corev1.Pod
	// desired says which ordinals the set runs; a pod at another ordinal
	// is condemned.
	desired map[int]bool
	// eligible memoizes the in-place plan from a revision to the update
	// revision: every pod of a revision gets the same one.
	eligible map[string]eligibility
	// touched are pods the lifecycle step writes this pass; the plan
	// leaves them to the next pass, so no pod gets two writes at once.
	touched map[string]bool

	// claimStatus is status.volumeClaims, read after the pass's writes.
	claimStatus []v1beta1.VolumeClaimStatus

	mu            sync.Mutex
	createErrs    []error
	updateErrs    []error
	requeueAfter  time.Duration
	lifecycleWork []func() error
}

type eligibility struct {
	plan inplace.Plan
	ok   bool
}

// newPass resolves the spec into the plan's input; an error is a spec
// admission should have refused (a reserveOrdinals entry it cannot read).
func (r *Reconciler) newPass(set *v1beta1.StatefulSet, pods []*corev1.Pod, revs *revisions) (*pass, error) {
	ps := &pass{
		r: r, set: set, key: types.NamespacedName{Namespace: set.Namespace, Name: set.Name},
		pods: pods, revs: revs, now: r.clock.Now(),
		byName: map[string]*corev1.Pod{}, eligible: map[string]eligibility{}, touched: map[string]bool{},
		claimStatus: set.Status.VolumeClaims, // until the pass reads the claims
	}
	in, err := resolve(set, ps.now, r.stuckAfter)
	if err != nil {
		return nil, err
	}
	in.ResizeClaims = r.resizeClaims && set.Spec.VolumeClaimUpdateStrategy.Type == v1beta1.OnPodRollingUpdateVolumeClaimUpdateStrategyType
	ps.in = in
	ps.desired = map[int]bool{}
	for _, o := range DesiredOrdinals(in.Replicas, in.Start, in.Reserved) {
		ps.desired[o] = true
	}
	return ps, nil
}

// resolve reads the spec's numbers, with OpenKruise's defaults for what the
// defaulting webhook did not set (a set stored before it ran).
func resolve(set *v1beta1.StatefulSet, now time.Time, stuckAfter time.Duration) (Input, error) {
	spec := &set.Spec
	in := Input{Now: now, Replicas: 1, MaxUnavailable: 1, StuckAfter: stuckAfter, RollingUpdate: true}
	if spec.Replicas != nil {
		in.Replicas = int(*spec.Replicas)
	}
	if spec.Ordinals != nil {
		in.Start = int(spec.Ordinals.Start)
	}
	reserved, err := ReservedOrdinals(spec.ReserveOrdinals, in.Start, in.Replicas)
	if err != nil {
		return in, err
	}
	in.Reserved = reserved
	in.Parallel = spec.PodManagementPolicy == "Parallel"
	if s := spec.ScaleStrategy; s != nil && s.MaxUnavailable != nil {
		v, err := intstrutil.GetScaledValueFromIntOrPercent(s.MaxUnavailable, in.Replicas, true)
		if err != nil {
			return in, fmt.Errorf("spec.scaleStrategy.maxUnavailable: %w", err)
		}
		in.ScaleMaxUnavailable = max(v, 1)
	}
	u := spec.UpdateStrategy
	if u.Type == "OnDelete" {
		in.RollingUpdate = false
	}
	if ru := u.RollingUpdate; ru != nil {
		if ru.Partition != nil {
			in.Partition = int(*ru.Partition)
		}
		if ru.MaxUnavailable != nil {
			v, err := intstrutil.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, in.Replicas, true)
			if err != nil {
				return in, fmt.Errorf("spec.updateStrategy.rollingUpdate.maxUnavailable: %w", err)
			}
			in.MaxUnavailable = max(v, 1)
		}
		switch ru.PodUpdatePolicy {
		case v1beta1.InPlaceIfPossiblePodUpdateStrategyType:
			in.Policy = InPlaceIfPossible
		case v1beta1.InPlaceOnlyPodUpdateStrategyType:
			in.Policy = InPlaceOnly
		}
		in.Paused = ru.Paused
		in.Unordered = ru.UnorderedUpdate != nil
		if ru.MinReadySeconds != nil {
			in.MinReadySeconds = time.Duration(*ru.MinReadySeconds) * time.Second
		}
	}
	return in, nil
}

func (ps *pass) requeue(d time.Duration) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if d > 0 && (ps.requeueAfter <= 0 || d < ps.requeueAfter) {
		ps.requeueAfter = d
	}
}

func (ps *pass) failCreate(err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.createErrs = append(ps.createErrs, err)
}

func (ps *pass) failUpdate(err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.updateErrs = append(ps.updateErrs, err)
}

func (ps *pass) err() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return errors.Join(append(append([]error(nil), ps.createErrs...), ps.updateErrs...)...)
}

// run reads the pods, makes the lifecycle transitions, keeps claim owners
// in line with the retention policy, and carries out the plan.
func (ps *pass) run(ctx context.Context) {
	ps.readPods(ctx)
	if len(ps.lifecycleWork) > 0 {
		if err := batch.Parallel(len(ps.lifecycleWork), func(i int) error { return ps.lifecycleWork[i]() }); err != nil {
			ps.failUpdate(err)
		}
	}
	ps.plan = MakePlan(ps.in)
	ps.requeue(ps.plan.RequeueAfter)
	if !ps.syncClaimOwners(ctx) {
		return // a claim about to lose its pod must be owned by it first
	}
	ps.recreateMissingClaims(ctx)
	ps.resizeClaims(ctx, ps.plan.ResizeClaims)
	ps.claimStatus = ps.volumeClaimStatus(ctx)
	var deletes []*corev1.Pod
	for _, name := range ps.plan.Delete {
		if p := ps.byName[name]; p != nil && !ps.touched[name] {
			deletes = append(deletes, p)
		}
	}
	var recreate, inPlace []*corev1.Pod
	for _, u := range ps.plan.Update {
		p := ps.byName[u.Name]
		switch {
		case p == nil || ps.touched[u.Name]:
		case u.InPlace:
			inPlace = append(inPlace, p)
		default:
			recreate = append(recreate, p)
		}
	}
	ps.deletePods(ctx, append(deletes, recreate...))
	ps.createPods(ctx, ps.plan.Create)
	ps.updateInPlace(ctx, inPlace)
}

// readPods turns the pods into the plan's input and queues the lifecycle
// transitions that need no decision:
//   - a pod in PreparingDelete the preDelete hook no longer holds is deleted;
//   - states move on by themselves (lifecycle.Next);
//   - an in-place update the runtime finished opens the pod's gate, and an
//     Updating pod whose gate is open becomes Updated;
//   - a pod in PreparingUpdate the inPlaceUpdate hook released gets its
//     update applied, or goes back to Normal when the update was rolled
//     back (lifecycle.Next): never stuck in PreparingUpdate.
func (ps *pass) readPods(ctx context.Context) {
	lc := ps.set.Spec.Lifecycle
	var preDelete, inPlaceHook *pub.LifecycleHook
	if lc != nil {
		preDelete, inPlaceHook = lc.PreDelete, lc.InPlaceUpdate
	}
	var rank *podorder.Ranker
	if ru := ps.set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.UnorderedUpdate != nil {
		r := podorder.NewRanker(ru.UnorderedUpdate.PriorityStrategy)
		rank = &r
	}
	update := ps.revs.templates[ps.revs.update]
	if update == nil {
		update = &ps.set.Spec.Template
	}
	work := func(pod *corev1.Pod, f func() error) {
		ps.touched[pod.Name] = true
		ps.lifecycleWork = append(ps.lifecycleWork, f)
	}
	for _, pod := range ps.pods {
		ordinal, _ := OrdinalOf(ps.set.Name, pod)
		ps.byName[pod.Name] = pod
		rev := pod.Labels[pub.ControllerRevisionHashLabelKey]
		in := Pod{
			Name:     pod.Name,
			Ordinal:  ordinal,
			Updated:  rev == ps.revs.update,
			Finished: pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed,
			// Any value marks it, as in OpenKruise.
			SpecifiedDelete: pod.Labels[pub.SpecifiedDeleteKey] != "",
		}
		if since := podorder.ReadySince(pod); since != nil {
			in.Ready, in.ReadySince = true, since.Time
		}
		if pod.DeletionTimestamp != nil {
			in.Deleting, in.DeleteBy = true, pod.DeletionTimestamp.Time
			ps.in.Pods = append(ps.in.Pods, in)
			continue
		}
		state := lifecycle.State(pod)
		switch {
		case state == pub.LifecycleStatePreparingDelete:
			in.Deleting, in.Held = true, true
			if !lifecycle.Hooked(preDelete, pod) {
				work(pod, func() error { return ps.deleteNow(ctx, pod) })
			}
		case needsComplete(pod) && (in.Updated || inplace.GateCondition(pod) == nil):
			// A pod at an older revision gets its gate opened only when it
			// never had one set (created below the partition): a False
			// gate there is an update Apply has started and must finish.
			work(pod, func() error { return ps.complete(ctx, pod) })
		case in.Updated && state == pub.LifecycleStateUpdating && inplace.Check(pod):
			work(pod, func() error { return ps.followState(ctx, pod, pub.LifecycleStateUpdated) })
			state = pub.LifecycleStateUpdated
		case !in.Updated && state == pub.LifecycleStatePreparingUpdate && !lifecycle.Hooked(inPlaceHook, pod):
			if plan, ok := ps.inPlacePlan(pod, rev, update); ok {
				work(pod, func() error { return ps.apply(ctx, pod, plan) })
			}
		}
		if next := lifecycle.Next(lc, pod, in.Updated); next != "" && !ps.touched[pod.Name] {
			work(pod, func() error { return ps.followState(ctx, pod, next) })
			state = next
		}
		// KruisePodReady follows the state (markPodNotReady); its own
		// write, only when nothing else writes the pod this pass.
		if _, changed := lifecycle.PodReadyCondition(pod, lc, state, ps.now); changed && !ps.touched[pod.Name] {
			work(pod, func() error { return ps.syncPodReady(ctx, pod, state) })
		}
		in.Unavailable = !inplace.Check(pod) || !lifecycle.Serving(state) ||
			(inplace.GateCondition(pod) != nil && inplace.GateCondition(pod).Status == corev1.ConditionFalse)
		if ps.in.ResizeClaims && !ps.claimState(ctx, ordinal, &in) {
			in.Unavailable = true // a claim's volume is still growing
		}
		if !in.Updated {
			_, in.InPlaceOK = ps.inPlacePlan(pod, rev, update)
		}
		if rank != nil {
			in.Priority = rank.Rank(pod)
		}
		ps.in.Pods = append(ps.in.Pods, in)
	}
}

// needsComplete: the pod's InPlaceUpdateReady gate is not True yet though it
// may be (a new pod, a finished or rolled back update), or the next
// launch-priority batch of its update is due.
func needsComplete(pod *corev1.Pod) bool {
	if inplace.NextBatchDue(pod) {
		return true
	}
	if !inplace.HasReadinessGate(pod) {
		return false
	}
	c := inplace.GateCondition(pod)
	return c == nil || c.Status != corev1.ConditionTrue
}

// inPlacePlan is the in-place change of pod from revision rev's template
// to update; not ok when that revision is gone or the change needs a new
// pod (for this pod: inplace.Applicable).
func (ps *pass) inPlacePlan(pod *corev1.Pod, rev string, update *corev1.PodTemplateSpec) (inplace.Plan, bool) {
	e, ok := ps.eligible[rev]
	if !ok {
		if from, ok := ps.revs.templates[rev]; ok {
			e.plan, e.ok = inplace.Eligible(from, update, ps.r.eligibility)
		}
		ps.eligible[rev] = e
	}
	return e.plan, e.ok && inplace.Applicable(pod, e.plan)
}
