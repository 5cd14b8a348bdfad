package nodesim

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// The kubelet admits a pod before it starts it: a pod the node cannot hold
// beside the pods it already runs, or whose host ports are taken, is
// rejected — phase Failed, with the kubelet's reason (OutOfcpu,
// OutOfmemory, OutOfpods, NodePorts) and "Pod was rejected: ...". The
// scheduler checks the same for the pods it binds, so this matters for pods
// created with spec.nodeName set, which bypass it (upstream's and
// OpenKruise's "Should recreate evicted statefulset" test makes one).
//
// The pods a node runs are those admitted before this one that have not
// ended: those already started, and of those still waiting, the ones the
// kubelet learnt of first (admissionOrder). Only pods the scheduler did not bind are checked (scheduled): for
// the others the scheduler's answer stands, and 200,000 pods do not each
// pay for summing their node's requests.

// kindRejected counts pods the kubelet's admission turned away.
const kindRejected = "rejected"

const nodePortsReason = "node(s) didn't have free ports for the requested pod ports"

// admit returns the kubelet's reason and message for rejecting pod on a
// node with allocatable that runs others, or "" to admit it.
func admit(pod *corev1.Pod, others []*corev1.Pod, allocatable corev1.ResourceList, order admissionOrder) (reason, message string) {
	var before []*corev1.Pod
	for _, o := range others {
		if o.UID != pod.UID && !isTerminal(o) && order.before(o, pod) {
			before = append(before, o)
		}
	}
	// Resources first, pods, cpu, memory, ephemeral storage, as the
	// scheduler's Fits (which the kubelet calls) orders them.
	if q, ok := allocatable[corev1.ResourcePods]; ok && int64(len(before))+1 > q.Value() {
		return "OutOfpods", insufficient(corev1.ResourcePods, 1, int64(len(before)), q.Value())
	}
	want := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	used := corev1.ResourceList{}
	for _, o := range before {
		for name, q := range resourcehelper.PodRequests(o, resourcehelper.PodResourcesOptions{}) {
			sum := used[name]
			sum.Add(q)
			used[name] = sum
		}
	}
	for _, r := range []struct {
		name   corev1.ResourceName
		reason string
	}{{corev1.ResourceCPU, "OutOfcpu"}, {corev1.ResourceMemory, "OutOfmemory"}, {corev1.ResourceEphemeralStorage, "OutOfephemeral-storage"}} {
		req, ok := want[r.name]
		capacity, has := allocatable[r.name]
		if !ok || req.IsZero() || !has {
			continue
		}
		u := used[r.name]
		if value(r.name, req)+value(r.name, u) > value(r.name, capacity) {
			return r.reason, insufficient(r.name, value(r.name, req), value(r.name, u), value(r.name, capacity))
		}
	}
	taken := map[hostPort]bool{}
	for _, o := range before {
		for _, hp := range hostPorts(o) {
			taken[hp] = true
		}
	}
	for _, hp := range hostPorts(pod) {
		if taken[hp] || taken[hostPort{"0.0.0.0", hp.protocol, hp.port}] || (hp.ip == "0.0.0.0" && anyOnPort(taken, hp)) {
			return "NodePorts", "Predicate NodePorts failed: " + nodePortsReason
		}
	}
	return "", ""
}

// value is a quantity in the units the kubelet reports: millicores for
// cpu, bytes or counts otherwise.
func value(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

func insufficient(name corev1.ResourceName, requested, used, capacity int64) string {
	return fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d", name, requested, used, capacity)
}

// admissionOrder is the order in which the kubelet admits pods: the
// order it learns of them. A pod already started was admitted. Of two
// waiting pods, the one created first; creation times are kept to the
// second, so within one second the one the simulator's informer delivered
// first (arrived: a sequence number per pod created with spec.nodeName,
// taken when first seen; the only pods admission checks), and by name
// only if one was never seen.
type admissionOrder struct {
	arrived func(*corev1.Pod) (uint64, bool)
}

func (o admissionOrder) before(a, b *corev1.Pod) bool {
	if started := a.Status.StartTime != nil; started != (b.Status.StartTime != nil) {
		return started
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if o.arrived != nil {
		sa, okA := o.arrived(a)
		sb, okB := o.arrived(b)
		if okA && okB {
			return sa < sb
		}
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

// hostPorts are the host ports pod's containers ask for, with the
// defaults the API server leaves implicit (all addresses, TCP).
func hostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := hostPort{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
				if hp.ip == "" {
					hp.ip = "0.0.0.0"
				}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].port < out[j].port })
	return out
}

func anyOnPort(taken map[hostPort]bool, hp hostPort) bool {
	for t := range taken {
		if t.protocol == hp.protocol && t.port == hp.port {
			return true
		}
	}
	return false
}

// rejectedStatus is the status the kubelet writes for a pod it rejects.
func rejectedStatus(pod *corev1.Pod, reason, message string) *corev1.PodStatus {
	st := pod.Status.DeepCopy()
	st.Phase = corev1.PodFailed
	st.Reason = reason
	st.Message = "Pod was rejected: " + message
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	return st
}

// scheduled: the scheduler bound pod (the binding sets PodScheduled True);
// a pod created with spec.nodeName has no such condition.
func scheduled(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
