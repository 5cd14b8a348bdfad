package core

import (
	"container/list"
	"encoding/json"
	"hash/fnv"

	v1 "k8s.io/api/core/v1"
)

// ClassKey identifies an equivalence class: pods whose node-local
// scheduling inputs are identical. 128-bit FNV makes a collision (which would
// silently share a wrong answer) negligible at any realistic class count.
type ClassKey [16]byte

// classSpec is exactly the input of the node-local filters and scores. Names,
// UIDs, labels and namespace are left out on purpose: they only feed the
// cluster-wide filters, which are recomputed per pod, so a StatefulSet's
// uniquely-labelled replicas still share one class. (The scheduler adds the
// pod's system-default spreading selector, which Services and controllers
// derive from labels and namespace: see classKey.)
type classSpec struct {
	NodeName     string                   `json:"n,omitempty"`
	NodeSelector map[string]string        `json:"s,omitempty"`
	NodeAffinity *v1.NodeAffinity         `json:"a,omitempty"`
	Tolerations  []v1.Toleration          `json:"t,omitempty"`
	Overhead     v1.ResourceList          `json:"o,omitempty"`
	PodResources *v1.ResourceRequirements `json:"r,omitempty"`
	Containers   []classContainer         `json:"c,omitempty"`
	Init         []classContainer         `json:"i,omitempty"`
	Images       []string                 `json:"m,omitempty"` // ImageLocality
}

type classContainer struct {
	Requests v1.ResourceList            `json:"r,omitempty"`
	Limits   v1.ResourceList            `json:"l,omitempty"` // requests default from limits
	Ports    []v1.ContainerPort         `json:"p,omitempty"`
	Restart  *v1.ContainerRestartPolicy `json:"x,omitempty"`
}

// ClassOf returns the equivalence class of a pod's node-local inputs.
func ClassOf(pod *v1.Pod) ClassKey { return classKey(pod, nil, nil) }

// classKey is ClassOf plus the pod's system-default spreading: pods whose
// siblings differ (other Services, another controller, another namespace)
// get different classes, so a class's spreading is every member's. A
// change to a Service or controller changes the key of the pods it
// affects, so no class is ever stale; old ones age out of the LRU.
func classKey(pod *v1.Pod, spread *defaultSpread, delegated []v1.ResourceName) ClassKey {
	spec := classSpec{
		NodeName:     pod.Spec.NodeName,
		NodeSelector: pod.Spec.NodeSelector,
		Tolerations:  pod.Spec.Tolerations,
		Overhead:     pod.Spec.Overhead,
		PodResources: pod.Spec.Resources,
	}
	if a := pod.Spec.Affinity; a != nil {
		spec.NodeAffinity = a.NodeAffinity
	}
	for _, c := range pod.Spec.Containers {
		spec.Containers = append(spec.Containers, classContainer{Requests: c.Resources.Requests, Limits: c.Resources.Limits, Ports: c.Ports})
	}
	for _, c := range pod.Spec.InitContainers {
		spec.Init = append(spec.Init, classContainer{Requests: c.Resources.Requests, Limits: c.Resources.Limits, Ports: c.Ports, Restart: c.RestartPolicy})
	}
	spec.Images = podImages(pod)
	b, _ := json.Marshal(spec) // maps marshal with sorted keys: canonical
	h := fnv.New128a()
	h.Write(b)
	if spread != nil {
		h.Write([]byte{0}) // JSON never contains NUL: no ambiguity
		h.Write([]byte(spread.key))
	}
	for _, name := range delegated {
		h.Write([]byte{1}) // nor SOH, and a spread key has none either
		h.Write([]byte(name))
	}
	var k ClassKey
	h.Sum(k[:0])
	return k
}

// cacheEntry is one (class, node) result, valid while the node's generation
// equals gen (scores: and imgEpoch the class's image epoch). Scores are raw
// node-local values (normalization needs the candidate set, so it happens
// per decision).
//
// Packed into 32 bytes (the LRU holds one per class and node, and every
// candidate of a decision copies one): the plugin scores are 0..100.
type cacheEntry struct {
	gen                  uint64
	reason               int32 // 0 feasible, else index into Scheduler.reasons
	imgEpoch             uint32
	naRaw                int32
	taintRaw             uint16 // untolerated PreferNoSchedule taints
	fit, balanced, image uint8
	scored               bool
}

type class struct {
	key     ClassKey
	facts   *nodeFacts
	images  *classImages
	spread  *defaultSpread // nil: no system-default spreading
	entries []cacheEntry   // by node slot
	// naMemo[slot] is labelGen<<1 | matches, for requiredNAMatches.
	naMemo []uint64
	// transient: built for one decision (equivalence off, or a pinned
	// pod), so memos and the per-node cache would only cost.
	transient bool
	elem      *list.Element
}

// requiredNAMatches is the class's required node affinity on a listed
// node, remembered until the node's labels change: system-default
// spreading asks it for every node holding a sibling, every decision.
func (cl *class) requiredNAMatches(n *NodeInfo) bool {
	if !cl.facts.hasRequiredNA {
		return true
	}
	if cl.transient {
		ok, _ := cl.facts.requiredNA.Match(n.Node)
		return ok
	}
	if n.slot >= len(cl.naMemo) {
		cl.naMemo = append(cl.naMemo, make([]uint64, n.slot+1-len(cl.naMemo))...)
	}
	if m := cl.naMemo[n.slot]; m>>1 == n.labelGen {
		return m&1 == 1
	}
	ok, _ := cl.facts.requiredNA.Match(n.Node)
	m := n.labelGen << 1
	if ok {
		m |= 1
	}
	cl.naMemo[n.slot] = m
	return ok
}

func newClass(key ClassKey, pod *v1.Pod, spread *defaultSpread, delegated []v1.ResourceName) *class {
	f := newNodeFacts(pod, nodeLocalPodInfo(pod))
	f.delegated = delegated
	return &class{key: key, facts: f, images: newClassImages(pod), spread: spread}
}

// classCache is an LRU of classes. Memory is bounded by maxClasses x nodes x
// sizeof(cacheEntry) (32 B): 64 classes at 50k nodes is ~100 MB worst case,
// reached only if 64 distinct workloads are all pending at once (plus 8 B
// per node of naMemo for classes with node affinity spread by default).
type classCache struct {
	max     int
	byKey   map[ClassKey]*class
	lru     *list.List
	evicted uint64
}

func newClassCache(max int) *classCache {
	return &classCache{max: max, byKey: make(map[ClassKey]*class), lru: list.New()}
}

func (c *classCache) get(key ClassKey) *class {
	cl := c.byKey[key]
	if cl != nil {
		c.lru.MoveToFront(cl.elem)
	}
	return cl
}

func (c *classCache) add(cl *class) {
	cl.elem = c.lru.PushFront(cl)
	c.byKey[cl.key] = cl
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.byKey, old.Value.(*class).key)
		c.evicted++
	}
}

func (cl *class) entry(slot int) *cacheEntry {
	if slot >= len(cl.entries) {
		grown := make([]cacheEntry, slot+1, max(slot+1, 2*len(cl.entries)))
		copy(grown, cl.entries)
		cl.entries = grown[:cap(grown)]
	}
	return &cl.entries[slot]
}
