package inplace

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/containermeta"
)

// Plan is an in-place update: what changes between two pod templates.
type Plan struct {
	// Containers whose image or resources change, in template order.
	Containers []ContainerUpdate `json:"containers,omitempty"`
	// Labels and Annotations to set on and remove from the pod.
	Labels      MetadataUpdate `json:"labels,omitempty"`
	Annotations MetadataUpdate `json:"annotations,omitempty"`
}

// ContainerUpdate is the change to one container.
type ContainerUpdate struct {
	Name string `json:"name"`
	// Image is the new image, or "" if the image does not change.
	Image string `json:"image,omitempty"`
	// Resources are the new resources, or nil if they do not change; only
	// planned when EligibilityOptions.InPlaceResize is set.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// RestartForEnv: the container reads a changed label or annotation
	// into its environment and is restarted to see the new value.
	RestartForEnv bool `json:"restartForEnv,omitempty"`
}

// MetadataUpdate sets and removes keys of a label or annotation map.
type MetadataUpdate struct {
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// Empty reports whether the update changes nothing.
func (m MetadataUpdate) Empty() bool { return len(m.Set) == 0 && len(m.Remove) == 0 }

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Containers) == 0 && p.Labels.Empty() && p.Annotations.Empty()
}

// ChangesContainers reports whether the plan restarts or resizes any
// container, as opposed to changing metadata only. Metadata-only plans need
// neither the readiness gate flip nor surge pods.
func (p Plan) ChangesContainers() bool { return len(p.Containers) > 0 }

// EligibilityOptions says what the cluster can change in place.
type EligibilityOptions struct {
	// InPlaceResize is true when the cluster supports in-place pod resize
	// (the pods/resize subresource): cpu and memory changes that keep the
	// pod's QoS class then qualify too.
	InPlaceResize bool
}

// Eligible reports whether a pod created from oldT can be turned into one of
// newT in place, and if so, the plan. Only container images, labels,
// annotations and (with InPlaceResize) container cpu/memory may differ;
// containers must keep their names and order. Init containers, volumes and
// everything else force a recreate.
func Eligible(oldT, newT *corev1.PodTemplateSpec, opts EligibilityOptions) (Plan, bool) {
	if len(oldT.Spec.Containers) != len(newT.Spec.Containers) {
		return Plan{}, false
	}
	// Copy the old spec, overwrite what may change in place with the new
	// values, and require the rest to be equal.
	o := oldT.Spec.DeepCopy()
	n := &newT.Spec
	var plan Plan
	for i := range o.Containers {
		oc, nc := &o.Containers[i], &n.Containers[i]
		if oc.Name != nc.Name {
			return Plan{}, false
		}
		var u ContainerUpdate
		if oc.Image != nc.Image {
			u.Image = nc.Image
			oc.Image = nc.Image
		}
		if !apiequality.Semantic.DeepEqual(oc.Resources, nc.Resources) {
			if !opts.InPlaceResize || !resizable(oc.Resources, nc.Resources) {
				return Plan{}, false
			}
			u.Resources = nc.Resources.DeepCopy()
			oc.Resources = *nc.Resources.DeepCopy()
		}
		if u.Image != "" || u.Resources != nil {
			u.Name = nc.Name
			plan.Containers = append(plan.Containers, u)
		}
	}
	if !apiequality.Semantic.DeepEqual(o, n) {
		return Plan{}, false
	}
	if opts.InPlaceResize && qosClass(o) != qosClass(&oldT.Spec) {
		return Plan{}, false // the API server rejects resizes that change QoS
	}
	plan.Labels = diffMetadata(oldT.Labels, newT.Labels)
	plan.Annotations = diffMetadata(oldT.Annotations, newT.Annotations)
	// A changed label or annotation that a container reads into its
	// environment (a downward-API fieldRef) reaches it only if the
	// container restarts: the kubelet sets the environment at start and
	// never restarts a container for a label. A node agent does
	// (containermeta), so the plan restarts such containers; Applicable
	// tells, per pod, whether an agent is there to do it.
	for i := range n.Containers {
		c := &n.Containers[i]
		if !readsChanged(c, containermeta.Labels, plan.Labels) && !readsChanged(c, containermeta.Annotations, plan.Annotations) {
			continue
		}
		if j := slices.IndexFunc(plan.Containers, func(u ContainerUpdate) bool { return u.Name == c.Name }); j >= 0 {
			plan.Containers[j].RestartForEnv = true
		} else {
			plan.Containers = append(plan.Containers, ContainerUpdate{Name: c.Name, RestartForEnv: true})
		}
	}
	slices.SortStableFunc(plan.Containers, func(a, b ContainerUpdate) int {
		return slices.IndexFunc(n.Containers, func(c corev1.Container) bool { return c.Name == a.Name }) -
			slices.IndexFunc(n.Containers, func(c corev1.Container) bool { return c.Name == b.Name })
	})
	return plan, true
}

// RestartsForEnv reports whether the plan restarts a container so that it
// reads changed labels or annotations into its environment.
func (p Plan) RestartsForEnv() bool {
	return slices.ContainsFunc(p.Containers, func(u ContainerUpdate) bool { return u.RestartForEnv })
}

// Applicable reports whether plan can be applied to pod in place. A plan
// that restarts containers for their environment needs a node agent that
// restarts them (one that reports the pod's RuntimeContainerMetaKey) and
// the InPlaceUpdateReady gate that tells the agent an update is under way;
// without them the pod must be recreated.
func Applicable(pod *corev1.Pod, plan Plan) bool {
	if !plan.RestartsForEnv() {
		return true
	}
	_, reported := pod.Annotations[pub.RuntimeContainerMetaKey]
	return reported && HasReadinessGate(pod)
}

// EnvReadsChangedMetadata names the template metadata ("labels" or
// "annotations") whose change a container reads into its environment, or
// "" if none: such a change restarts the container, which only a node
// agent does (Applicable).
func EnvReadsChangedMetadata(oldT, newT *corev1.PodTemplateSpec) string {
	for i := range newT.Spec.Containers {
		c := &newT.Spec.Containers[i]
		switch {
		case readsChanged(c, containermeta.Labels, diffMetadata(oldT.Labels, newT.Labels)):
			return "labels"
		case readsChanged(c, containermeta.Annotations, diffMetadata(oldT.Annotations, newT.Annotations)):
			return "annotations"
		}
	}
	return ""
}

// readsChanged: c's env reads a key of field that u changes.
func readsChanged(c *corev1.Container, field string, u MetadataUpdate) bool {
	for k := range u.Set {
		if containermeta.Reads(c, field, k) {
			return true
		}
	}
	for _, k := range u.Remove {
		if containermeta.Reads(c, field, k) {
			return true
		}
	}
	return false
}

// resizable: only cpu and memory may be resized in place.
func resizable(o, n corev1.ResourceRequirements) bool {
	return onlyCPUMemoryDiffer(o.Requests, n.Requests) && onlyCPUMemoryDiffer(o.Limits, n.Limits) &&
		apiequality.Semantic.DeepEqual(o.Claims, n.Claims)
}

func onlyCPUMemoryDiffer(o, n corev1.ResourceList) bool {
	for _, k := range slices.Concat(slices.Collect(maps.Keys(o)), slices.Collect(maps.Keys(n))) {
		if k == corev1.ResourceCPU || k == corev1.ResourceMemory {
			continue
		}
		ov, ook := o[k]
		nv, nok := n[k]
		if ook != nok || ov.Cmp(nv) != 0 {
			return false
		}
	}
	return true
}

// qosClass follows the kubelet's rules on cpu and memory (the only resources
// QoS considers). Written here because the upstream helper lives in
// k8s.io/kubernetes, which only internal/components may link.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed, set := true, false
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			r, rok := c.Resources.Requests[name]
			l, lok := c.Resources.Limits[name]
			if rok && !r.IsZero() {
				set = true
				add(requests, name, r)
			}
			if lok && !l.IsZero() {
				set = true
				add(limits, name, l)
			} else {
				guaranteed = false
			}
			if rok && lok && r.Cmp(l) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !set:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	default:
		return corev1.PodQOSBurstable
	}
}

func add(list corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	sum := list[name]
	sum.Add(q)
	list[name] = sum
}

func diffMetadata(o, n map[string]string) MetadataUpdate {
	var u MetadataUpdate
	for k, v := range n {
		if ov, ok := o[k]; !ok || ov != v {
			if u.Set == nil {
				u.Set = map[string]string{}
			}
			u.Set[k] = v
		}
	}
	for k := range o {
		if _, ok := n[k]; !ok {
			u.Remove = append(u.Remove, k)
		}
	}
	slices.Sort(u.Remove)
	return u
}
