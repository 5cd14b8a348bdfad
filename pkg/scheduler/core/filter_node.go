package core

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Reasons, word for word kube-scheduler's, so "0/N nodes are available: ..."
// reads the same whichever scheduler wrote it.
const (
	ReasonUnschedulable        = "node(s) were unschedulable"
	ReasonNodeName             = "node(s) didn't match the requested node name"
	ReasonTaints               = "node(s) had untolerated taint(s)"
	ReasonNodeAffinity         = "node(s) didn't match Pod's node affinity/selector"
	ReasonNodePorts            = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods          = "Too many pods"
	ReasonSpread               = "node(s) didn't match pod topology spread constraints"
	ReasonSpreadMissingLabel   = ReasonSpread + " (missing required label)"
	ReasonPodAffinity          = "node(s) didn't match pod affinity rules"
	ReasonPodAntiAffinity      = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
	ReasonSchedulingGated      = "waiting for scheduling gates"
	ReasonPodParse             = "parsing pod"
	reasonInsufficientPrefix   = "Insufficient "
	taintUnschedulable         = v1.TaintNodeUnschedulable
	enableComparisonOperators  = false // TaintTolerationComparisonOperators is alpha, off by default
)

// nodeFacts is the part of a pending pod that node-local filters and scores
// read. It depends only on the pod's equivalence class, never on its name,
// labels or namespace, so it is computed once per class.
type nodeFacts struct {
	pi                     *PodInfo
	nodeName               string
	requiredNA             nodeaffinity.RequiredNodeAffinity
	hasRequiredNA          bool // nodeSelector or required node affinity set
	preferredNA            *nodeaffinity.PreferredSchedulingTerms
	tolerations            []v1.Toleration
	toleratesUnschedulable bool
	// delegated are requested resources left to DRA on nodes with none.
	delegated []v1.ResourceName
}

func newNodeFacts(pod *v1.Pod, pi *PodInfo) *nodeFacts {
	f := &nodeFacts{
		pi:          pi,
		nodeName:    pod.Spec.NodeName,
		requiredNA:  nodeaffinity.GetRequiredNodeAffinity(pod),
		tolerations: pod.Spec.Tolerations,
	}
	f.hasRequiredNA = len(pod.Spec.NodeSelector) > 0 ||
		(pod.Spec.Affinity != nil && pod.Spec.Affinity.NodeAffinity != nil && pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil)
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		// Invalid preferred terms are rejected by API validation; kube's
		// PreScore would error, we simply do not score them.
		f.preferredNA, _ = nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	f.toleratesUnschedulable = corev1helpers.TolerationsTolerateTaint(klog.Background(), pod.Spec.Tolerations,
		&v1.Taint{Key: taintUnschedulable, Effect: v1.TaintEffectNoSchedule}, enableComparisonOperators)
	return f
}

func doNotScheduleTaint(t *v1.Taint) bool {
	return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
}

func preferNoScheduleTaint(t *v1.Taint) bool { return t.Effect == v1.TaintEffectPreferNoSchedule }

// filterNode runs the node-local filters in kube-scheduler's default plugin
// order and returns the first failing plugin's reasons (nil when it fits).
// Node-local means: the answer depends only on the pod's class and this
// node's generation, which is what makes it cacheable.
func filterNode(f *nodeFacts, n *NodeInfo) []string {
	node := n.Node
	// NodeUnschedulable
	if node.Spec.Unschedulable && !f.toleratesUnschedulable {
		return []string{ReasonUnschedulable}
	}
	// NodeName
	if f.nodeName != "" && f.nodeName != node.Name {
		return []string{ReasonNodeName}
	}
	// TaintToleration (NoSchedule, NoExecute; PreferNoSchedule only scores)
	if len(node.Spec.Taints) > 0 {
		if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, f.tolerations,
			doNotScheduleTaint, enableComparisonOperators); untolerated {
			return []string{ReasonTaints}
		}
	}
	// NodeAffinity (nodeSelector + required terms, matchFields metadata.name)
	if ok, _ := f.requiredNA.Match(node); !ok {
		return []string{ReasonNodeAffinity}
	}
	// NodePorts
	for _, p := range f.pi.HostPorts {
		if n.UsedPortConflict(p) {
			return []string{ReasonNodePorts}
		}
	}
	// NodeResourcesFit
	return fitsRequest(&f.pi.Requests, f.delegated, n)
}

// fitsRequest mirrors noderesources.fitsRequest: every insufficient resource
// is reported, not only the first.
func fitsRequest(req *Resource, delegated []v1.ResourceName, n *NodeInfo) []string {
	var out []string
	if int64(len(n.Pods))+1 > n.Allocatable.AllowedPods {
		out = append(out, ReasonTooManyPods)
	}
	if req.isZero() {
		return out
	}
	a, r := &n.Allocatable, &n.Requested
	if req.MilliCPU > 0 && req.MilliCPU > a.MilliCPU-r.MilliCPU {
		out = append(out, reasonInsufficientPrefix+string(v1.ResourceCPU))
	}
	if req.Memory > 0 && req.Memory > a.Memory-r.Memory {
		out = append(out, reasonInsufficientPrefix+string(v1.ResourceMemory))
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > a.EphemeralStorage-r.EphemeralStorage {
		out = append(out, reasonInsufficientPrefix+string(v1.ResourceEphemeralStorage))
	}
	for name, q := range req.Scalar {
		if q > 0 && q > a.Scalar[name]-r.Scalar[name] && !delegatedHere(delegated, name, n) {
			out = append(out, fmt.Sprintf("%s%s", reasonInsufficientPrefix, name))
		}
	}
	return out
}
