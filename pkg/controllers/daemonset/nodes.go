package daemonset

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// daemonTolerations are the tolerations every daemon pod gets, as upstream's
// DaemonSet controller adds them: a node agent keeps running on a node that
// is not ready, unreachable, under resource pressure or cordoned, because it
// is often what makes the node healthy again. Written here because upstream's
// helper lives in k8s.io/kubernetes, which controllers do not import.
func daemonTolerations(hostNetwork bool) []corev1.Toleration {
	t := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if hostNetwork {
		t = append(t, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return t
}

// addDaemonTolerations adds the daemon tolerations the spec lacks.
func addDaemonTolerations(spec *corev1.PodSpec) {
	for _, want := range daemonTolerations(spec.HostNetwork) {
		found := false
		for _, have := range spec.Tolerations {
			if have.MatchToleration(&want) {
				found = true
				break
			}
		}
		if !found {
			spec.Tolerations = append(spec.Tolerations, want)
		}
	}
}

// eligibility decides, for one template, which nodes run its pod. It is
// built once per pass: the template's node affinity is compiled once and
// matched against every node.
type eligibility struct {
	nodeName    string
	affinity    nodeaffinity.RequiredNodeAffinity
	tolerations []corev1.Toleration
}

func newEligibility(t *corev1.PodTemplateSpec) *eligibility {
	spec := t.Spec.DeepCopy()
	addDaemonTolerations(spec)
	pod := &corev1.Pod{Spec: *spec}
	return &eligibility{nodeName: spec.NodeName, affinity: nodeaffinity.GetRequiredNodeAffinity(pod), tolerations: spec.Tolerations}
}

// check says whether node should run the daemon pod (shouldRun) and, if
// it already runs one, whether it may keep it (shouldContinue), as upstream
// decides: nodeName, nodeSelector and required node affinity must match;
// an untolerated NoSchedule or NoExecute taint keeps a new pod off the
// node, and only an untolerated NoExecute taint evicts a running one.
func (e *eligibility) check(node *corev1.Node) (shouldRun, shouldContinue bool) {
	if e.nodeName != "" && e.nodeName != node.Name {
		return false, false
	}
	if ok, err := e.affinity.Match(node); err != nil || !ok {
		return false, false
	}
	logger := klog.Background()
	if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, e.tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, true); !untolerated {
		return true, true
	}
	_, evicting := corev1helpers.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, e.tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoExecute
	}, true)
	return false, !evicting
}

// pinToNode makes spec schedulable only onto node: its required node
// affinity becomes the single term metadata.name In [node], as upstream does.
// The controller has already matched the template's own affinity against
// the node; the scheduler still binds the pod, so resources, ports and
// preemption are honoured.
func pinToNode(spec *corev1.PodSpec, node string) {
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
		}}}},
	}
}

// targetNode is the node a daemon pod belongs to: spec.nodeName once bound,
// otherwise the node its metadata.name affinity pins it to.
func targetNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range t.MatchFields {
			if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// inRollout reports whether the rollout selector lets a node's pod be
// updated; a nil selector lets every node.
func inRollout(sel labels.Selector, node *corev1.Node) bool {
	return sel == nil || sel.Matches(labels.Set(node.Labels))
}
