package core

import (
	"math"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
)

const maxNodeScore = 100

// ScoringStrategy picks NodeResourcesFit's scorer.
type ScoringStrategy int

const (
	// LeastAllocated spreads load (kube's default).
	LeastAllocated ScoringStrategy = iota
	// MostAllocated bin-packs.
	MostAllocated
)

// Weights are the score plugin weights; DefaultWeights are kube's.
type Weights struct {
	Fit, Balanced, NodeAffinity, TaintToleration, InterPodAffinity, TopologySpread, ImageLocality int64
}

// DefaultWeights returns kube-scheduler's default plugin weights.
func DefaultWeights() Weights {
	return Weights{Fit: 1, Balanced: 1, NodeAffinity: 2, TaintToleration: 3, InterPodAffinity: 2, TopologySpread: 2, ImageLocality: 1}
}

// nodeScores fills the node-local raw scores of a feasible node: they depend
// only on (class, node generation) — and for ImageLocality on the class's
// image epoch — so they are cached alongside feasibility.
func (sc *Scheduler) nodeScores(cl *class, n *NodeInfo, e *cacheEntry) {
	f := cl.facts
	e.image, e.imgEpoch = 0, cl.images.epoch
	if sc.cfg.Weights.ImageLocality != 0 {
		e.image = uint8(sc.snap.imageScore(cl.images, n))
	}
	e.fit = uint8(sc.fitScore(f.pi, n))
	e.balanced = uint8(balancedScore(f.pi, n))
	e.naRaw = 0
	if f.preferredNA != nil {
		e.naRaw = int32(f.preferredNA.Score(n.Node))
	}
	e.taintRaw = uint16(min(countIntolerablePreferNoSchedule(n.Node.Spec.Taints, f.tolerations), math.MaxUint16))
	e.scored = true
}

func (sc *Scheduler) requestedAfter(pi *PodInfo, n *NodeInfo, name v1.ResourceName, nonZero bool) (alloc, req int64) {
	switch name {
	case v1.ResourceCPU:
		if nonZero {
			return n.Allocatable.MilliCPU, n.NonZeroCPU + pi.NonZeroCPU
		}
		return n.Allocatable.MilliCPU, n.Requested.MilliCPU + pi.Requests.MilliCPU
	case v1.ResourceMemory:
		if nonZero {
			return n.Allocatable.Memory, n.NonZeroMem + pi.NonZeroMem
		}
		return n.Allocatable.Memory, n.Requested.Memory + pi.Requests.Memory
	case v1.ResourceEphemeralStorage:
		return n.Allocatable.EphemeralStorage, n.Requested.EphemeralStorage + pi.Requests.EphemeralStorage
	default:
		return n.Allocatable.Scalar[name], n.Requested.Scalar[name] + pi.Requests.Scalar[name]
	}
}

// fitScore is NodeResourcesFit's LeastAllocated/MostAllocated score over the
// configured resources (non-zero requests for cpu/memory, as kube).
func (sc *Scheduler) fitScore(pi *PodInfo, n *NodeInfo) int64 {
	var total, weights int64
	for _, rw := range sc.resourceWeights {
		alloc, req := sc.requestedAfter(pi, n, rw.name, true)
		if alloc == 0 || (isScalarResource(rw.name) && pi.Requests.Scalar[rw.name] == 0) {
			continue
		}
		var s int64
		if sc.cfg.Strategy == MostAllocated {
			s = min(req, alloc) * maxNodeScore / alloc
		} else if req <= alloc {
			s = (alloc - req) * maxNodeScore / alloc
		}
		total += s * rw.weight
		weights += rw.weight
	}
	if weights == 0 {
		return 0
	}
	return total / weights
}

// balancedScore is BalancedAllocation (kube 1.37): it rewards the change
// in balance the pod brings, 50 + (50 + balance after - balance before) / 2,
// where balance is 100 x (1 - std dev of the cpu and memory utilization
// fractions). Pods requesting neither score 0 everywhere (kube skips them).
func balancedScore(pi *PodInfo, n *NodeInfo) int64 {
	if pi.Requests.MilliCPU == 0 && pi.Requests.Memory == 0 {
		return 0
	}
	with := balance(n.Allocatable.MilliCPU, n.Requested.MilliCPU+pi.Requests.MilliCPU, n.Allocatable.Memory, n.Requested.Memory+pi.Requests.Memory)
	without := balance(n.Allocatable.MilliCPU, n.Requested.MilliCPU, n.Allocatable.Memory, n.Requested.Memory)
	return maxNodeScore/2 + (maxNodeScore/2+with-without)/2
}

func balance(allocCPU, reqCPU, allocMem, reqMem int64) int64 {
	var fr [2]float64
	k := 0
	for _, r := range [...]struct{ alloc, req int64 }{{allocCPU, reqCPU}, {allocMem, reqMem}} {
		if r.alloc == 0 {
			continue
		}
		fr[k] = math.Min(1, float64(r.req)/float64(r.alloc))
		k++
	}
	std := 0.0
	if k == 2 {
		std = math.Abs((fr[0] - fr[1]) / 2)
	}
	return int64((1 - std) * maxNodeScore)
}

func countIntolerablePreferNoSchedule(taints []v1.Taint, tolerations []v1.Toleration) int {
	if len(taints) == 0 {
		return 0
	}
	var prefer []v1.Toleration
	for _, t := range tolerations {
		if t.Effect == "" || t.Effect == v1.TaintEffectPreferNoSchedule {
			prefer = append(prefer, t)
		}
	}
	c := 0
	for i := range taints {
		if taints[i].Effect != v1.TaintEffectPreferNoSchedule {
			continue
		}
		if !corev1helpers.TolerationsTolerateTaint(klog.Background(), prefer, &taints[i], enableComparisonOperators) {
			c++
		}
	}
	return c
}

// normalize is kube's DefaultNormalizeScore.
func normalize(raw []int64, reverse bool) {
	var hi int64
	for _, v := range raw {
		hi = max(hi, v)
	}
	for i, v := range raw {
		switch {
		case hi == 0 && reverse:
			raw[i] = maxNodeScore
		case hi == 0:
		case reverse:
			raw[i] = maxNodeScore - v*maxNodeScore/hi
		default:
			raw[i] = v * maxNodeScore / hi
		}
	}
}

// interPodScores is InterPodAffinity's preferred-term score for candidates:
// incoming preferred (anti-)affinity against existing pods, plus existing
// pods' required affinity (hard weight 1) and preferred (anti-)affinity
// against the incoming pod; min-max normalized.
func (sc *Scheduler) interPodScores(pod *v1.Pod, pi *PodInfo, cands []candidate, out []int64) {
	s := sc.snap
	pref := make([]affinityTerm, 0, len(pi.preferredAffinity)+len(pi.preferredAntiAffinity))
	for _, t := range pi.preferredAffinity {
		pref = append(pref, t.affinityTerm)
	}
	for _, t := range pi.preferredAntiAffinity {
		pref = append(pref, t.affinityTerm)
	}
	pref = resolveTerms(s, pref)
	na := len(pi.preferredAffinity)
	if len(pref) == 0 && len(s.affinityPods) == 0 {
		return
	}
	nsLabels := s.namespaces[pod.Namespace]
	topo := map[topologyPair]int64{}
	add := func(n *NodeInfo, key string, w int64) {
		if v, ok := n.Node.Labels[key]; ok {
			topo[topologyPair{key, v}] += w
		}
	}
	visit := func(p *PodInfo) {
		n := s.nodeOf(p)
		if n == nil {
			return
		}
		for i := range pref {
			if pref[i].matches(p.Pod, nil) {
				if i < na {
					add(n, pref[i].topologyKey, pi.preferredAffinity[i].weight)
				} else {
					add(n, pref[i].topologyKey, -pi.preferredAntiAffinity[i-na].weight)
				}
			}
		}
		for i := range p.requiredAffinity {
			if p.requiredAffinity[i].matches(pod, nsLabels) {
				add(n, p.requiredAffinity[i].topologyKey, 1)
			}
		}
		for i := range p.preferredAffinity {
			if p.preferredAffinity[i].matches(pod, nsLabels) {
				add(n, p.preferredAffinity[i].topologyKey, p.preferredAffinity[i].weight)
			}
		}
		for i := range p.preferredAntiAffinity {
			if p.preferredAntiAffinity[i].matches(pod, nsLabels) {
				add(n, p.preferredAntiAffinity[i].topologyKey, -p.preferredAntiAffinity[i].weight)
			}
		}
	}
	seen := map[string]struct{}{}
	for ns := range podsInNamespaces(s, pref) {
		for k, p := range s.podsByNamespace[ns] {
			seen[k] = struct{}{}
			visit(p)
		}
	}
	for k, p := range s.affinityPods {
		if _, ok := seen[k]; !ok {
			visit(p)
		}
	}
	if len(topo) == 0 {
		return
	}
	raw := make([]int64, len(cands))
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, c := range cands {
		for k, v := range c.n.Node.Labels {
			raw[i] += topo[topologyPair{k, v}]
		}
		lo, hi = min(lo, raw[i]), max(hi, raw[i])
	}
	if hi == lo {
		return
	}
	for i := range raw {
		// Floating point, as kube's NormalizeScore: 100 * (29/100) is 28 there.
		out[i] += sc.cfg.Weights.InterPodAffinity * int64(float64(maxNodeScore)*(float64(raw[i]-lo)/float64(hi-lo)))
	}
}

// spreadScores is PodTopologySpread's score for the pod's own ScheduleAnyway
// constraints (system defaults: spread_default.go): fewer matching
// pods in the node's domains scores higher; nodes missing a key score 0.
// Counts come from all eligible nodes; each constraint's weight,
// log(domains + 2), counts only the domains among the candidates, as kube
// does with its filtered nodes.
func (sc *Scheduler) spreadScores(pod *v1.Pod, f *nodeFacts, cands []candidate, out []int64) {
	cons, err := parseSpread(pod, v1.ScheduleAnyway)
	if err != nil || len(cons) == 0 {
		return
	}
	states := buildSpread(sc.snap, f, pod, cons)
	ignored := make([]bool, len(cands))
	kept := 0
	for i, c := range cands {
		for j := range states {
			if _, ok := c.n.Node.Labels[states[j].c.key]; !ok {
				ignored[i] = true
				break
			}
		}
		if !ignored[i] {
			kept++
		}
	}
	for j := range states {
		size := kept
		if states[j].c.key != v1.LabelHostname {
			domains := map[string]struct{}{}
			for i, c := range cands {
				if !ignored[i] {
					domains[c.n.Node.Labels[states[j].c.key]] = struct{}{}
				}
			}
			size = len(domains)
		}
		states[j].weight = math.Log(float64(size + 2))
	}
	raw := make([]int64, len(cands))
	for i, c := range cands {
		if ignored[i] {
			continue
		}
		var s float64
		for j := range states {
			v := c.n.Node.Labels[states[j].c.key]
			s += spreadScoreForCount(int64(states[j].counts[v]), states[j].c.maxSkew, states[j].weight)
		}
		raw[i] = int64(math.Round(s))
	}
	sc.addSpreadScores(raw, ignored, out)
}
