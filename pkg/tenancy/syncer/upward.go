package syncer

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
			// Status goes on the bound pod, read back for its new
			// resourceVersion.
			if src, err = tc.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
				return fmt.Errorf("read tenant pod %s/%s after binding: %w", ns, name, err)
			}
		}
	}
	want := translatePodStatus(live.Status)
	if podStatusEqual(src.Status, want) {
		return nil
	}
	out := src.DeepCopy()
	out.Status = want
	if _, err := tc.client.CoreV1().Pods(ns).UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update status of tenant pod %s/%s: %w", ns, name, err)
	}
	s.synced(tc.name, kindPodStatus)
	return nil
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
