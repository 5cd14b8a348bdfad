package core

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// affinityTerm is a parsed v1.PodAffinityTerm, as kube's fwk.AffinityTerm.
type affinityTerm struct {
	namespaces  map[string]struct{}
	nsSelector  labels.Selector
	selector    labels.Selector
	topologyKey string
}

// matches reports whether pod (in a namespace with nsLabels) is selected by
// the term, exactly as fwk.AffinityTerm.Matches.
func (t *affinityTerm) matches(pod *v1.Pod, nsLabels labels.Set) bool {
	_, inNS := t.namespaces[pod.Namespace]
	if inNS || t.nsSelector.Matches(nsLabels) {
		return t.selector.Matches(labels.Set(pod.Labels))
	}
	return false
}

type weightedTerm struct {
	affinityTerm
	weight int64
}

func newAffinityTerm(pod *v1.Pod, term *v1.PodAffinityTerm) (affinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return affinityTerm{}, err
	}
	nsSel, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
	if err != nil {
		return affinityTerm{}, err
	}
	ns := make(map[string]struct{}, 1)
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		ns[pod.Namespace] = struct{}{}
	}
	for _, n := range term.Namespaces {
		ns[n] = struct{}{}
	}
	return affinityTerm{namespaces: ns, nsSelector: nsSel, selector: sel, topologyKey: term.TopologyKey}, nil
}

func parseTerms(pod *v1.Pod, terms []v1.PodAffinityTerm) ([]affinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func parseWeighted(pod *v1.Pod, terms []v1.WeightedPodAffinityTerm) ([]weightedTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]weightedTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i].PodAffinityTerm)
		if err != nil {
			return nil, err
		}
		out = append(out, weightedTerm{affinityTerm: t, weight: int64(terms[i].Weight)})
	}
	return out, nil
}

// PodInfo is a pod with everything the filters need precomputed once, so the
// per-node path never parses selectors or sums container requests.
type PodInfo struct {
	Pod *v1.Pod
	// Key identifies the pod across updates: UID, else namespace/name.
	Key        string
	Requests   Resource
	NonZeroCPU int64
	NonZeroMem int64
	HostPorts  []v1.ContainerPort

	requiredAffinity      []affinityTerm
	requiredAntiAffinity  []affinityTerm
	preferredAffinity     []weightedTerm
	preferredAntiAffinity []weightedTerm
	parseErr              error

	nodeName string
	assumed  bool
	// preempted: chosen as a victim by this scheduler; its deletion may not
	// be visible yet.
	preempted bool
}

// PodKey returns the identity Snapshot uses for a pod.
func PodKey(pod *v1.Pod) string {
	if pod.UID != "" {
		return string(pod.UID)
	}
	return pod.Namespace + "/" + pod.Name
}

// NewPodInfo precomputes a pod's scheduling facts. assigned selects kube's
// NodeInfo accounting (status resources count) over the PreFilter view.
func NewPodInfo(pod *v1.Pod, assigned bool) *PodInfo {
	pi := &PodInfo{Pod: pod, Key: PodKey(pod), HostPorts: hostPorts(pod)}
	pi.Requests, pi.NonZeroCPU, pi.NonZeroMem = podRequests(pod, assigned)
	if a := pod.Spec.Affinity; a != nil {
		var err error
		if a.PodAffinity != nil {
			if pi.requiredAffinity, err = parseTerms(pod, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
				pi.parseErr = err
			}
			if pi.preferredAffinity, err = parseWeighted(pod, a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
				pi.parseErr = err
			}
		}
		if a.PodAntiAffinity != nil {
			if pi.requiredAntiAffinity, err = parseTerms(pod, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
				pi.parseErr = err
			}
			if pi.preferredAntiAffinity, err = parseWeighted(pod, a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
				pi.parseErr = err
			}
		}
	}
	return pi
}

// nodeLocalPodInfo is the PodInfo an equivalence class shares: pod
// (anti-)affinity terms are left out, because the class key leaves them out
// (they only feed the cross-node filters, computed per pod) and one pod's
// terms must never be read as another's.
func nodeLocalPodInfo(pod *v1.Pod) *PodInfo {
	if a := pod.Spec.Affinity; a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil) {
		cp := *pod
		na := *a
		na.PodAffinity, na.PodAntiAffinity = nil, nil
		cp.Spec.Affinity = &na
		pod = &cp
	}
	return NewPodInfo(pod, false)
}

func (pi *PodInfo) hasAnyAffinity() bool {
	return len(pi.requiredAffinity)+len(pi.requiredAntiAffinity)+len(pi.preferredAffinity)+len(pi.preferredAntiAffinity) > 0
}

// hostPorts mirrors schedutil.GetHostPorts: restartable (sidecar) init
// containers run for the pod's lifetime, so their ports count too.
func hostPorts(pod *v1.Pod) []v1.ContainerPort {
	var ports []v1.ContainerPort
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways {
			continue
		}
		for _, p := range c.Ports {
			if p.HostPort > 0 {
				ports = append(ports, p)
			}
		}
	}
	for i := range pod.Spec.Containers {
		for _, p := range pod.Spec.Containers[i].Ports {
			if p.HostPort > 0 {
				ports = append(ports, p)
			}
		}
	}
	return ports
}

// podMatchesAllTerms mirrors kube: a pod counts toward affinity only if it
// matches every required term; terms of the incoming pod have their
// namespace selectors already resolved into namespaces, hence nil labels.
func podMatchesAllTerms(terms []affinityTerm, pod *v1.Pod) bool {
	if len(terms) == 0 {
		return false
	}
	for i := range terms {
		if !terms[i].matches(pod, nil) {
			return false
		}
	}
	return true
}
