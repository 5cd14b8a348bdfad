package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// Event reason and condition of a preempted pod, as kube-scheduler writes
// them, so that controllers and users looking for them see the same.
const (
	reasonPreempted  = "Preempted"
	actionPreempting = "Preempting"
)

// nomination is what a failed attempt does to the pod's
// status.nominatedNodeName.
type nomination struct {
	set   string // nominate to this node
	clear bool   // no node can be made to fit: drop any old nomination
}

// tryPreemption asks the core for a preemption plan for a pod that fits
// nowhere and records what it found in fit's message, in kube's words.
// The core reserves the room at once (the pod is nominated), so the
// decisions that follow already leave it free; the API writes are the
// binders' job (preempt). As in kube, a pod for which no node can be made
// to fit loses any earlier nomination; one that may not preempt (yet)
// keeps it.
func (s *Scheduler) tryPreemption(ctx context.Context, pod *v1.Pod, fit *core.FitError, ext *core.External) (*core.Preemption, nomination) {
	if s.cfg.DisablePreemption {
		return nil, nomination{}
	}
	plan, err := s.core.PreemptWith(pod, ext)
	var none *core.NoPreemptionError
	switch {
	case errors.As(err, &none):
		fit.PostFilterMsg = "preemption: " + none.Error()
		if none.Fit != nil {
			return nil, nomination{clear: true}
		}
		return nil, nomination{}
	case err != nil:
		klog.FromContext(ctx).Error(err, "Preemption", "pod", klog.KObj(pod))
		return nil, nomination{}
	}
	fit.PostFilterMsg = fmt.Sprintf("preemption: found a potential placement for pod on node %s, preempting %d victims", plan.Node, len(plan.Victims))
	klog.FromContext(ctx).V(2).Info("Preempting", "pod", klog.KObj(pod), "node", plan.Node, "victims", len(plan.Victims), "pdbViolations", plan.NumPDBViolations)
	return plan, nomination{set: plan.Node}
}

// preempt carries out a plan, as kube's executor, after the preemptor's
// status (condition, nominatedNodeName) is written: each victim first gets
// the DisruptionTarget condition (so its controller knows why it goes),
// then is deleted with its grace period, and a Preempted event names the
// preemptor; pods that lost their nomination to this one have it cleared.
// If a victim cannot be deleted the reservation is dropped (in memory and
// in the status) and the preemptor retried after backoff, instead of
// waiting for a deletion that will not come. One task on one binder, so
// these writes happen in this order.
func (s *Scheduler) preempt(ctx context.Context, pod *v1.Pod, fit *core.FitError, plan *core.Preemption) {
	logger := klog.FromContext(ctx)
	s.reportUnschedulable(ctx, pod, fit, nomination{set: plan.Node})
	for _, d := range plan.Demoted {
		if err := s.patchNominatedNode(ctx, d, ""); err != nil && ctx.Err() == nil {
			logger.V(2).Info("Clear nominated node of a lower-priority pod", "pod", klog.KObj(d), "err", err)
		}
	}
	for _, victim := range plan.Victims {
		if err := s.evict(ctx, pod, plan.Node, victim); err != nil {
			if ctx.Err() != nil {
				return
			}
			logger.Error(err, "Preemption failed; will retry", "preemptor", klog.KObj(pod), "victim", klog.KObj(victim), "node", plan.Node)
			s.core.AbortPreemption(pod, plan)
			if err := s.patchNominatedNode(ctx, pod, ""); err != nil && ctx.Err() == nil {
				logger.V(2).Info("Clear nominated node", "pod", klog.KObj(pod), "err", err)
			}
			s.queue.Retry(pod)
			return
		}
	}
}

// evict preempts one victim. A victim already gone or going is done.
func (s *Scheduler) evict(ctx context.Context, preemptor *v1.Pod, node string, victim *v1.Pod) error {
	if victim.DeletionTimestamp != nil {
		return nil
	}
	pods := s.client.CoreV1().Pods(victim.Namespace)
	cond := v1.PodCondition{
		Type:               v1.DisruptionTarget,
		Status:             v1.ConditionTrue,
		Reason:             v1.PodReasonPreemptionByScheduler,
		Message:            fmt.Sprintf("%s: preempting to accommodate a higher priority pod", s.cfg.SchedulerName),
		LastTransitionTime: metav1.Now(),
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": victim.UID},
		"status":   map[string]any{"conditions": []v1.PodCondition{cond}},
	})
	if err != nil {
		return fmt.Errorf("encode DisruptionTarget patch: %w", err)
	}
	if _, err := pods.Patch(ctx, victim.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) { // gone, or a namesake
			return nil
		}
		return fmt.Errorf("set DisruptionTarget on %s/%s: %w", victim.Namespace, victim.Name, err)
	}
	if err := pods.Delete(ctx, victim.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &victim.UID}}); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return fmt.Errorf("delete %s/%s: %w", victim.Namespace, victim.Name, err)
	}
	s.recorder.Eventf(victim, preemptor, v1.EventTypeNormal, reasonPreempted, actionPreempting,
		"Preempted by pod %s on node %s", preemptor.UID, node)
	return nil
}

// patchNominatedNode sets (or, with "", clears) a pending pod's
// status.nominatedNodeName.
func (s *Scheduler) patchNominatedNode(ctx context.Context, pod *v1.Pod, node string) error {
	var value any = node
	if node == "" {
		value = nil // a merge patch deletes the field
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   map[string]any{"nominatedNodeName": value},
	})
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}
