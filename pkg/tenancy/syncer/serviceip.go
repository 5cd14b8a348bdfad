package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// AnnotationClusterIP on a tenant's Service holds the cluster IPs its copy
// got on the super cluster, comma-separated, as VirtualCluster's syncer
// records them: the tenant's API server allocated the Service's own
// spec.clusterIP from its own range, which means nothing on the super
// cluster, and spec.clusterIP cannot change. What routes traffic there
// (kube-proxy, DNS) reads this. The syncer writes it and never copies it
// down (keys under tenancy.myriad.dev/ are stripped on the way down).
const AnnotationClusterIP = tenancy.Prefix + "cluster-ip"

// superClusterIPs is what AnnotationClusterIP says of a super Service:
// empty while it has no address, and for a headless one.
func superClusterIPs(svc *corev1.Service) string {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	if len(ips) == 0 || ips[0] == corev1.ClusterIPNone {
		return ""
	}
	return strings.Join(ips, ",")
}

// syncServiceIP writes the super copy's cluster IPs on tenant Service
// ns/name, when that copy is this Service's (same UID) and the
// annotation says otherwise.
func (s *Syncer) syncServiceIP(ctx context.Context, tc *tenantCluster, ns, name string) error {
	src, err := tc.services.Services(ns).Get(name)
	if err != nil || src.DeletionTimestamp != nil {
		return nil
	}
	twin, err := s.super.services.Services(tenancy.SuperNamespace(tc.name, ns)).Get(name)
	if err != nil || !isCopy(twin, tc.name) || !sameOrigin(twin, src) {
		return nil
	}
	want := superClusterIPs(twin)
	if src.Annotations[AnnotationClusterIP] == want {
		return nil
	}
	var value any // null removes it
	if want != "" {
		value = want
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": src.ResourceVersion, // refuse to act on a stale copy
		"annotations":     map[string]any{AnnotationClusterIP: value}}})
	if err != nil {
		return err
	}
	if _, err := tc.client.CoreV1().Services(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cluster IP of tenant service %s/%s: %w", ns, name, err)
	}
	s.synced(tc.name, kindService)
	return nil
}
