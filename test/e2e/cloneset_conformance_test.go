package e2e

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// testCloneSetOpenKruiseDefaults checks what OpenKruise's own end-to-end
// suite relies on after every create: the defaults written on create, new
// pods PreparingNormal until scheduled, the Progressing condition with its
// reasons and messages, and a percentage partition below 100% updating at
// least one pod.
func testCloneSetOpenKruiseDefaults(e *csEnv) {
	cs := newCloneSet(e.ns, "kruise-defaults", 4, "")
	cs.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	e.create(cs) // the client fills cs with what the API server stored
	u := cs.Spec.UpdateStrategy
	if u.Type != v1alpha1.RecreateCloneSetUpdateStrategyType || u.MaxUnavailable == nil || *u.MaxUnavailable != intstr.FromString("20%") ||
		u.MaxSurge == nil || *u.MaxSurge != intstr.FromInt32(0) || u.Partition == nil || *u.Partition != intstr.FromInt32(0) {
		e.t.Errorf("stored updateStrategy %+v; want OpenKruise's defaults ReCreate, maxUnavailable 20%%, maxSurge 0, partition 0", u)
	}
	if cs.Spec.RevisionHistoryLimit == nil || *cs.Spec.RevisionHistoryLimit != 10 {
		e.t.Errorf("stored revisionHistoryLimit %v, want 10", cs.Spec.RevisionHistoryLimit)
	}
	if c := cs.Spec.Template.Spec.Containers[0]; c.ImagePullPolicy != corev1.PullAlways || c.TerminationMessagePath != corev1.TerminationMessagePathDefault {
		e.t.Errorf("stored container imagePullPolicy %q terminationMessagePath %q; want Always and the pod default", c.ImagePullPolicy, c.TerminationMessagePath)
	}

	first := e.waitProgressing("kruise-defaults", v1alpha1.CloneSetAvailable, "CloneSet is available", 90*time.Second)
	if first.Status != corev1.ConditionTrue || first.LastUpdateTime.IsZero() {
		e.t.Errorf("available condition %+v, want True with lastUpdateTime", first)
	}
	for _, p := range e.pods("kruise-defaults") {
		if p.Labels[pub.LifecycleStateKey] != string(pub.LifecycleStateNormal) || p.Spec.NodeName == "" {
			e.t.Errorf("pod %s: state %q on node %q, want Normal once scheduled", p.Name, p.Labels[pub.LifecycleStateKey], p.Spec.NodeName)
		}
	}

	// 99% of 4 keeps 3 at the old revision and updates exactly one.
	e.modify("kruise-defaults", func(cs *v1alpha1.CloneSet) {
		cs.Spec.UpdateStrategy.Partition = ptr.To(intstr.FromString("99%"))
		cs.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	})
	e.waitProgressing("kruise-defaults", v1alpha1.CloneSetProgressPartitionAvailable, "CloneSet has been paused due to partition ready", 2*time.Minute)
	if st := e.settled("kruise-defaults", 4, 1, time.Minute).Status; st.ExpectedUpdatedReplicas != 1 {
		e.t.Errorf("expectedUpdatedReplicas %d, want 1", st.ExpectedUpdatedReplicas)
	}

	// Pods no scheduler places stay PreparingNormal, and the rollout times
	// out.
	stuck := newCloneSet(e.ns, "kruise-deadline", 1, "")
	stuck.Spec.ProgressDeadlineSeconds = ptr.To[int32](5)
	stuck.Spec.Template.Spec.SchedulerName = "no-such-scheduler"
	e.create(stuck)
	c := e.waitProgressing("kruise-deadline", v1alpha1.CloneSetProgressDeadlineExceeded, "", time.Minute)
	rev := e.get("kruise-deadline").Status.UpdateRevision
	if c.Status != corev1.ConditionFalse || c.Message != fmt.Sprintf("CloneSet revision %s has timed out progressing", rev) {
		e.t.Errorf("deadline condition %+v, want False naming revision %s", c, rev)
	}
	for _, p := range e.pods("kruise-deadline") {
		if p.Labels[pub.LifecycleStateKey] != string(pub.LifecycleStatePreparingNormal) {
			e.t.Errorf("unscheduled pod %s in state %q, want PreparingNormal", p.Name, p.Labels[pub.LifecycleStateKey])
		}
	}
}

// waitProgressing waits for the Progressing condition with reason (and
// message, unless empty) and returns it.
func (e *csEnv) waitProgressing(name string, reason v1alpha1.CloneSetConditionReason, msg string, timeout time.Duration) v1alpha1.CloneSetCondition {
	e.t.Helper()
	var got v1alpha1.CloneSetCondition
	eventually(e.t, timeout, fmt.Sprintf("CloneSet %s Progressing %s", name, reason), func() error {
		cs := &v1alpha1.CloneSet{}
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, cs); err != nil {
			return err
		}
		for _, c := range cs.Status.Conditions {
			if c.Type == v1alpha1.CloneSetConditionTypeProgressing {
				if c.Reason != string(reason) || (msg != "" && c.Message != msg) {
					return fmt.Errorf("Progressing %s %s %q", c.Status, c.Reason, c.Message)
				}
				got = c
				return nil
			}
		}
		return fmt.Errorf("no Progressing condition in %+v", cs.Status)
	})
	return got
}
