package broadcastjob

import (
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// PodName is the name of the job's pod for a node. It is derived from the
// node, so a pass working from a stale cache that tries to create the same
// pod again gets AlreadyExists instead of a second pod on the node.
func PodName(job string, node string) string {
	h := fnv.New64a()
	h.Write([]byte(node))
	suffix := fmt.Sprintf("-%010x", h.Sum64()&0xffffffffff)
	const maxName = 253 // a pod name is a DNS subdomain
	if len(job)+len(suffix) > maxName {
		job = job[:maxName-len(suffix)]
	}
	return job + suffix
}

// PodNode is the node a job's pod is pinned to: its nodeName once bound,
// else the metadata.name term of its required node affinity.
func PodNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range t.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}

// NewPod is the job's pod for node: the template, the job's labels and
// owner reference, and a required node affinity on metadata.name that pins
// it to node (added to every term of the template's own required affinity,
// since terms are ORed).
func NewPod(job *v1beta1.BroadcastJob, node string) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	pod.Name = PodName(job.Name, node)
	pod.GenerateName = ""
	pod.Namespace = job.Namespace
	pod.ResourceVersion = ""
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	if len(validation.IsValidLabelValue(job.Name)) == 0 {
		pod.Labels[v1beta1.BroadcastJobNameLabel] = job.Name // informative; the UID label is what selects
	}
	pod.Labels[v1beta1.BroadcastJobControllerUIDLabel] = string(job.UID)
	pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(job, v1beta1.SchemeGroupVersion.WithKind("BroadcastJob"))}

	pin := corev1.NodeSelectorRequirement{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := pod.Spec.Affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil || len(na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) == 0 {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{}}}
	}
	terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	for i := range terms {
		terms[i].MatchFields = append(terms[i].MatchFields, pin)
	}
	return pod
}
