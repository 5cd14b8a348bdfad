package statefulset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/status"
)

// PodsStuckTerminating is Myriad's condition naming the pods still
// terminating past their deletion deadline by the stuck-after time, which
// the controller has stopped waiting for (see the package comment).
const PodsStuckTerminating appsv1.StatefulSetConditionType = "PodsStuckTerminating"

// computeStatus is the status the pass leaves: OpenKruise's counts from the
// plan, the revisions (currentRevision becomes updateRevision once every
// replica runs it), and the conditions: FailedCreatePod and FailedUpdatePod
// as OpenKruise reports a pass's failures, and PodsStuckTerminating.
func (ps *pass) computeStatus() v1beta1.StatefulSetStatus {
	old := ps.set.Status
	c := ps.plan.Status
	st := v1beta1.StatefulSetStatus{
		ObservedGeneration:       ps.set.Generation,
		Replicas:                 int32(c.Replicas),
		ReadyReplicas:            int32(c.ReadyReplicas),
		AvailableReplicas:        int32(c.AvailableReplicas),
		CurrentReplicas:          int32(c.CurrentReplicas),
		UpdatedReplicas:          int32(c.UpdatedReplicas),
		UpdatedReadyReplicas:     int32(c.UpdatedReadyReplicas),
		UpdatedAvailableReplicas: int32(c.UpdatedAvailableReplicas),
		CurrentRevision:          ps.revs.current,
		UpdateRevision:           ps.revs.update,
		CollisionCount:           old.CollisionCount,
		LabelSelector:            labelSelector(ps.set),
		VolumeClaims:             ps.claimStatus,
		Conditions:               append([]appsv1.StatefulSetCondition(nil), old.Conditions...),
	}
	if c.UpdatedReplicas >= ps.in.Replicas && c.Replicas == ps.in.Replicas {
		st.CurrentRevision = ps.revs.update
		st.CurrentReplicas = st.UpdatedReplicas
	}
	ps.setCondition(&st, v1beta1.FailedCreatePod, ps.createErrs)
	ps.setCondition(&st, v1beta1.FailedUpdatePod, ps.updateErrs)
	stuck := corev1.ConditionFalse
	msg := ""
	if len(ps.plan.Stuck) > 0 {
		stuck = corev1.ConditionTrue
		msg = fmt.Sprintf("%d pods are still terminating %s past their deletion deadline and no longer hold the others back: %s",
			len(ps.plan.Stuck), ps.r.stuckAfter, strings.Join(ps.plan.Stuck, ", "))
	}
	if len(ps.plan.Stuck) > 0 || findCondition(st.Conditions, PodsStuckTerminating) != nil {
		upsertCondition(&st, appsv1.StatefulSetCondition{Type: PodsStuckTerminating, Status: stuck, Reason: "TerminationOverdue", Message: msg}, ps.now)
	}
	stuckPods.WithLabelValues(ps.set.Namespace, ps.set.Name).Set(float64(len(ps.plan.Stuck)))
	return st
}

// setCondition records a pass's failures as OpenKruise does: True with
// the error while they happen; an existing one turns False once a pass
// goes through.
func (ps *pass) setCondition(st *v1beta1.StatefulSetStatus, t appsv1.StatefulSetConditionType, errs []error) {
	if len(errs) > 0 {
		upsertCondition(st, appsv1.StatefulSetCondition{Type: t, Status: corev1.ConditionTrue, Reason: string(t), Message: errors.Join(errs...).Error()}, ps.now)
		return
	}
	if c := findCondition(st.Conditions, t); c != nil && c.Status == corev1.ConditionTrue {
		upsertCondition(st, appsv1.StatefulSetCondition{Type: t, Status: corev1.ConditionFalse, Reason: string(t)}, ps.now)
	}
}

func findCondition(cs []appsv1.StatefulSetCondition, t appsv1.StatefulSetConditionType) *appsv1.StatefulSetCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// upsertCondition sets c, keeping the transition time when the status
// does not change.
func upsertCondition(st *v1beta1.StatefulSetStatus, c appsv1.StatefulSetCondition, now time.Time) {
	c.LastTransitionTime = metav1.NewTime(now)
	if old := findCondition(st.Conditions, c.Type); old != nil {
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

// labelSelector is the selector as a string, for the scale subresource.
func labelSelector(set *v1beta1.StatefulSet) string {
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return ""
	}
	return sel.String()
}

// syncStatus writes the status when it changed, and reports stuck pods
// with an event when they first appear.
func (r *Reconciler) syncStatus(ctx context.Context, ps *pass) error {
	st := ps.computeStatus()
	if c := findCondition(st.Conditions, PodsStuckTerminating); c != nil && c.Status == corev1.ConditionTrue {
		if old := findCondition(ps.set.Status.Conditions, PodsStuckTerminating); old == nil || old.Message != c.Message {
			r.events.Eventf(ps.set, nil, corev1.EventTypeWarning, "PodsStuckTerminating", "Scale", "%s", c.Message)
		}
	}
	if apiequality.Semantic.DeepEqual(st, ps.set.Status) {
		return nil
	}
	next := ps.set.DeepCopy()
	next.Status = st
	// Replaced whole, without the cached resourceVersion (see package
	// status).
	return status.Replace(ctx, r.client, next, st)
}
