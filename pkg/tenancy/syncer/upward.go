package syncer

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// syncPodUp reports a super pod to its tenant pod as a kubelet and a
// scheduler would: placement (a virtual node and a Binding), then status.
// A bound tenant pod whose super pod is gone is deleted, as pods of a lost
// node are; an unbound one is created again by the downward sync.
func (s *Syncer) syncPodUp(ctx context.Context, tc *tenantCluster, ns, name string) error {
	src, err := tc.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	superNs := tenancy.SuperNamespace(tc.name, ns)
	live, err := s.super.pods.Pods(superNs).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if live != nil && (!isCopy(live, tc.name) || !sameOrigin(live, src)) {
		live = nil // another pod's; the downward sync replaces it
	}
	if live == nil {
		return s.superPodGone(ctx, tc, src)
	}

	if node := live.Spec.NodeName; node != "" {
		if err := s.ensureVirtualNode(ctx, tc, node); err != nil {
			return err
		}
		if src.Spec.NodeName == "" {
			if err := s.bind(ctx, tc, src, node); err != nil {
				return err
			}
			if onlyScheduled(live.Status) {
				return nil // the binding said it all (PodScheduled)
			}
		}
	}
	want := translatePodStatus(live.Status)
	if podStatusEqual(src.Status, want) {
		return nil
	}
	patch, err := podStatusPatch(src.UID, src.Status, want)
	if err != nil {
		return err
	}
	if _, err := tc.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update status of tenant pod %s/%s: %w", ns, name, err)
	}
	s.synced(tc.name, kindPodStatus)
	return nil
}

// onlyScheduled says whether a pod's status says no more than that it is
// bound, which a tenant pod's binding sets itself.
func onlyScheduled(st corev1.PodStatus) bool {
	if st.Phase != corev1.PodPending || st.StartTime != nil || st.HostIP != "" || len(st.ContainerStatuses) > 0 || len(st.InitContainerStatuses) > 0 {
		return false
	}
	for _, c := range st.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionTrue {
			return false
		}
	}
	return true
}

// podStatusPatch is a strategic merge patch of a pod's status from old to
// want, as the kubelet writes status: no resourceVersion, so neither a
// binding just made nor a cache a step behind costs a read or a conflict,
// and the pod's UID in the patch, so that it never lands on a pod of the
// same name created since.
func podStatusPatch(uid types.UID, old, want corev1.PodStatus) ([]byte, error) {
	from, err := json.Marshal(corev1.Pod{Status: old})
	if err != nil {
		return nil, err
	}
	to, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}, Status: want})
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(from, to, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("status patch: %w", err)
	}
	return patch, nil
}

// superPodGone handles a tenant pod without a super pod.
func (s *Syncer) superPodGone(ctx context.Context, tc *tenantCluster, src *corev1.Pod) error {
	switch {
	case src.DeletionTimestamp != nil, src.Status.Phase == corev1.PodSucceeded, src.Status.Phase == corev1.PodFailed:
		return nil
	case src.Spec.NodeName == "" || !reported(src):
		s.enqueue(key{Tenant: tc.name, Kind: kindPod, Namespace: src.Namespace, Name: src.Name})
		return nil
	}
	tc.recorder.Eventf(src, corev1.EventTypeWarning, "SuperPodLost",
		"the pod running this pod on the super cluster is gone (deleted or evicted); deleting this pod")
	return s.confirmTenantPodDeletion(ctx, tc, src)
}

// bind posts a Binding of the tenant pod to node, what the scheduler
// would do.
func (s *Syncer) bind(ctx context.Context, tc *tenantCluster, p *corev1.Pod, node string) error {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := tc.client.CoreV1().Pods(p.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			return err // bound meanwhile (or re-created); look again
		}
		return fmt.Errorf("bind tenant pod %s/%s to %s: %w", p.Namespace, p.Name, node, err)
	}
	s.synced(tc.name, kindPodStatus)
	return nil
}
