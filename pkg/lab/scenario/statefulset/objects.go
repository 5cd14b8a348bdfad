package statefulset

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Names and labels of what the bench creates. roleLabel tells the two
// StatefulSets' pods apart, so each pod watch follows one StatefulSet;
// both are named setName, so their pods have the same names.
const (
	setName      = "web"
	container    = "web"
	roleLabel    = "myriad.dev/bench-statefulset"
	advancedRole = "advanced"
	upstreamRole = "upstream"
)

// requests are small so that 110 pods fit a node.
var requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}

func setLabels(role string) map[string]string {
	return map[string]string{"app.kubernetes.io/created-by": rig.CreatedBy, "app.kubernetes.io/name": setName, roleLabel: role}
}

// podNames are the pods a StatefulSet of replicas owes, ordinals 0 to
// replicas-1: the slots whose unavailability is counted.
func podNames(replicas int) []string {
	out := make([]string, replicas)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", setName, i)
	}
	return out
}

// podTemplate is both StatefulSets' pod: one container, no volumes.
func podTemplate(role, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: setLabels(role)},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: container, Image: image, Resources: corev1.ResourceRequirements{Requests: requests}}},
		},
	}
}

// advancedStatefulSet is the Advanced StatefulSet of replicas at image:
// Parallel, rolled in place where possible with maxUnavailable.
func advancedStatefulSet(ns, image string, replicas int, maxUnavailable intstr.IntOrString) *v1beta1.StatefulSet {
	return &v1beta1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: setName, Namespace: ns, Labels: setLabels(advancedRole)},
		Spec: v1beta1.StatefulSetSpec{
			Replicas:            ptr.To(int32(replicas)),
			Selector:            &metav1.LabelSelector{MatchLabels: setLabels(advancedRole)},
			Template:            podTemplate(advancedRole, image),
			ServiceName:         setName,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy: v1beta1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &v1beta1.RollingUpdateStatefulSetStrategy{MaxUnavailable: &maxUnavailable,
					PodUpdatePolicy: v1beta1.InPlaceIfPossiblePodUpdateStrategyType}},
		},
	}
}

// upstreamStatefulSet is the apps/v1 StatefulSet of replicas at image:
// Parallel, RollingUpdate with maxUnavailable (kept by the API server only
// with feature gate MaxUnavailableStatefulSet).
func upstreamStatefulSet(ns, image string, replicas int, maxUnavailable intstr.IntOrString) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: setName, Namespace: ns, Labels: setLabels(upstreamRole)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(int32(replicas)),
			Selector:            &metav1.LabelSelector{MatchLabels: setLabels(upstreamRole)},
			Template:            podTemplate(upstreamRole, image),
			ServiceName:         setName,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: &maxUnavailable}},
		},
	}
}
