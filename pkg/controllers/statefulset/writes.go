package statefulset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/controllers/batch"
	"github.com/myriad-dev/myriad/pkg/controllers/lifecycle"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// errClaimGoing: a pod's claim is being deleted; the pod waits for it to
// go and be made anew rather than mount a claim on its way out.
var errClaimGoing = errors.New("claim is being deleted")

// createPods creates the plan's pods, their claims first, in slow-start
// batches (one failure stops the burst, as upstream's controllers do).
func (ps *pass) createPods(ctx context.Context, creates []Create) {
	if len(creates) == 0 {
		return
	}
	creates = creates[:min(len(creates), maxWritesPerPass)]
	var created atomic.Int32
	_, err := batch.SlowStart(len(creates), func(i int) error {
		c := creates[i]
		rev := ps.revs.current
		if c.Updated {
			rev = ps.revs.update
		}
		t := ps.revs.templates[rev]
		if t == nil {
			rev, t = ps.revs.update, &ps.set.Spec.Template
		}
		pod := NewPod(ps.set, t, rev, c.Ordinal)
		if err := ps.ensureClaims(ctx, pod, c.Ordinal); err != nil {
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
				return nil // the previous pod of this ordinal is still going
			}
			return fmt.Errorf("create pod %s: %w", pod.Name, err)
		}
		created.Add(1)
		return nil
	})
	if err != nil {
		ps.failCreate(err)
		ps.r.events.Eventf(ps.set, nil, corev1.EventTypeWarning, "FailedCreate", "Scale", "creating pods failed: %v", err)
	}
	if n := created.Load(); n > 0 {
		ps.r.events.Eventf(ps.set, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Scale", "created %d pods", n)
	}
}

// ensureClaims creates the ordinal's claims that do not exist. A claim
// that exists is used as it is (its data is the point of a StatefulSet),
// unless it is being deleted.
func (ps *pass) ensureClaims(ctx context.Context, pod *corev1.Pod, ordinal int) error {
	for i := range ps.set.Spec.VolumeClaimTemplates {
		vct := &ps.set.Spec.VolumeClaimTemplates[i]
		name := ClaimName(vct.Name, ps.set.Name, ordinal)
		var have corev1.PersistentVolumeClaim
		err := ps.r.cache.Get(ctx, client.ObjectKey{Namespace: ps.set.Namespace, Name: name}, &have)
		switch {
		case err == nil && have.DeletionTimestamp != nil:
			return fmt.Errorf("claim %s: %w", name, errClaimGoing)
		case err == nil:
			continue
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("read claim %s: %w", name, err)
		}
		// The pod does not exist yet, so a claim is never born owned by it.
		claim := NewClaim(ps.set, vct, ordinal, nil, false)
		_, err = ps.r.kube.CoreV1().PersistentVolumeClaims(ps.set.Namespace).Create(ctx, claim, metav1.CreateOptions{})
		countOp("create_claim", err)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create claim %s for pod %s: %w", name, pod.Name, err)
		}
	}
	return nil
}

// recreateMissingClaims creates the claims of Pending members that lack
// them, as upstream does since v1.28: a claim deleted while its pod could
// not be scheduled (a cordoned node) would otherwise leave the pod
// Pending for ever. Only Pending pods are looked at, through the claim
// cache, so a pass over running pods costs nothing.
func (ps *pass) recreateMissingClaims(ctx context.Context) {
	if len(ps.set.Spec.VolumeClaimTemplates) == 0 {
		return
	}
	for _, pod := range ps.byName {
		if pod.Status.Phase != corev1.PodPending || pod.DeletionTimestamp != nil {
			continue
		}
		ordinal, member := OrdinalOf(ps.set.Name, pod)
		if !member {
			continue
		}
		if err := ps.ensureClaims(ctx, pod, ordinal); err != nil && !errors.Is(err, errClaimGoing) {
			ps.failCreate(err)
		}
	}
}

// syncClaimOwners keeps each member's claims owned as the retention policy
// says (ClaimOwners): by the set under whenDeleted Delete, by a condemned
// pod under whenScaled Delete. It reports false when a write failed, and
// the pass then deletes nothing, so no condemned pod goes before its claim
// is tied to it.
func (ps *pass) syncClaimOwners(ctx context.Context) bool {
	if len(ps.set.Spec.VolumeClaimTemplates) == 0 {
		return true
	}
	type change struct {
		claim  *corev1.PersistentVolumeClaim
		owners []metav1.OwnerReference
	}
	var changes []change
	for _, pod := range ps.pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		ordinal, _ := OrdinalOf(ps.set.Name, pod)
		condemned := !ps.desired[ordinal]
		for i := range ps.set.Spec.VolumeClaimTemplates {
			var claim corev1.PersistentVolumeClaim
			key := client.ObjectKey{Namespace: ps.set.Namespace, Name: ClaimName(ps.set.Spec.VolumeClaimTemplates[i].Name, ps.set.Name, ordinal)}
			if err := ps.r.cache.Get(ctx, key, &claim); err != nil || claim.DeletionTimestamp != nil {
				continue
			}
			want := ClaimOwners(ps.set, pod, condemned, claim.OwnerReferences)
			if !sameOwners(want, claim.OwnerReferences) {
				changes = append(changes, change{&claim, want})
			}
		}
	}
	err := batch.Parallel(len(changes), func(i int) error {
		c := changes[i]
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"uid": c.claim.UID, "resourceVersion": c.claim.ResourceVersion, "ownerReferences": c.owners,
		}})
		if err != nil {
			return err
		}
		_, err = ps.r.kube.CoreV1().PersistentVolumeClaims(c.claim.Namespace).Patch(ctx, c.claim.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		countOp("claim_owners", err)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("set owners of claim %s: %w", c.claim.Name, err)
		}
		return nil
	})
	if err != nil {
		ps.failUpdate(err)
		return false
	}
	return true
}

// deletePods deletes pods (scale-down, finished pods, recreate updates), or
// holds them in PreparingDelete while the preDelete hook holds them.
func (ps *pass) deletePods(ctx context.Context, pods []*corev1.Pod) {
	if len(pods) == 0 {
		return
	}
	pods = pods[:min(len(pods), maxWritesPerPass)]
	var preDelete *pub.LifecycleHook
	if lc := ps.set.Spec.Lifecycle; lc != nil {
		preDelete = lc.PreDelete
	}
	err := batch.Parallel(len(pods), func(i int) error {
		if lifecycle.Hooked(preDelete, pods[i]) {
			return ps.setState(ctx, pods[i], pub.LifecycleStatePreparingDelete)
		}
		return ps.deleteNow(ctx, pods[i])
	})
	if err != nil {
		ps.failUpdate(err)
		ps.r.events.Eventf(ps.set, nil, corev1.EventTypeWarning, "FailedDelete", "Scale", "deleting pods failed: %v", err)
		return
	}
	ps.r.events.Eventf(ps.set, nil, corev1.EventTypeNormal, "SuccessfulDelete", "Scale", "deleted %d pods", len(pods))
}

// deleteNow deletes a pod with its UID as precondition, so that a pod
// recreated under the same name survives.
func (ps *pass) deleteNow(ctx context.Context, pod *corev1.Pod) error {
	ps.r.exp.ExpectDelete(ps.key, pod.UID)
	err := ps.r.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	countOp("delete", err)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		ps.r.exp.DeleteFailed(ps.key, pod.UID)
		return fmt.Errorf("delete pod %s: %w", pod.Name, err)
	}
	return nil
}

// updateInPlace starts in-place updates: held in PreparingUpdate while the
// inPlaceUpdate hook holds the pod, applied otherwise.
func (ps *pass) updateInPlace(ctx context.Context, pods []*corev1.Pod) {
	if len(pods) == 0 {
		return
	}
	pods = pods[:min(len(pods), maxInPlacePerPass)]
	if len(pods) == maxInPlacePerPass {
		ps.requeue(time.Millisecond) // more to start once the cache shows these
	}
	var hook *pub.LifecycleHook
	if lc := ps.set.Spec.Lifecycle; lc != nil {
		hook = lc.InPlaceUpdate
	}
	update := ps.revs.templates[ps.revs.update]
	err := batch.Parallel(len(pods), func(i int) error {
		pod := pods[i]
		if lifecycle.Hooked(hook, pod) {
			if lifecycle.State(pod) == pub.LifecycleStatePreparingUpdate {
				return nil // waiting for the hook owner
			}
			return ps.setState(ctx, pod, pub.LifecycleStatePreparingUpdate)
		}
		plan, ok := ps.inPlacePlan(pod, pod.Labels[pub.ControllerRevisionHashLabelKey], update)
		if !ok {
			return nil
		}
		return ps.apply(ctx, pod, plan)
	})
	if err != nil {
		ps.failUpdate(err)
		ps.r.events.Eventf(ps.set, nil, corev1.EventTypeWarning, "FailedUpdate", "Update", "in-place update failed: %v", err)
	}
}

// apply runs one in-place update step. With a lifecycle the pod's state
// becomes Updating in the same write.
func (ps *pass) apply(ctx context.Context, pod *corev1.Pod, plan inplace.Plan) error {
	if ps.set.Spec.Lifecycle != nil {
		// A new map: plan is shared by every pod of its revision.
		set := map[string]string{}
		for k, v := range plan.Labels.Set {
			set[k] = v
		}
		set[pub.LifecycleStateKey] = string(pub.LifecycleStateUpdating)
		plan.Labels.Set = set
	}
	var grace time.Duration
	if ru := ps.set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.InPlaceUpdateStrategy != nil {
		grace = time.Duration(ru.InPlaceUpdateStrategy.GracePeriodSeconds) * time.Second
	}
	res, err := ps.r.updater.Apply(ctx, pod.DeepCopy(), inplace.Request{Revision: ps.revs.update, Plan: plan, GracePeriod: grace})
	countOp("inplace_update", err)
	if res.Pod != nil && res.Pod.ResourceVersion != pod.ResourceVersion {
		ps.r.exp.ExpectWrite(ps.key, pod.Name, res.Pod.ResourceVersion)
	}
	if res.RequeueAfter > 0 {
		ps.requeue(res.RequeueAfter)
	}
	if err != nil && !errors.Is(err, inplace.ErrGateReopened) {
		return fmt.Errorf("update pod %s in place: %w", pod.Name, err)
	}
	return nil
}

// complete opens the InPlaceUpdateReady gate once the runtime has finished
// (or starts the next launch-priority batch).
func (ps *pass) complete(ctx context.Context, pod *corev1.Pod) error {
	_, err := ps.r.updater.Complete(ctx, pod.DeepCopy())
	countOp("complete", err)
	return err
}

// setState writes the lifecycle state label and its timestamp, with the
// cached resourceVersion as precondition: a state is never set on the
// strength of a pod that has changed since.
func (ps *pass) setState(ctx context.Context, pod *corev1.Pod, s pub.LifecycleStateType) error {
	patch := fmt.Sprintf(`{"metadata":{"uid":%q,"resourceVersion":%q,"labels":{%q:%q},"annotations":{%q:%q}}}`,
		pod.UID, pod.ResourceVersion, pub.LifecycleStateKey, s, pub.LifecycleTimestampKey, ps.now.UTC().Format(time.RFC3339))
	out, err := ps.r.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	countOp("lifecycle", err)
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // the next pass decides again from the newer pod
		}
		return fmt.Errorf("set pod %s lifecycle state %s: %w", pod.Name, s, err)
	}
	ps.r.exp.ExpectWrite(ps.key, pod.Name, out.ResourceVersion)
	return nil
}

// followState makes a move that follows from what already happened to the
// pod (Updating → Updated, and lifecycle.Next's moves), on the condition
// only that its state and revision labels are as read: a resourceVersion
// precondition would also fail it on every status write of the kubelet
// (lifecycle.FollowPatch says why). A pod without the revision label has
// nothing to test it by and keeps the resourceVersion.
func (ps *pass) followState(ctx context.Context, pod *corev1.Pod, s pub.LifecycleStateType) error {
	if _, ok := pod.Labels[pub.ControllerRevisionHashLabelKey]; !ok {
		return ps.setState(ctx, pod, s)
	}
	body, err := lifecycle.FollowPatch(pod, s, pub.ControllerRevisionHashLabelKey, ps.now)
	if err != nil {
		return err
	}
	out, err := ps.r.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.JSONPatchType, body, metav1.PatchOptions{})
	countOp("lifecycle", err)
	if err != nil {
		// Invalid: a test failed, the pod has moved on; the next pass
		// decides again from the newer pod.
		if apierrors.IsInvalid(err) || apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("set pod %s lifecycle state %s: %w", pod.Name, s, err)
	}
	ps.r.exp.ExpectWrite(ps.key, pod.Name, out.ResourceVersion)
	return nil
}

// syncPodReady writes the KruisePodReady condition a pod in state s should
// carry (markPodNotReady), with the cached resourceVersion as precondition.
func (ps *pass) syncPodReady(ctx context.Context, pod *corev1.Pod, s pub.LifecycleStateType) error {
	c, changed := lifecycle.PodReadyCondition(pod, ps.set.Spec.Lifecycle, s, ps.now)
	if !changed {
		return nil
	}
	out, err := ps.r.kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, lifecycle.WithCondition(pod, c), metav1.UpdateOptions{})
	countOp("readiness", err)
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // the next pass decides again from the newer pod
		}
		return fmt.Errorf("set pod %s %s %s: %w", pod.Name, c.Type, c.Status, err)
	}
	ps.r.exp.ExpectWrite(ps.key, pod.Name, out.ResourceVersion)
	return nil
}
