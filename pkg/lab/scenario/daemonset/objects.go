package daemonset

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Names and labels of what the bench creates. agentLabel tells the two
// DaemonSets' pods apart, so each pod watch follows one DaemonSet.
const (
	agentName    = "agent"
	container    = "agent"
	agentLabel   = "myriad.dev/bench-agent"
	advancedRole = "advanced"
	upstreamRole = "upstream"
)

// requests are small so that the agent fits beside anything on a node.
var requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}

func agentLabels(role string) map[string]string {
	return map[string]string{"app.kubernetes.io/created-by": rig.CreatedBy, "app.kubernetes.io/name": agentName, agentLabel: role}
}

// agentTemplate is both DaemonSets' pod: one container, tolerating every
// taint as node agents do, so that every node is owed one.
func agentTemplate(role, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: agentLabels(role)},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Tolerations:                  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:                   []corev1.Container{{Name: container, Image: image, Resources: corev1.ResourceRequirements{Requests: requests}}},
		},
	}
}

// advancedDaemonSet is the Advanced DaemonSet at image, rolled in place
// where possible with maxUnavailable and no surge.
func advancedDaemonSet(ns, image string, maxUnavailable intstr.IntOrString) *v1beta1.DaemonSet {
	return &v1beta1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: agentName, Namespace: ns, Labels: agentLabels(advancedRole)},
		Spec: v1beta1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: agentLabels(advancedRole)},
			Template: agentTemplate(advancedRole, image),
			UpdateStrategy: v1beta1.DaemonSetUpdateStrategy{Type: v1beta1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &v1beta1.RollingUpdateDaemonSet{Type: v1beta1.InplaceRollingUpdateType,
					MaxUnavailable: &maxUnavailable, MaxSurge: ptr.To(intstr.FromInt32(0))}},
		},
	}
}

// upstreamDaemonSet is the apps/v1 DaemonSet at image, rolled with
// maxUnavailable and no surge.
func upstreamDaemonSet(ns, image string, maxUnavailable intstr.IntOrString) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: agentName, Namespace: ns, Labels: agentLabels(upstreamRole)},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: agentLabels(upstreamRole)},
			Template: agentTemplate(upstreamRole, image),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &maxUnavailable, MaxSurge: ptr.To(intstr.FromInt32(0))}},
		},
	}
}
