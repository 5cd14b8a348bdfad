package cloneset

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// Messages of the Progressing condition, one per reason. They are
// OpenKruise's, word for word: its tools and end-to-end suite compare the
// whole condition, message included.
const (
	msgAvailable          = "CloneSet is available"
	msgPaused             = "CloneSet is paused"
	msgPartitionAvailable = "CloneSet has been paused due to partition ready"
	msgProgressing        = "CloneSet is progressing"
	msgDeadlineExceeded   = "CloneSet revision %s has timed out progressing"
)

// hasProgressDeadline: progressDeadlineSeconds is set to something other
// than the largest int32, which (as for Deployments) means "no deadline".
func hasProgressDeadline(spec *v1alpha1.CloneSetSpec) bool {
	return spec.ProgressDeadlineSeconds != nil && *spec.ProgressDeadlineSeconds != math.MaxInt32
}

// progressing decides the Progressing condition from the one stored (prev,
// nil if none), the spec and the freshly counted status st, at now. It
// returns nil when the spec sets no deadline (the condition is then
// removed), and how long until the deadline passes when the CloneSet is
// still on its way (0 otherwise), for the caller to requeue then.
//
// In order, the first that holds decides:
//
//  1. available: every one of replicas pods is at updateRevision and
//     available, and currentRevision is updateRevision → True,
//     CloneSetAvailable;
//  2. updateStrategy.paused → True, CloneSetPaused;
//  3. the partition keeps some pods at old revisions and at least the pods
//     it lets update are updated and available → True,
//     ProgressPartitionAvailable;
//  4. the deadline already passed (ProgressDeadlineExceeded stays until
//     one of 1-3 holds) or passes now → False, ProgressDeadlineExceeded;
//  5. otherwise → True, CloneSetUpdated.
//
// The deadline runs from the moment the CloneSet left a settled state
// (1-3) or first got the condition: the lastUpdateTime of its
// CloneSetUpdated condition. So time spent available, paused or at the
// partition never counts, as OpenKruise documents the field. (OpenKruise
// v1.9.0's code measures from whatever reason was stored last, so a
// CloneSet resumed after a long pause there can time out at once; Myriad
// starts the clock at the resume.) Progress on the way does not restart
// it: the deadline bounds the whole way to a settled state, as in
// OpenKruise.
//
// A condition whose status and reason do not change is returned as stored,
// times included; otherwise lastUpdateTime is now and lastTransitionTime is
// kept if only the reason changed.
func progressing(prev *v1alpha1.CloneSetCondition, spec *v1alpha1.CloneSetSpec, st *v1alpha1.CloneSetStatus, now time.Time) (*v1alpha1.CloneSetCondition, time.Duration) {
	if !hasProgressDeadline(spec) {
		return nil, 0
	}
	replicas := int32(1)
	if spec.Replicas != nil {
		replicas = *spec.Replicas
	}
	set := func(status corev1.ConditionStatus, reason v1alpha1.CloneSetConditionReason, msg string) *v1alpha1.CloneSetCondition {
		if prev != nil && prev.Status == status && prev.Reason == string(reason) {
			return prev
		}
		c := &v1alpha1.CloneSetCondition{
			Type: v1alpha1.CloneSetConditionTypeProgressing, Status: status, Reason: string(reason), Message: msg,
			LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
		}
		if prev != nil && prev.Status == status {
			c.LastTransitionTime = prev.LastTransitionTime
		}
		return c
	}
	switch {
	case st.CurrentRevision == st.UpdateRevision && st.Replicas == replicas &&
		st.UpdatedReplicas == replicas && st.UpdatedAvailableReplicas == replicas:
		return set(corev1.ConditionTrue, v1alpha1.CloneSetAvailable, msgAvailable), 0
	case spec.UpdateStrategy.Paused:
		return set(corev1.ConditionTrue, v1alpha1.CloneSetProgressPaused, msgPaused), 0
	case st.ExpectedUpdatedReplicas < replicas && st.ExpectedUpdatedReplicas <= st.UpdatedAvailableReplicas:
		return set(corev1.ConditionTrue, v1alpha1.CloneSetProgressPartitionAvailable, msgPartitionAvailable), 0
	}
	exceeded := func() *v1alpha1.CloneSetCondition {
		return set(corev1.ConditionFalse, v1alpha1.CloneSetProgressDeadlineExceeded, fmt.Sprintf(msgDeadlineExceeded, st.UpdateRevision))
	}
	if prev != nil && prev.Reason == string(v1alpha1.CloneSetProgressDeadlineExceeded) {
		return exceeded(), 0
	}
	deadline := time.Duration(*spec.ProgressDeadlineSeconds) * time.Second
	if prev == nil || prev.Reason != string(v1alpha1.CloneSetProgressUpdated) {
		// Leaving a settled state, or the first observation: the clock
		// starts now. A prev of another reason never matches in set, so the
		// new condition carries now as its lastUpdateTime.
		return set(corev1.ConditionTrue, v1alpha1.CloneSetProgressUpdated, msgProgressing), deadline
	}
	left := prev.LastUpdateTime.Add(deadline).Sub(now)
	if left <= 0 {
		return exceeded(), 0
	}
	return prev, left
}

// conditionOf returns the condition of type t, or nil.
func conditionOf(conds []v1alpha1.CloneSetCondition, t v1alpha1.CloneSetConditionType) *v1alpha1.CloneSetCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
