package core

import (
	"math"

	v1 "k8s.io/api/core/v1"
)

// systemDefaultSpread is kube's PodTopologySpread defaulting "System": a pod
// without topologySpreadConstraints of its own is spread softly over hosts
// (maxSkew 3) and zones (maxSkew 5) among its siblings (workloads.go). Both
// are ScheduleAnyway, so they only score, with the API defaults
// nodeAffinityPolicy Honor and nodeTaintsPolicy Ignore.
var systemDefaultSpread = [...]struct {
	key     string
	maxSkew int32
}{{v1.LabelHostname, 3}, {v1.LabelTopologyZone, 5}}

// defaultSpreadFor returns the pod's system-default spreading, or nil when
// kube would not apply it: the pod has constraints of its own, spreading is
// not scored, or no Service or controller gives it siblings.
func (sc *Scheduler) defaultSpreadFor(pod *v1.Pod) *defaultSpread {
	if sc.cfg.Weights.TopologySpread == 0 || len(pod.Spec.TopologySpreadConstraints) > 0 {
		return nil
	}
	return sc.workloads.defaultSpreadOf(pod)
}

// setSpreadTopology records what defaultSpreadScores reads of a node, so
// that scoring thousands of candidates reads no label maps.
func (s *Snapshot) setSpreadTopology(n *NodeInfo) {
	zone, ok := n.Node.Labels[systemDefaultSpread[1].key]
	n.hasZone = ok
	_, n.hasHostname = n.Node.Labels[systemDefaultSpread[0].key]
	id, known := s.zoneIDs[zone]
	if !known {
		id = int32(len(s.zoneIDs))
		s.zoneIDs[zone] = id
	}
	n.zone = id
}

// defaultSpreadScores is PodTopologySpread's score with the system
// defaults. Unlike a pod's own constraints, kube does not require nodes to
// carry every topology key here: a node without a zone label is still
// spread by hostname, its zone term simply absent, and nodes without the
// label form one "" domain when domains are counted.
func (sc *Scheduler) defaultSpreadScores(cl *class, cands []candidate, out []int64) {
	d := cl.spread
	s := sc.snap
	counts := s.counts.get(s, d.ns, d.sel, false)
	// Zone counts come from every node the pod's required node affinity
	// admits (policy Honor), found through the nodes that hold siblings:
	// O(those nodes), not O(all nodes).
	zones := make([]int64, len(s.zoneIDs))
	for n, c := range counts.perNode {
		if n.Node != nil && cl.requiredNAMatches(n) {
			zones[n.zone] += int64(c)
		}
	}
	seen := make([]bool, len(s.zoneIDs))
	domains := 0
	for _, c := range cands {
		if !seen[c.n.zone] {
			seen[c.n.zone] = true
			domains++
		}
	}
	hostWeight := math.Log(float64(len(cands) + 2))
	zoneWeight := math.Log(float64(domains + 2))
	raw := make([]int64, len(cands))
	for i, c := range cands {
		var score float64
		if c.n.hasHostname {
			score += spreadScoreForCount(int64(counts.perNode[c.n]), systemDefaultSpread[0].maxSkew, hostWeight)
		}
		if c.n.hasZone {
			score += spreadScoreForCount(zones[c.n.zone], systemDefaultSpread[1].maxSkew, zoneWeight)
		}
		raw[i] = int64(math.Round(score))
	}
	sc.addSpreadScores(raw, nil, out)
}

// spreadScoreForCount is one constraint's raw score on a node: matching
// pods in its domain weighted by log(domains + 2), plus maxSkew - 1 so that
// small skews matter less.
func spreadScoreForCount(count int64, maxSkew int32, weight float64) float64 {
	return float64(count)*weight + float64(maxSkew-1)
}

// addSpreadScores is PodTopologySpread.NormalizeScore, weighted into out:
// fewer matching pods scores higher; ignored nodes (missing a topology key
// of the pod's own constraints) score 0.
func (sc *Scheduler) addSpreadScores(raw []int64, ignored []bool, out []int64) {
	lo, hi := int64(math.MaxInt64), int64(0)
	for i, v := range raw {
		if ignored != nil && ignored[i] {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	for i, v := range raw {
		if ignored != nil && ignored[i] {
			continue
		}
		n := int64(maxNodeScore)
		if hi > 0 {
			n = maxNodeScore * (hi + lo - v) / hi
		}
		out[i] += sc.cfg.Weights.TopologySpread * n
	}
}
