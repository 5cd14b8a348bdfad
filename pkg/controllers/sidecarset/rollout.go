package sidecarset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/batch"
)

// Sidecar upgrade: what the reconciler writes to roll a SidecarSet's image
// changes out to the pods it injected. planUpgrade decides; this file
// writes, one pod at a time, each write an Update of a freshly read pod
// under retry-on-conflict (so a kubelet's or user's concurrent write is
// never lost), and remembered in the expectations so the next pass waits
// for the cache to show it.

// Reasons and type of the InPlaceUpgradable condition, Myriad's addition:
// OpenKruise silently skips pods a SidecarSet change cannot reach in place.
const (
	ConditionInPlaceUpgradable  = "InPlaceUpgradable"
	ReasonImagesOnly            = "ImagesOnly"
	ReasonNotImageOnlyChange    = "NotImageOnlyChange"
	ReasonPodsNotUpgradable     = "PodsNotUpgradable"
	podConditionUpgradable      = corev1.PodConditionType("SidecarSetUpgradable")
	podReasonAllUpgradable      = "AllSidecarsetUpgradable"
	podReasonImmutableFieldEdit = "UpdateImmutableField"
)

// views are the injected, live pods of the SidecarSet as a pass sees them.
func views(ss *v1beta1.SidecarSet, rev Revision, pods []*corev1.Pod) []podView {
	var sel labels.Selector
	if ss.Spec.UpdateStrategy.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(ss.Spec.UpdateStrategy.Selector)
		if err != nil {
			s = labels.Nothing() // admission names the field; upgrade nothing
		}
		sel = s
	}
	out := make([]podView, 0, len(pods))
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || !Injected(p, ss.Name) {
			continue
		}
		out = append(out, view(ss, rev, sel, p))
	}
	return out
}

// upgradableCondition says whether every injected pod can reach the latest
// revision in place.
func upgradableCondition(ss *v1beta1.SidecarSet, plan upgradePlan, now metav1.Time) metav1.Condition {
	c := metav1.Condition{Type: ConditionInPlaceUpgradable, Status: metav1.ConditionTrue, Reason: ReasonImagesOnly,
		Message: "every injected pod can reach the latest revision in place", ObservedGeneration: ss.Generation, LastTransitionTime: now}
	if n := len(plan.notUpgradable); n > 0 {
		names := make([]string, 0, n)
		for _, p := range plan.notUpgradable {
			names = append(names, p.Namespace+"/"+p.Name)
		}
		sort.Strings(names)
		more := ""
		if n > maxNamedPods {
			more = fmt.Sprintf(" and %d more", n-maxNamedPods)
			names = names[:maxNamedPods]
		}
		c.Status, c.Reason = metav1.ConditionFalse, ReasonNotImageOnlyChange
		c.Message = fmt.Sprintf("%d pods run a revision that differs from the latest in more than images; sidecars are upgraded in place by image only, so these keep their sidecars until recreated: %s%s",
			n, strings.Join(names, ", "), more)
	}
	return c
}

// rollOut carries out the plan's writes, at most batch.Parallelism at
// once: a rollout of thousands of pods moves at the API server's pace, not
// one round trip at a time.
func (r *Reconciler) rollOut(ctx context.Context, ss *v1beta1.SidecarSet, rev Revision, plan upgradePlan) error {
	key := types.NamespacedName{Name: ss.Name}
	now := metav1.NewTime(r.clock.Now())
	var marks []*corev1.Pod
	if plan.rolling {
		marks = plan.notUpgradable // OpenKruise marks pods only while it rolls
	}
	markErr := batch.Parallel(len(marks), func(i int) error { return r.setPodUpgradable(ctx, ss, marks[i], false, now) })
	flipErr := batch.Parallel(len(plan.flip), func(i int) error {
		p := plan.flip[i]
		if err := r.writePod(ctx, key, p, func(pod *corev1.Pod) error { return flipPod(pod, ss, now) }); err != nil {
			return err
		}
		r.events.Eventf(p, nil, corev1.EventTypeNormal, "ResetContainerSucceed", "HotUpgrade", "SidecarSet %s put the idle sidecar container back on the empty image", ss.Name)
		return nil
	})
	upErr := batch.Parallel(len(plan.upgrade), func(i int) error {
		p := plan.upgrade[i]
		if err := r.writePod(ctx, key, p, func(pod *corev1.Pod) error { return upgradePod(pod, ss, rev, now) }); err != nil {
			return err
		}
		upgradedPods.WithLabelValues(ss.Name).Inc()
		return r.setPodUpgradable(ctx, ss, p, true, now)
	})
	return errors.Join(markErr, flipErr, upErr)
}

// writePod updates the pod with mutate applied to a fresh read, retrying
// on conflicts, and expects the write in the cache.
func (r *Reconciler) writePod(ctx context.Context, key types.NamespacedName, cached *corev1.Pod, mutate func(*corev1.Pod) error) error {
	pods := r.kube.CoreV1().Pods(cached.Namespace)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		pod, err := pods.Get(ctx, cached.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.UID != cached.UID {
			return nil // recreated under the same name: the next pass sees it
		}
		if err := mutate(pod); err != nil {
			return err
		}
		out, err := pods.Update(ctx, pod, metav1.UpdateOptions{})
		countPodWrite("upgrade", err)
		if err == nil {
			r.exp.ExpectWrite(key, out.Name, out.ResourceVersion)
		}
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("upgrade sidecars of pod %s/%s: %w", cached.Namespace, cached.Name, err)
	}
	return nil
}

// setPodUpgradable keeps OpenKruise's SidecarSetUpgradable pod condition:
// its message is a JSON object from SidecarSet name to whether that
// SidecarSet's latest revision can reach the pod in place, and it is True
// only when every one can. It patches only when the condition changes.
func (r *Reconciler) setPodUpgradable(ctx context.Context, ss *v1beta1.SidecarSet, pod *corev1.Pod, upgradable bool, now metav1.Time) error {
	var cur *corev1.PodCondition
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == podConditionUpgradable {
			cur = &pod.Status.Conditions[i]
		}
	}
	kv := map[string]bool{}
	if cur != nil && cur.Message != "" {
		_ = json.Unmarshal([]byte(cur.Message), &kv) // someone else's text: start over
	}
	kv[ss.Name] = upgradable
	status, reason := corev1.ConditionTrue, podReasonAllUpgradable
	for _, ok := range kv {
		if !ok {
			status, reason = corev1.ConditionFalse, podReasonImmutableFieldEdit
		}
	}
	msg, err := json.Marshal(kv)
	if err != nil {
		return err
	}
	if cur != nil && cur.Status == status && cur.Reason == reason && cur.Message == string(msg) {
		return nil
	}
	cond := corev1.PodCondition{Type: podConditionUpgradable, Status: status, Reason: reason, Message: string(msg), LastTransitionTime: now}
	if cur != nil && cur.Status == status {
		cond.LastTransitionTime = cur.LastTransitionTime
	}
	body, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{cond}}})
	if err != nil {
		return err
	}
	_, err = r.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{}, "status")
	countPodWrite("condition", err)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("set %s on pod %s/%s: %w", podConditionUpgradable, pod.Namespace, pod.Name, err)
	}
	return nil
}

// setUpgradableCondition puts the InPlaceUpgradable condition into the
// status being written, and reports it by an event when it turns False or
// its message changes.
func (r *Reconciler) setUpgradableCondition(ss *v1beta1.SidecarSet, st *v1beta1.SidecarSetStatus, plan upgradePlan, now metav1.Time) {
	before := apimeta.FindStatusCondition(ss.Status.Conditions, ConditionInPlaceUpgradable)
	after := upgradableCondition(ss, plan, now)
	apimeta.SetStatusCondition(&st.Conditions, after)
	if after.Status == metav1.ConditionFalse && (before == nil || before.Message != after.Message) {
		r.events.Eventf(ss, nil, corev1.EventTypeWarning, ReasonPodsNotUpgradable, "Upgrade", "%s", after.Message)
	}
}
