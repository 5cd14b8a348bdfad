package syncer

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"
)

// ensureVirtualNode makes sure the tenant has a node of this name before
// a pod is bound to it.
func (s *Syncer) ensureVirtualNode(ctx context.Context, tc *tenantCluster, name string) error {
	if _, err := tc.nodes.Get(name); err == nil {
		return nil
	}
	super, err := s.super.nodes.Get(name)
	if err != nil {
		return fmt.Errorf("super node %s: %w", name, errNotYet)
	}
	desired := translateNode(super, s.kubeletPort())
	created, err := tc.client.CoreV1().Nodes().Create(ctx, desired, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create virtual node %s: %w", name, err)
	}
	s.synced(tc.name, kindNode)
	// Status may be dropped on create; write it as the kubelet would.
	if out, _, status := nodeUpdate(created, desired); status {
		if _, err := tc.client.CoreV1().Nodes().UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("status of virtual node %s: %w", name, err)
		}
	}
	return nil
}

// refreshVirtualNode copies a super node's labels and status to the
// tenant's virtual node again (on a readiness change).
func (s *Syncer) refreshVirtualNode(ctx context.Context, tc *tenantCluster, name string) error {
	live, err := tc.nodes.Get(name)
	if err != nil || live.Labels[LabelVirtualNode] != "true" {
		return nil
	}
	super, err := s.super.nodes.Get(name)
	if err != nil {
		return nil // gone: the virtual node goes when its pods do
	}
	out, labelsChanged, statusChanged := nodeUpdate(live, translateNode(super, s.kubeletPort()))
	nodes := tc.client.CoreV1().Nodes()
	if labelsChanged {
		updated, err := nodes.Update(ctx, out, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update virtual node %s: %w", name, err)
		}
		out.ResourceVersion = updated.ResourceVersion
	}
	if statusChanged {
		if _, err := nodes.UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("status of virtual node %s: %w", name, err)
		}
	}
	if labelsChanged || statusChanged {
		s.synced(tc.name, kindNode)
	}
	return nil
}

// collectVirtualNodes deletes the virtual nodes no tenant pod is bound to
// any more. It runs periodically, not per pod event: a node that empties
// and fills again within the period is kept, and one made within the
// period is spared while its first pod is being bound.
func (s *Syncer) collectVirtualNodes(ctx context.Context) {
	sel := labels.SelectorFromSet(labels.Set{LabelVirtualNode: "true"})
	now := s.o.Clock.Now()
	for _, tc := range s.servedTenants() {
		if !tc.synced.Load() {
			continue
		}
		nodes, err := tc.nodes.List(sel)
		if err != nil {
			continue
		}
		for _, n := range nodes {
			if now.Sub(n.CreationTimestamp.Time) < s.o.NodeGC {
				continue
			}
			if pods, err := tc.podIndex.ByIndex(podsByNode, n.Name); err != nil || len(pods) > 0 {
				continue
			}
			uid := n.UID
			err := tc.client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) {
				klog.FromContext(ctx).Error(err, "Delete unused virtual node", "tenant", tc.name, "node", n.Name)
				continue
			}
			s.synced(tc.name, kindNode)
		}
	}
}

// kubeletPort is the port virtual nodes report for their kubelet: the
// kubelet proxy's, or 0 to keep the super node's.
func (s *Syncer) kubeletPort() int32 {
	if s.proxy == nil {
		return 0
	}
	return int32(s.proxy.cfg.Port)
}
