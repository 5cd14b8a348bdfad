package core

import (
	"container/list"

	"k8s.io/apimachinery/pkg/labels"
)

// selectorCount is, for one (namespace, selector), how many pods of that
// namespace the selector matches on each node, terminating pods excluded:
// kube's countPodsMatchSelector, kept current instead of recomputed.
type selectorCount struct {
	ns  string
	sel labels.Selector
	key string
	// all counts terminating pods too, as kube's inter-pod affinity does
	// (topology spreading does not).
	all     bool
	perNode map[*NodeInfo]int // placeholders included; only nodes with matches
	elem    *list.Element
}

// selectorCounts holds a bounded LRU of selectorCounts, updated on every
// pod added to or removed from the snapshot.
//
// Why incremental: system-default spreading applies to nearly every pod of a
// Deployment or StatefulSet, and each decision needs the count of the
// workload's pods per node and per zone. Recounting means matching every pod
// of the namespace per decision (kube does, in parallel); at 10^5 pods that
// would dwarf the rest of a decision. Here a pod event costs one selector
// match per counted selector of its namespace (at most max), and a decision
// reads counts for only the nodes that hold the workload's pods.
type selectorCounts struct {
	max   int
	byKey map[string]*selectorCount
	byNS  map[string]map[*selectorCount]struct{}
	lru   *list.List
}

func newSelectorCounts(max int) *selectorCounts {
	return &selectorCounts{max: max, byKey: map[string]*selectorCount{}, byNS: map[string]map[*selectorCount]struct{}{}, lru: list.New()}
}

// get returns the counts for (ns, sel), terminating pods counted if all,
// counting the namespace's pods once on first use.
func (c *selectorCounts) get(s *Snapshot, ns string, sel labels.Selector, all bool) *selectorCount {
	key := ns + "\x00" + sel.String()
	if all {
		key = "all\x00" + key
	}
	if sc := c.byKey[key]; sc != nil {
		c.lru.MoveToFront(sc.elem)
		return sc
	}
	sc := &selectorCount{ns: ns, sel: sel, key: key, all: all, perNode: map[*NodeInfo]int{}}
	for _, pi := range s.podsByNamespace[ns] {
		if sc.counts(pi) {
			sc.perNode[s.byName[pi.nodeName]]++
		}
	}
	sc.elem = c.lru.PushFront(sc)
	c.byKey[key] = sc
	if c.byNS[ns] == nil {
		c.byNS[ns] = map[*selectorCount]struct{}{}
	}
	c.byNS[ns][sc] = struct{}{}
	for c.lru.Len() > c.max {
		old := c.lru.Remove(c.lru.Back()).(*selectorCount)
		delete(c.byKey, old.key)
		delete(c.byNS[old.ns], old)
		if len(c.byNS[old.ns]) == 0 {
			delete(c.byNS, old.ns)
		}
	}
	return sc
}

// account adds (delta 1) or removes (delta -1) pod pi on node n.
func (c *selectorCounts) account(pi *PodInfo, n *NodeInfo, delta int) {
	for sc := range c.byNS[pi.Pod.Namespace] {
		if !sc.counts(pi) {
			continue
		}
		if v := sc.perNode[n] + delta; v > 0 {
			sc.perNode[n] = v
		} else {
			delete(sc.perNode, n)
		}
	}
}

// counts mirrors kube: for spreading, pods being deleted no longer count
// (kubernetes#87621); for inter-pod affinity they do.
func (sc *selectorCount) counts(pi *PodInfo) bool {
	return (sc.all || pi.Pod.DeletionTimestamp == nil) && sc.sel.Matches(labels.Set(pi.Pod.Labels))
}
