package core

import (
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Defaults kube-scheduler substitutes for missing cpu/memory requests when
// scoring (not when filtering), so that request-less pods still spread.
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// The same defaults as Quantities, made once: they are read on every pod.
var (
	defaultCPUQuantity    = *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI)
	defaultMemoryQuantity = *resource.NewQuantity(defaultMemoryRequest, resource.DecimalSI)
)

// Resource is an amount of schedulable resources in kube-scheduler's units:
// milli-cpu, bytes, and integer scalars (extended resources, hugepages).
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// AllowedPods is only meaningful for allocatable.
	AllowedPods int64
	Scalar      map[v1.ResourceName]int64
}

// isScalarResource mirrors schedutil.IsScalarResourceName: extended and
// prefixed-native resources (they contain a '/'), hugepages and attachable
// volumes. Anything else is ignored by the fit check, as in kube.
func isScalarResource(name v1.ResourceName) bool {
	s := string(name)
	return strings.Contains(s, "/") || strings.HasPrefix(s, v1.ResourceHugePagesPrefix) ||
		strings.HasPrefix(s, "attachable-volumes-")
}

// NewResource converts a ResourceList the way framework.Resource.Add does.
func NewResource(rl v1.ResourceList) Resource {
	var r Resource
	for name, q := range rl {
		switch name {
		case v1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case v1.ResourceMemory:
			r.Memory += q.Value()
		case v1.ResourcePods:
			r.AllowedPods += q.Value()
		case v1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		default:
			if isScalarResource(name) {
				if r.Scalar == nil {
					r.Scalar = make(map[v1.ResourceName]int64, 2)
				}
				r.Scalar[name] += q.Value()
			}
		}
	}
	return r
}

func (r *Resource) add(o *Resource, sign int64) {
	r.MilliCPU += sign * o.MilliCPU
	r.Memory += sign * o.Memory
	r.EphemeralStorage += sign * o.EphemeralStorage
	for name, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[v1.ResourceName]int64, len(o.Scalar))
		}
		r.Scalar[name] += sign * v
		if r.Scalar[name] == 0 {
			delete(r.Scalar, name)
		}
	}
}

func (r *Resource) isZero() bool {
	return r.MilliCPU == 0 && r.Memory == 0 && r.EphemeralStorage == 0 && len(r.Scalar) == 0
}

// podRequests returns what a pod takes from a node, with the same helper and
// options kube-scheduler uses: max(sum of containers, max init container)
// with restartable sidecars, overhead and pod-level resources. Assigned pods
// also count resources reported in status (in-place resize), as kube's
// NodeInfo does; a pending pod has none, so the flag is harmless for it.
// nonZero is the scoring view with kube's defaults for missing requests.
func podRequests(pod *v1.Pod, assigned bool) (req Resource, nonZeroCPU, nonZeroMem int64) {
	if req, nonZeroCPU, nonZeroMem, ok := plainPodRequests(pod, assigned); ok {
		return req, nonZeroCPU, nonZeroMem
	}
	return helperPodRequests(pod, assigned)
}

// helperPodRequests is podRequests through kube's own helper, for any pod.
func helperPodRequests(pod *v1.Pod, assigned bool) (req Resource, nonZeroCPU, nonZeroMem int64) {
	opts := resourcehelper.PodResourcesOptions{
		UseStatusResources: assigned,
		InPlacePodLevelResourcesVerticalScalingEnabled: assigned,
	}
	reqs := resourcehelper.PodRequests(pod, opts)
	req = NewResource(reqs)
	nonMissing := v1.ResourceList{}
	if !resourcehelper.IsPodLevelRequestsSet(pod) {
		nonMissing[v1.ResourceCPU] = defaultCPUQuantity
		nonMissing[v1.ResourceMemory] = defaultMemoryQuantity
	} else {
		if _, ok := reqs[v1.ResourceCPU]; !ok {
			nonMissing[v1.ResourceCPU] = defaultCPUQuantity
		}
		if _, ok := reqs[v1.ResourceMemory]; !ok {
			nonMissing[v1.ResourceMemory] = defaultMemoryQuantity
		}
	}
	nz := reqs
	if len(nonMissing) > 0 {
		opts.NonMissingContainerRequests = nonMissing
		nz = resourcehelper.PodRequests(pod, opts)
	}
	c, m := nz[v1.ResourceCPU], nz[v1.ResourceMemory]
	return req, c.MilliValue(), m.Value()
}

// plainPodRequests is podRequests for the common pod, without the helper's
// maps: regular containers only, requesting only cpu, memory and ephemeral
// storage, no overhead, no pod-level resources, and (assigned) no resources
// in status and no infeasible resize. For such a pod kube's helper reduces
// to per-resource sums of the containers' requests (each missing cpu or
// memory request counted as the default in the scoring view), and so does
// this, summing Quantities before converting them as the helper does. The
// helper's maps were a fifth of the bytes the scheduler allocated per pod.
// ok is false for any other pod: podRequests then asks the helper.
// TestPlainPodRequestsMatchKubesHelper holds the two to the same answers.
func plainPodRequests(pod *v1.Pod, assigned bool) (req Resource, nonZeroCPU, nonZeroMem int64, ok bool) {
	if len(pod.Spec.InitContainers) > 0 || pod.Spec.Overhead != nil || pod.Spec.Resources != nil {
		return Resource{}, 0, 0, false
	}
	if assigned && (pod.Status.Resources != nil || pod.Status.AllocatedResources != nil ||
		StatusReportsResources(pod) || resourcehelper.IsPodResizeInfeasible(pod)) {
		return Resource{}, 0, 0, false
	}
	var cpu, mem, eph, nzCPU, nzMem resource.Quantity
	for i := range pod.Spec.Containers {
		reqs := pod.Spec.Containers[i].Resources.Requests
		for name := range reqs {
			if name != v1.ResourceCPU && name != v1.ResourceMemory && name != v1.ResourceEphemeralStorage {
				return Resource{}, 0, 0, false
			}
		}
		if q, has := reqs[v1.ResourceCPU]; has {
			cpu.Add(q)
			nzCPU.Add(q)
		} else {
			nzCPU.Add(defaultCPUQuantity)
		}
		if q, has := reqs[v1.ResourceMemory]; has {
			mem.Add(q)
			nzMem.Add(q)
		} else {
			nzMem.Add(defaultMemoryQuantity)
		}
		if q, has := reqs[v1.ResourceEphemeralStorage]; has {
			eph.Add(q)
		}
	}
	req = Resource{MilliCPU: cpu.MilliValue(), Memory: mem.Value(), EphemeralStorage: eph.Value()}
	return req, nzCPU.MilliValue(), nzMem.Value(), true
}

// StatusReportsResources: a container status reports resources (allocated
// or actuated), which kube's helper reads for assigned pods (in-place
// resize).
func StatusReportsResources(pod *v1.Pod) bool {
	for i := range pod.Status.ContainerStatuses {
		if cs := &pod.Status.ContainerStatuses[i]; cs.AllocatedResources != nil || cs.Resources != nil {
			return true
		}
	}
	return false
}
