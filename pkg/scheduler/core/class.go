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
// uniquely-labelled replicas still share one class.
type classSpec struct {
	NodeName     string                   `json:"n,omitempty"`
	NodeSelector map[string]string        `json:"s,omitempty"`
	NodeAffinity *v1.NodeAffinity         `json:"a,omitempty"`
	Tolerations  []v1.Toleration          `json:"t,omitempty"`
	Overhead     v1.ResourceList          `json:"o,omitempty"`
	PodResources *v1.ResourceRequirements `json:"r,omitempty"`
	Containers   []classContainer         `json:"c,omitempty"`
	Init         []classContainer         `json:"i,omitempty"`
}

type classContainer struct {
	Requests v1.ResourceList            `json:"r,omitempty"`
	Limits   v1.ResourceList            `json:"l,omitempty"` // requests default from limits
	Ports    []v1.ContainerPort         `json:"p,omitempty"`
	Restart  *v1.ContainerRestartPolicy `json:"x,omitempty"`
}

// ClassOf returns the equivalence class of a pod.
func ClassOf(pod *v1.Pod) ClassKey {
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
	b, _ := json.Marshal(spec) // maps marshal with sorted keys: canonical
	h := fnv.New128a()
	h.Write(b)
	var k ClassKey
	h.Sum(k[:0])
	return k
}

// cacheEntry is one (class, node) result, valid while the node's generation
// equals gen. Scores are raw node-local values (normalization needs the
// candidate set, so it happens per decision).
type cacheEntry struct {
	gen      uint64
	reason   int32 // 0 feasible, else index into Scheduler.reasons
	scored   bool
	fit      int32
	balanced int32
	naRaw    int32
	taintRaw int32
}

type class struct {
	key     ClassKey
	facts   *nodeFacts
	entries []cacheEntry // by node slot
	elem    *list.Element
}

// classCache is an LRU of classes. Memory is bounded by maxClasses x nodes x
// sizeof(cacheEntry) (32 B): 64 classes at 50k nodes is ~100 MB worst case,
// reached only if 64 distinct workloads are all pending at once.
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
