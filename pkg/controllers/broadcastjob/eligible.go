package broadcastjob

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// unschedulableTaint is how the scheduler sees a cordoned node: a pod runs
// there only if it tolerates this taint.
var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// eligibility decides whether the job's pod may run on a node: the
// template's nodeSelector and required node affinity match it, the pod
// tolerates its NoSchedule and NoExecute taints (and cordon), and the pod's
// requests fit the node's allocatable at all. Whether they fit next to the
// pods already there is the scheduler's decision, not this controller's.
type eligibility struct {
	pod      *corev1.Pod
	affinity nodeaffinity.RequiredNodeAffinity
	requests corev1.ResourceList
}

func newEligibility(template *corev1.PodTemplateSpec) *eligibility {
	pod := &corev1.Pod{ObjectMeta: template.ObjectMeta, Spec: template.Spec}
	return &eligibility{
		pod:      pod,
		affinity: nodeaffinity.GetRequiredNodeAffinity(pod),
		requests: resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}),
	}
}

// why returns "" when the pod may run on node, else the reason it may not.
func (e *eligibility) why(node *corev1.Node) string {
	if ok, err := e.affinity.Match(node); err != nil || !ok {
		return "node selector or affinity does not match"
	}
	taints := node.Spec.Taints
	if node.Spec.Unschedulable {
		taints = append(append([]corev1.Taint(nil), taints...), unschedulableTaint)
	}
	_, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), taints, e.pod.Spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, true)
	if untolerated {
		return "untolerated taint"
	}
	for name, want := range e.requests {
		if want.IsZero() {
			continue
		}
		have, ok := node.Status.Allocatable[name]
		if !ok {
			have = resource.Quantity{}
		}
		if want.Cmp(have) > 0 {
			return "requests more " + string(name) + " than the node has"
		}
	}
	return ""
}
