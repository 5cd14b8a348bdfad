package cloneset

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controllers/podorder"
	"github.com/myriad-dev/myriad/pkg/controllers/status"
)

// computeStatus derives the status from the pass's pods. Counts are of
// pods not terminating; PreparingDelete pods still count (they exist).
// currentRevision becomes updateRevision once every desired pod is at it
// and Ready. The Progressing condition is decided by progressing.
func (ps *pass) computeStatus() v1alpha1.CloneSetStatus {
	old := ps.cs.Status
	st := v1alpha1.CloneSetStatus{
		ObservedGeneration:      ps.cs.Generation,
		UpdateRevision:          ps.revs.update,
		CurrentRevision:         ps.revs.current,
		CollisionCount:          old.CollisionCount,
		LabelSelector:           ps.sel.String(),
		ExpectedUpdatedReplicas: int32(ps.res.replicas - ps.res.partition),
	}
	available := map[*corev1.Pod]bool{}
	for _, m := range ps.members {
		available[m.pod] = m.available
	}
	for _, p := range ps.pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		st.Replicas++
		ready := podorder.ReadySince(p) != nil
		updated := p.Labels[pub.ControllerRevisionHashLabelKey] == ps.revs.update
		if ready {
			st.ReadyReplicas++
		}
		if available[p] {
			st.AvailableReplicas++
		}
		if updated {
			st.UpdatedReplicas++
			if ready {
				st.UpdatedReadyReplicas++
			}
			if available[p] {
				st.UpdatedAvailableReplicas++
			}
		}
	}
	if int(st.UpdatedReadyReplicas) >= ps.res.replicas && int(st.Replicas) == ps.res.replicas {
		st.CurrentRevision = ps.revs.update
	}
	st.Conditions = ps.conditions(old.Conditions)
	prev := conditionOf(old.Conditions, v1alpha1.CloneSetConditionTypeProgressing)
	if c, left := progressing(prev, &ps.cs.Spec, &st, ps.now); c != nil {
		st.Conditions = append(st.Conditions, *c)
		if left > 0 {
			// The workqueue brings the CloneSet back when the deadline
			// passes; no timer of its own.
			ps.requeue(left)
		}
	}
	return st
}

// conditions sets FailedScale and FailedUpdate from this pass's errors,
// keeping transition times of conditions whose status did not change.
func (ps *pass) conditions(old []v1alpha1.CloneSetCondition) []v1alpha1.CloneSetCondition {
	var out []v1alpha1.CloneSetCondition
	set := func(t v1alpha1.CloneSetConditionType, reason string, errs []error) {
		if len(errs) == 0 {
			return
		}
		c := v1alpha1.CloneSetCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: truncate(errors.Join(errs...).Error(), 1024), LastTransitionTime: metav1.NewTime(ps.now)}
		for _, o := range old {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		out = append(out, c)
	}
	set(v1alpha1.CloneSetConditionFailedScale, "FailedScale", ps.scaleErrs)
	updateErrs := ps.updateErrs
	if ps.blocked > 0 {
		updateErrs = append(updateErrs, fmt.Errorf("%d pods cannot be updated: updateStrategy.type is InPlaceOnly and the template change cannot be made in place", ps.blocked))
	}
	set(v1alpha1.CloneSetConditionFailedUpdate, "FailedUpdate", updateErrs)
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// syncStatus writes the status when it changed.
func (r *Reconciler) syncStatus(ctx context.Context, ps *pass) error {
	st := ps.computeStatus()
	if apiequality.Semantic.DeepEqual(st, ps.cs.Status) {
		return nil
	}
	next := ps.cs.DeepCopy()
	next.Status = st
	// Replaced whole, without the cached resourceVersion (see package
	// status): an update conflicted on about a third of writes in rollouts.
	if err := status.Replace(ctx, r.client, next, st); err != nil {
		return fmt.Errorf("update status of %s/%s: %w", ps.cs.Namespace, ps.cs.Name, err)
	}
	return nil
}
