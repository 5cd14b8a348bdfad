package scheduler

import (
	"context"
	"encoding/json"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// Event reasons and actions as kube-scheduler writes them, so tools that
// look for them keep working.
const (
	reasonFailedScheduling = "FailedScheduling"
	actionScheduling       = "Scheduling"
	reasonScheduled        = "Scheduled"
	actionBinding          = "Binding"
)

// reportUnschedulable tells the user why pod fits nowhere, as
// kube-scheduler does: a PodScheduled=False/Unschedulable condition with
// the FitError message and, when preemption made or lost room for it, its
// status.nominatedNodeName, in one status patch (skipped when the status
// already says so), and a FailedScheduling event. Runs on a binder.
func (s *Scheduler) reportUnschedulable(ctx context.Context, pod *v1.Pod, fit *core.FitError, nom nomination) {
	msg := fit.Error()
	s.recorder.Eventf(pod, nil, v1.EventTypeWarning, reasonFailedScheduling, actionScheduling, "%s", msg)
	cond := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonUnschedulable, Message: msg}
	var old *v1.PodCondition
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == v1.PodScheduled {
			old = &pod.Status.Conditions[i]
		}
	}
	status := map[string]any{}
	switch cur := pod.Status.NominatedNodeName; {
	case nom.set != "" && nom.set != cur:
		status["nominatedNodeName"] = nom.set
	case nom.clear && cur != "":
		status["nominatedNodeName"] = nil // a merge patch deletes the field
	}
	sameCondition := old != nil && old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message
	if sameCondition && len(status) == 0 {
		return
	}
	if !sameCondition {
		cond.LastTransitionTime = metav1.Now()
		if old != nil && old.Status == cond.Status {
			cond.LastTransitionTime = old.LastTransitionTime
		}
		// A strategic merge patch merges conditions by type: it replaces
		// only PodScheduled and cannot clobber what the kubelet writes.
		status["conditions"] = []v1.PodCondition{cond}
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID}, // precondition: not a namesake
		"status":   status,
	})
	if err != nil {
		klog.FromContext(ctx).Error(err, "Encode status patch", "pod", klog.KObj(pod))
		return
	}
	if _, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil && ctx.Err() == nil {
		klog.FromContext(ctx).V(2).Info("Patch pod status", "pod", klog.KObj(pod), "err", err)
	}
}
