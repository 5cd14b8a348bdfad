package syncer

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// translateNode is a tenant's virtual copy of a super node: what its
// users and controllers read from a node (labels, capacity, addresses,
// conditions, system info, the kubelet endpoint), no taints or spec (the
// tenant has no scheduler and no node lifecycle controller to act on
// them). A non-zero kubeletPort replaces the kubelet endpoint's port: the
// kubelet proxy's, which serves the tenant's logs and exec on the super
// node's address.
func translateNode(super *corev1.Node, kubeletPort int32) *corev1.Node {
	endpoints := super.Status.DaemonEndpoints
	if kubeletPort != 0 {
		endpoints.KubeletEndpoint.Port = kubeletPort
	}
	labels := stripReserved(super.Labels)
	labels[LabelVirtualNode] = "true"
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: super.Name, Labels: labels},
		Status: corev1.NodeStatus{
			Capacity:        super.Status.Capacity.DeepCopy(),
			Allocatable:     super.Status.Allocatable.DeepCopy(),
			Conditions:      append([]corev1.NodeCondition(nil), super.Status.Conditions...),
			Addresses:       append([]corev1.NodeAddress(nil), super.Status.Addresses...),
			DaemonEndpoints: endpoints,
			NodeInfo:        super.Status.NodeInfo,
		},
	}
}

// nodeUpdate applies desired's labels and copied status to a live virtual
// node, saying whether the labels and whether the status changed.
func nodeUpdate(live, desired *corev1.Node) (out *corev1.Node, labels, status bool) {
	out = live.DeepCopy()
	out.Labels = desired.Labels
	out.Status.Capacity = desired.Status.Capacity
	out.Status.Allocatable = desired.Status.Allocatable
	out.Status.Conditions = desired.Status.Conditions
	out.Status.Addresses = desired.Status.Addresses
	out.Status.DaemonEndpoints = desired.Status.DaemonEndpoints
	out.Status.NodeInfo = desired.Status.NodeInfo
	return out, !equality.Semantic.DeepEqual(live.Labels, out.Labels), !equality.Semantic.DeepEqual(live.Status, out.Status)
}
