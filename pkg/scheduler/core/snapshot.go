package core

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Snapshot is the scheduler's view of the cluster. Every mutation is
// incremental (O(labels) or O(1) per change), never a rebuild per pod, and
// bumps the generation of exactly the nodes it touches.
//
// Indexes, each there because a hot path would otherwise scan every node:
//   - byName: nodes by name (Assume, AddPod, nodeName pods);
//   - nodes: dense slice by slot, the source the sampler rotates over;
//   - byTopology: label key -> value -> nodes, so spread constraints find
//     their domains without visiting all nodes;
//   - podsByNamespace: inter-pod affinity and spread count matching pods in
//     the relevant namespaces only;
//   - antiAffinityPods / affinityPods: existing pods whose terms can reject or
//     score the incoming pod (kube's HavePodsWithRequiredAntiAffinityList);
//   - imageNodes: how many nodes hold each image name (ImageLocality's
//     spread factor);
//   - counts: matching pods per node for the few selectors of system-default
//     topology spreading in use (see selector_counts.go).
//
// A Snapshot is not safe for concurrent use; Scheduler serializes access.
type Snapshot struct {
	nodes            []*NodeInfo
	byName           map[string]*NodeInfo
	byTopology       map[string]map[string]map[*NodeInfo]struct{}
	pods             map[string]*PodInfo
	podsByNamespace  map[string]map[string]*PodInfo
	antiAffinityPods map[string]*PodInfo
	affinityPods     map[string]*PodInfo
	namespaces       map[string]labels.Set
	imageNodes       map[string]int
	counts           *selectorCounts
	zoneIDs          map[string]int32 // zone label value -> NodeInfo.zone

	generation uint64
	// antiAffinityEpoch changes whenever the answer to "which existing pods'
	// required anti-affinity could reject a pod, and where" may change: a pod
	// with such terms comes or goes, or a node holding one changes labels.
	antiAffinityEpoch uint64
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{
		byName:           make(map[string]*NodeInfo),
		byTopology:       make(map[string]map[string]map[*NodeInfo]struct{}),
		pods:             make(map[string]*PodInfo),
		podsByNamespace:  make(map[string]map[string]*PodInfo),
		antiAffinityPods: make(map[string]*PodInfo),
		affinityPods:     make(map[string]*PodInfo),
		namespaces:       make(map[string]labels.Set),
		imageNodes:       make(map[string]int),
		counts:           newSelectorCounts(defaultMaxClasses),
		zoneIDs:          map[string]int32{"": 0},
	}
}

func (s *Snapshot) nextGen() uint64 { s.generation++; return s.generation }

// NumNodes is the number of nodes (placeholders excluded).
func (s *Snapshot) NumNodes() int { return len(s.nodes) }

// Get returns a node by name, or nil.
func (s *Snapshot) Get(name string) *NodeInfo {
	n := s.byName[name]
	if n == nil || n.Node == nil {
		return nil
	}
	return n
}

// Nodes returns the nodes in slot order. The slice is owned by the snapshot.
func (s *Snapshot) Nodes() []*NodeInfo { return s.nodes }

// Pod returns the pod with key, or nil.
func (s *Snapshot) Pod(key string) *PodInfo { return s.pods[key] }

// SetNamespace records a namespace's labels for namespaceSelector terms.
func (s *Snapshot) SetNamespace(ns *v1.Namespace) {
	s.namespaces[ns.Name] = labels.Set(ns.Labels)
	s.antiAffinityEpoch++
}

// RemoveNamespace forgets a namespace's labels.
func (s *Snapshot) RemoveNamespace(name string) {
	delete(s.namespaces, name)
	s.antiAffinityEpoch++
}

// UpdateNode adds or replaces a node. Pods already recorded for it stay.
func (s *Snapshot) UpdateNode(node *v1.Node) {
	n := s.byName[node.Name]
	if n == nil {
		n = &NodeInfo{slot: -1}
		s.byName[node.Name] = n
	}
	if n.Node != nil {
		s.unindexTopology(n)
		s.unindexImages(n)
	}
	if n.slot < 0 {
		n.slot = len(s.nodes)
		s.nodes = append(s.nodes, n)
	}
	if n.Node == nil || !labels.Equals(n.Node.Labels, node.Labels) {
		n.labelGen = s.generation + 1 // the generation set below
	}
	n.Node = node
	n.Allocatable = NewResource(node.Status.Allocatable)
	n.Generation = s.nextGen()
	s.indexTopology(n)
	s.indexImages(n)
	s.setSpreadTopology(n)
	s.antiAffinityEpoch++
}

// RemoveNode removes a node. Its pods stay on a placeholder until they are
// removed, as in kube's cache, so a re-added node gets them back.
func (s *Snapshot) RemoveNode(name string) {
	n := s.byName[name]
	if n == nil || n.Node == nil {
		return
	}
	s.unindexTopology(n)
	s.unindexImages(n)
	last := len(s.nodes) - 1
	s.nodes[n.slot] = s.nodes[last]
	s.nodes[n.slot].slot = n.slot
	s.nodes[last] = nil
	s.nodes = s.nodes[:last]
	n.slot = -1
	n.Node = nil
	n.Generation = s.nextGen()
	if len(n.Pods) == 0 {
		delete(s.byName, name)
	}
	s.antiAffinityEpoch++
}

func (s *Snapshot) indexTopology(n *NodeInfo) {
	for k, v := range n.Node.Labels {
		vals := s.byTopology[k]
		if vals == nil {
			vals = make(map[string]map[*NodeInfo]struct{})
			s.byTopology[k] = vals
		}
		set := vals[v]
		if set == nil {
			set = make(map[*NodeInfo]struct{})
			vals[v] = set
		}
		set[n] = struct{}{}
	}
}

func (s *Snapshot) unindexTopology(n *NodeInfo) {
	for k, v := range n.Node.Labels {
		if set := s.byTopology[k][v]; set != nil {
			delete(set, n)
			if len(set) == 0 {
				delete(s.byTopology[k], v)
				if len(s.byTopology[k]) == 0 {
					delete(s.byTopology, k)
				}
			}
		}
	}
}

// AddPod records a pod on pod.Spec.NodeName. A pod already known by key
// (e.g. one this scheduler assumed) is replaced, never counted twice.
func (s *Snapshot) AddPod(pod *v1.Pod) error {
	if pod.Spec.NodeName == "" {
		return fmt.Errorf("add pod %s/%s: not assigned to a node", pod.Namespace, pod.Name)
	}
	s.addPodInfo(NewPodInfo(pod, true), pod.Spec.NodeName, false)
	return nil
}

func (s *Snapshot) addPodInfo(pi *PodInfo, nodeName string, assumed bool) {
	if old := s.pods[pi.Key]; old != nil {
		s.removePodInfo(old)
	}
	pi.nodeName = nodeName
	pi.assumed = assumed
	n := s.byName[nodeName]
	if n == nil {
		n = &NodeInfo{slot: -1}
		s.byName[nodeName] = n
	}
	n.addPod(pi, s.nextGen())
	s.counts.account(pi, n, 1)
	s.pods[pi.Key] = pi
	ns := s.podsByNamespace[pi.Pod.Namespace]
	if ns == nil {
		ns = make(map[string]*PodInfo)
		s.podsByNamespace[pi.Pod.Namespace] = ns
	}
	ns[pi.Key] = pi
	if len(pi.requiredAntiAffinity) > 0 {
		s.antiAffinityPods[pi.Key] = pi
		s.antiAffinityEpoch++
	}
	if pi.hasAnyAffinity() {
		s.affinityPods[pi.Key] = pi
	}
}

// RemovePod forgets a pod (bound or assumed).
func (s *Snapshot) RemovePod(pod *v1.Pod) {
	if pi := s.pods[PodKey(pod)]; pi != nil {
		s.removePodInfo(pi)
	}
}

func (s *Snapshot) removePodInfo(pi *PodInfo) {
	delete(s.pods, pi.Key)
	if ns := s.podsByNamespace[pi.Pod.Namespace]; ns != nil {
		delete(ns, pi.Key)
		if len(ns) == 0 {
			delete(s.podsByNamespace, pi.Pod.Namespace)
		}
	}
	if _, ok := s.antiAffinityPods[pi.Key]; ok {
		delete(s.antiAffinityPods, pi.Key)
		s.antiAffinityEpoch++
	}
	delete(s.affinityPods, pi.Key)
	if n := s.byName[pi.nodeName]; n != nil {
		if n.removePod(pi, s.nextGen()) {
			s.counts.account(pi, n, -1)
		}
		if n.Node == nil && len(n.Pods) == 0 {
			delete(s.byName, pi.nodeName)
		}
	}
}

// nodeOf returns the listed node a pod sits on, or nil.
func (s *Snapshot) nodeOf(pi *PodInfo) *NodeInfo {
	n := s.byName[pi.nodeName]
	if n == nil || n.Node == nil {
		return nil
	}
	return n
}
