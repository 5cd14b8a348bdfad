package core

import (
	"math"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
)

type topologyPair struct{ key, value string }

type spreadConstraint struct {
	maxSkew     int32
	key         string
	selector    labels.Selector
	minDomains  int32
	honorNA     bool
	honorTaints bool
}

// spreadState is PodTopologySpread's PreFilter/PreScore state for one
// constraint: matching pods per domain over eligible nodes.
type spreadState struct {
	c       spreadConstraint
	counts  map[string]int
	minimum int
	weight  float64 // scoring only
}

// clusterState is what filters that look beyond one node need, computed once
// per scheduling attempt from the snapshot's indexes (never by visiting every
// node's pods). It cannot be cached per node: any pod anywhere can change it.
type clusterState struct {
	pi        *PodInfo
	nsLabels  labels.Set
	affTerms  []affinityTerm // incoming required affinity, namespaces resolved
	antiTerms []affinityTerm

	affinityCounts     map[topologyPair]int64
	antiAffinityCounts map[topologyPair]int64
	existingAntiCounts map[topologyPair]int64
	selfAffinityOK     bool
	interPod           bool // false: InterPodAffinity would Skip

	spread     []spreadState
	spreadCons []spreadConstraint
}

func (cs *clusterState) empty() bool { return !cs.interPod && len(cs.spread) == 0 }

// parseSpread builds the constraints of one whenUnsatisfiable action with
// kube's defaults (minDomains 1, nodeAffinityPolicy Honor, nodeTaintsPolicy
// Ignore) and matchLabelKeys merged into the selector.
func parseSpread(pod *v1.Pod, action v1.UnsatisfiableConstraintAction) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, err
		}
		if len(c.MatchLabelKeys) > 0 {
			set := labels.Set{}
			for _, k := range c.MatchLabelKeys {
				if v, ok := pod.Labels[k]; ok {
					set[k] = v
				}
			}
			if len(set) > 0 {
				reqs, _ := sel.Requirements()
				merged := labels.SelectorFromSet(set)
				merged = merged.Add(reqs...)
				sel = merged
			}
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, key: c.TopologyKey, selector: sel, minDomains: 1, honorNA: true}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if c.NodeAffinityPolicy != nil {
			sc.honorNA = *c.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor
		}
		if c.NodeTaintsPolicy != nil {
			sc.honorTaints = *c.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor
		}
		out = append(out, sc)
	}
	return out, nil
}

// spreadEligible reports whether node n counts as a domain member for
// constraint c: it carries every topology key of the set, and passes the
// inclusion policies.
func spreadEligible(f *nodeFacts, all []spreadConstraint, c *spreadConstraint, n *NodeInfo) bool {
	for i := range all {
		if _, ok := n.Node.Labels[all[i].key]; !ok {
			return false
		}
	}
	if c.honorNA {
		if ok, _ := f.requiredNA.Match(n.Node); !ok {
			return false
		}
	}
	if c.honorTaints {
		if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), n.Node.Spec.Taints, f.tolerations,
			doNotScheduleTaint, enableComparisonOperators); untolerated {
			return false
		}
	}
	return true
}

// buildSpread computes per-domain counts for constraints using the topology
// and namespace indexes: domains come from byTopology (one eligible node per
// value is enough), counts from the pods of the incoming pod's namespace.
func buildSpread(s *Snapshot, f *nodeFacts, pod *v1.Pod, cons []spreadConstraint) []spreadState {
	if len(cons) == 0 {
		return nil
	}
	out := make([]spreadState, len(cons))
	for i := range cons {
		c := &cons[i]
		st := spreadState{c: *c, counts: make(map[string]int)}
		eligible := make(map[*NodeInfo]bool)
		isEligible := func(n *NodeInfo) bool {
			e, ok := eligible[n]
			if !ok {
				e = spreadEligible(f, cons, c, n)
				eligible[n] = e
			}
			return e
		}
		for value, set := range s.byTopology[c.key] {
			for n := range set {
				if isEligible(n) {
					st.counts[value] = 0
					break
				}
			}
		}
		if !c.selector.Empty() {
			// Matching pods per node, kept current across decisions: O(nodes
			// holding them), where matching every pod of the namespace on
			// each decision was most of a decision at 10^4 nodes.
			for n, k := range s.counts.get(s, pod.Namespace, c.selector, false).perNode {
				if n.Node == nil || !isEligible(n) {
					continue
				}
				st.counts[n.Node.Labels[c.key]] += k
			}
		}
		st.recomputeMin()
		out[i] = st
	}
	return out
}

// recomputeMin sets the global minimum kube's skew is measured against:
// the smallest domain count, or 0 while fewer than minDomains domains exist.
func (st *spreadState) recomputeMin() {
	st.minimum = math.MaxInt32
	for _, v := range st.counts {
		if v < st.minimum {
			st.minimum = v
		}
	}
	if len(st.counts) < int(st.c.minDomains) {
		st.minimum = 0
	}
}

// filterSpread is PodTopologySpread.Filter.
func filterSpread(spread []spreadState, pod *v1.Pod, n *NodeInfo) string {
	podLabels := labels.Set(pod.Labels)
	for i := range spread {
		st := &spread[i]
		val, ok := n.Node.Labels[st.c.key]
		if !ok {
			return ReasonSpreadMissingLabel
		}
		self := 0
		if st.c.selector.Matches(podLabels) {
			self = 1
		}
		if st.counts[val]+self-st.minimum > int(st.c.maxSkew) {
			return ReasonSpread
		}
	}
	return ""
}

// resolveTerms merges namespaceSelector matches into namespaces, as kube's
// mergeAffinityTermNamespacesIfNotEmpty does for the incoming pod's terms.
func resolveTerms(s *Snapshot, terms []affinityTerm) []affinityTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]affinityTerm, len(terms))
	for i, t := range terms {
		if !t.nsSelector.Empty() {
			ns := make(map[string]struct{}, len(t.namespaces))
			for k := range t.namespaces {
				ns[k] = struct{}{}
			}
			for name, l := range s.namespaces {
				if t.nsSelector.Matches(l) {
					ns[name] = struct{}{}
				}
			}
			t.namespaces = ns
			t.nsSelector = labels.Nothing()
		}
		// An empty selector ({}) stays: it selects every namespace, as in kube.
		out[i] = t
	}
	return out
}

// podsInNamespaces yields the pods the given terms can select, using the
// namespace index instead of every node's pod list.
func podsInNamespaces(s *Snapshot, termSets ...[]affinityTerm) map[string]struct{} {
	ns := make(map[string]struct{})
	for _, terms := range termSets {
		for i := range terms {
			if terms[i].nsSelector.Empty() {
				for n := range s.podsByNamespace {
					ns[n] = struct{}{}
				}
				return ns
			}
			for n := range terms[i].namespaces {
				ns[n] = struct{}{}
			}
		}
	}
	return ns
}

// buildInterPod is InterPodAffinity.PreFilter over the snapshot's indexes.
// existing is the (cached) count of existing pods' anti-affinity terms
// matching this pod.
func buildInterPod(s *Snapshot, cs *clusterState, existing map[topologyPair]int64) {
	pi := cs.pi
	cs.existingAntiCounts = existing
	cs.affTerms = resolveTerms(s, pi.requiredAffinity)
	cs.antiTerms = resolveTerms(s, pi.requiredAntiAffinity)
	cs.affinityCounts = map[topologyPair]int64{}
	cs.antiAffinityCounts = map[topologyPair]int64{}
	if len(cs.antiTerms) > 0 {
		// Each term on its own: from the per-node counts of its selector in
		// each of its namespaces, kept current across decisions.
		for i := range cs.antiTerms {
			countTerm(s, &cs.antiTerms[i], cs.antiAffinityCounts)
		}
	}
	switch len(cs.affTerms) {
	case 0:
	case 1:
		countTerm(s, &cs.affTerms[0], cs.affinityCounts)
	default:
		// A pod counts for every term only if it matches all of them: no
		// count per selector says that, so match each pod (rare: several
		// required affinity terms).
		for ns := range podsInNamespaces(s, cs.affTerms) {
			for _, p := range s.podsByNamespace[ns] {
				if n := s.nodeOf(p); n != nil && podMatchesAllTerms(cs.affTerms, p.Pod) {
					for _, t := range cs.affTerms {
						if v, ok := n.Node.Labels[t.topologyKey]; ok {
							cs.affinityCounts[topologyPair{t.topologyKey, v}]++
						}
					}
				}
			}
		}
	}
	if len(cs.affTerms) > 0 {
		cs.selfAffinityOK = podMatchesAllTerms(cs.affTerms, pi.Pod)
	}
	cs.interPod = len(existing) > 0 || len(cs.affTerms) > 0 || len(cs.antiTerms) > 0
}

// countTerm adds, per topology pair, the pods term selects (terminating
// ones too, as kube's inter-pod affinity counts them).
func countTerm(s *Snapshot, t *affinityTerm, out map[topologyPair]int64) {
	for ns := range podsInNamespaces(s, []affinityTerm{*t}) {
		for n, k := range s.counts.get(s, ns, t.selector, true).perNode {
			if n.Node == nil {
				continue
			}
			if v, ok := n.Node.Labels[t.topologyKey]; ok {
				out[topologyPair{t.topologyKey, v}] += int64(k)
			}
		}
	}
}

// existingAntiAffinity counts, per topology pair, existing pods' required
// anti-affinity terms that match the incoming pod.
func existingAntiAffinity(s *Snapshot, pod *v1.Pod, nsLabels labels.Set) map[topologyPair]int64 {
	out := map[topologyPair]int64{}
	for _, p := range s.antiAffinityPods {
		n := s.nodeOf(p)
		if n == nil {
			continue
		}
		for i := range p.requiredAntiAffinity {
			t := &p.requiredAntiAffinity[i]
			if t.matches(pod, nsLabels) {
				if v, ok := n.Node.Labels[t.topologyKey]; ok {
					out[topologyPair{t.topologyKey, v}]++
				}
			}
		}
	}
	return out
}

// filterInterPod is InterPodAffinity.Filter (HostnameFastPath off, its
// default in 1.37).
func filterInterPod(cs *clusterState, n *NodeInfo) string {
	if !cs.interPod {
		return ""
	}
	nl := n.Node.Labels
	if len(cs.affTerms) > 0 {
		exist := true
		for _, t := range cs.affTerms {
			v, ok := nl[t.topologyKey]
			if !ok {
				return ReasonPodAffinity
			}
			if cs.affinityCounts[topologyPair{t.topologyKey, v}] <= 0 {
				exist = false
			}
		}
		if !exist && !(len(cs.affinityCounts) == 0 && cs.selfAffinityOK) {
			return ReasonPodAffinity
		}
	}
	if len(cs.antiAffinityCounts) > 0 {
		for _, t := range cs.antiTerms {
			if v, ok := nl[t.topologyKey]; ok && cs.antiAffinityCounts[topologyPair{t.topologyKey, v}] > 0 {
				return ReasonPodAntiAffinity
			}
		}
	}
	if len(cs.existingAntiCounts) > 0 {
		for k, v := range nl {
			if cs.existingAntiCounts[topologyPair{k, v}] > 0 {
				return ReasonExistingAntiAffinity
			}
		}
	}
	return ""
}

// account adds (delta 1) or removes (delta -1) an existing pod p on node n
// in the attempt's cross-node state, as kube's PreFilter extensions AddPod
// and RemovePod do: preemption asks "would pod fit if p were gone?" without
// rebuilding the state per node. Every change is undone by the opposite
// call, so a shared cached map (existing anti-affinity) ends as it began.
func (cs *clusterState) account(f *nodeFacts, pod *v1.Pod, p *PodInfo, n *NodeInfo, delta int) {
	nl := n.Node.Labels
	if len(cs.spread) > 0 && p.Pod.Namespace == pod.Namespace && p.Pod.DeletionTimestamp == nil {
		podLabels := labels.Set(p.Pod.Labels)
		for i := range cs.spread {
			st := &cs.spread[i]
			// An empty selector counts no pods (buildSpread, kube's PreFilter).
			if st.c.selector.Empty() || !st.c.selector.Matches(podLabels) || !spreadEligible(f, cs.spreadCons, &st.c, n) {
				continue
			}
			v := nl[st.c.key]
			old := st.counts[v]
			st.counts[v] = old + delta
			switch {
			case delta < 0 && old+delta < st.minimum:
				st.minimum = old + delta
			case delta > 0 && old == st.minimum:
				st.recomputeMin()
			}
		}
	}
	if !cs.interPod {
		return
	}
	bump := func(m map[topologyPair]int64, key string) {
		if v, ok := nl[key]; ok && m != nil {
			k := topologyPair{key, v}
			m[k] += int64(delta)
			if m[k] == 0 {
				delete(m, k)
			}
		}
	}
	for i := range p.requiredAntiAffinity {
		if t := &p.requiredAntiAffinity[i]; t.matches(pod, cs.nsLabels) {
			bump(cs.existingAntiCounts, t.topologyKey)
		}
	}
	if podMatchesAllTerms(cs.affTerms, p.Pod) {
		for _, t := range cs.affTerms {
			bump(cs.affinityCounts, t.topologyKey)
		}
	}
	for _, t := range cs.antiTerms {
		if t.matches(p.Pod, nil) {
			bump(cs.antiAffinityCounts, t.topologyKey)
		}
	}
}
