package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Config selects the scoring strategy, weights and the techniques. Every
// technique can be switched off so benchmarks can measure what it buys.
type Config struct {
	Strategy ScoringStrategy
	Weights  Weights
	// ResourceWeights for NodeResourcesFit; default cpu:1, memory:1.
	ResourceWeights map[v1.ResourceName]int64
	// Enough is the relaxed-randomization stopping rule; default KubeAdaptive(0).
	Enough EnoughFunc
	// MaxClasses bounds the equivalence-class LRU, and the counts kept for
	// system-default spreading selectors; default 64.
	MaxClasses int
	// DisableEquivalence recomputes every node-local filter per pod.
	DisableEquivalence bool
	// DisableScoreCache recomputes node-local scores even on a cache hit.
	DisableScoreCache bool
	// Seed makes node rotation and tie-breaking reproducible.
	Seed uint64
}

const defaultMaxClasses = 64

// DefaultConfig is kube-scheduler's default profile with Myriad's techniques on.
func DefaultConfig() Config {
	return Config{Strategy: LeastAllocated, Weights: DefaultWeights(), Enough: KubeAdaptive(0), MaxClasses: defaultMaxClasses, Seed: 1}
}

// Result is a placement decision.
type Result struct {
	Node  string
	Score int64
	// Visited nodes and Feasible among them: relaxed randomization stops early.
	Visited, Feasible int
}

// FitError says why a pod fits nowhere, in kube-scheduler's words. Retrying
// helps only after the cluster changes.
type FitError struct {
	Pod      string
	NumNodes int
	// Reasons counts nodes per failure reason (a node may add several).
	Reasons map[string]int
	// PostFilterMsg is what preemption found, "preemption: ...", as kube
	// appends it; empty when preemption did not run.
	PostFilterMsg string
}

func (e *FitError) Error() string {
	parts := make([]string, 0, len(e.Reasons))
	for r, c := range e.Reasons {
		parts = append(parts, fmt.Sprintf("%d %s", c, r))
	}
	sort.Strings(parts)
	msg := fmt.Sprintf("0/%d nodes are available", e.NumNodes)
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, ", ")
	}
	msg += "."
	if e.PostFilterMsg != "" {
		msg += " " + e.PostFilterMsg
	}
	return msg
}

// ErrSchedulingGated is returned for pods with scheduling gates; kube never
// even queues them (PreEnqueue), so the caller should park, not retry.
var ErrSchedulingGated = errors.New(ReasonSchedulingGated)

// ConflictError is returned by Assume when the node no longer fits the pod:
// the decision was made on state that changed since. Scheduling again helps.
type ConflictError struct {
	Pod, Node string
	Reasons   []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("assume pod %s on node %s: %s", e.Pod, e.Node, strings.Join(e.Reasons, ", "))
}

// Stats counts the work each technique saved or did.
type Stats struct {
	Attempts       uint64
	ClassHits      uint64 // pod's class already known
	ClassMisses    uint64
	FilterHits     uint64 // (class, node generation) feasibility reused
	FilterMisses   uint64
	ScoreHits      uint64 // (class, node generation) scores reused
	ScoreMisses    uint64
	NodesVisited   uint64
	ClassesEvicted uint64
	// Preemption: attempts (pods that fit nowhere and may preempt), plans
	// made, and victims chosen.
	PreemptionAttempts uint64
	Preemptions        uint64
	Victims            uint64
}

type resourceWeight struct {
	name   v1.ResourceName
	weight int64
}

type candidate struct {
	n *NodeInfo
	e cacheEntry
}

type antiKey struct {
	ns, labels string
}

type antiEntry struct {
	epoch  uint64
	counts map[topologyPair]int64
}

// Scheduler chooses nodes for pods against its Snapshot. Its methods are
// safe for concurrent use (one mutex: decisions are microseconds, and the
// parallelism worth having is in binding, which happens outside).
type Scheduler struct {
	mu              sync.Mutex
	cfg             Config
	snap            *Snapshot
	classes         *classCache
	rng             *rand.Rand
	resourceWeights []resourceWeight
	reasons         [][]string
	reasonIDs       map[string]int32
	antiCache       map[antiKey]antiEntry
	stats           Stats
	// nominated pods by key and by node: see nomination.go.
	nominated   map[string]*nomination
	nominatedOn map[string][]*nomination
	pdbs        pdbIndex
	workloads   workloadIndex
	// delegated reports resource names left to DRA (delegated.go).
	delegated func(v1.ResourceName) bool
	// scratch is reused by every decision (under mu): the candidate list
	// and the score columns were a quarter of the bytes the scheduler
	// allocated per pod, and allocation is what its garbage collection,
	// ~18% of its CPU at 10,000 nodes, is paid for.
	scratch scratch
}

// scratch holds one decision's working slices. A decision's cands and
// totals are valid only until the next decision: nothing may keep them.
type scratch struct {
	cands            []candidate
	total, na, taint []int64
}

// int64s returns buf resized to n, reusing its array when it is big enough.
// The contents are not cleared: callers write every element.
func int64s(buf []int64, n int) []int64 {
	if cap(buf) < n {
		return make([]int64, n)
	}
	return buf[:n]
}

// New returns a scheduler over an empty snapshot.
func New(cfg Config) *Scheduler {
	if cfg.Weights == (Weights{}) {
		cfg.Weights = DefaultWeights()
	}
	if cfg.Enough == nil {
		cfg.Enough = KubeAdaptive(0)
	}
	if cfg.MaxClasses <= 0 {
		cfg.MaxClasses = defaultMaxClasses
	}
	rw := cfg.ResourceWeights
	if len(rw) == 0 {
		rw = map[v1.ResourceName]int64{v1.ResourceCPU: 1, v1.ResourceMemory: 1}
	}
	sc := &Scheduler{
		cfg:       cfg,
		snap:      NewSnapshot(),
		classes:   newClassCache(cfg.MaxClasses),
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		reasons:   [][]string{nil},
		reasonIDs: map[string]int32{},
		antiCache: map[antiKey]antiEntry{},

		nominated:   map[string]*nomination{},
		nominatedOn: map[string][]*nomination{},
		pdbs:        pdbIndex{},
		workloads:   newWorkloadIndex(),
	}
	sc.snap.counts.max = cfg.MaxClasses
	for name, w := range rw {
		sc.resourceWeights = append(sc.resourceWeights, resourceWeight{name, w})
	}
	sort.Slice(sc.resourceWeights, func(i, j int) bool { return sc.resourceWeights[i].name < sc.resourceWeights[j].name })
	return sc
}

// UpdateNode adds or replaces a node. Changes that cannot affect scheduling
// (status heartbeats) keep the node's generation, so caches stay warm.
func (sc *Scheduler) UpdateNode(node *v1.Node) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if old := sc.snap.Get(node.Name); old != nil && !schedulingRelevantChange(old.Node, node) {
		old.Node = node
		return
	}
	sc.snap.UpdateNode(node)
}

func schedulingRelevantChange(a, b *v1.Node) bool {
	return !labels.Equals(a.Labels, b.Labels) || a.Spec.Unschedulable != b.Spec.Unschedulable ||
		!taintsEqual(a.Spec.Taints, b.Spec.Taints) || !resourceListEqual(a.Status.Allocatable, b.Status.Allocatable) ||
		!imagesEqual(a.Status.Images, b.Status.Images)
}

func taintsEqual(a, b []v1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Value != b[i].Value || a[i].Effect != b[i].Effect {
			return false
		}
	}
	return true
}

func resourceListEqual(a, b v1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, q := range a {
		if o, ok := b[k]; !ok || o.Cmp(q) != 0 {
			return false
		}
	}
	return true
}

// RemoveNode removes a node.
func (sc *Scheduler) RemoveNode(name string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.snap.RemoveNode(name)
}

// AddPod records a bound pod; it confirms an assumed one.
func (sc *Scheduler) AddPod(pod *v1.Pod) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.snap.AddPod(pod)
}

// RefreshPod replaces the stored object of a known bound pod after a
// status update that changes nothing the filters read (its start time), so
// that preemption orders victims by current status. No generation changes:
// every cache stays valid.
func (sc *Scheduler) RefreshPod(pod *v1.Pod) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if pi := sc.snap.pods[PodKey(pod)]; pi != nil && !pi.assumed && pi.nodeName == pod.Spec.NodeName {
		pi.Pod = pod
	}
}

// RemovePod forgets a pod.
func (sc *Scheduler) RemovePod(pod *v1.Pod) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.snap.RemovePod(pod)
}

// SetNamespace records namespace labels for namespaceSelector terms.
func (sc *Scheduler) SetNamespace(ns *v1.Namespace) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.snap.SetNamespace(ns)
}

// Stats returns counters since New.
func (sc *Scheduler) Stats() Stats {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	st := sc.stats
	st.ClassesEvicted = sc.classes.evicted
	return st
}

// NumNodes returns the number of nodes in the snapshot.
func (sc *Scheduler) NumNodes() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.snap.NumNodes()
}

// NodeUsage calls fn for every node with its allocatable and requested
// resources, for placement-quality reports.
func (sc *Scheduler) NodeUsage(fn func(n *NodeInfo)) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, n := range sc.snap.nodes {
		fn(n)
	}
}

func (sc *Scheduler) intern(rs []string) int32 {
	if len(rs) == 0 {
		return 0
	}
	key := strings.Join(rs, "\x00")
	if id, ok := sc.reasonIDs[key]; ok {
		return id
	}
	id := int32(len(sc.reasons))
	sc.reasons = append(sc.reasons, rs)
	sc.reasonIDs[key] = id
	return id
}

// classFor returns the pod's equivalence class, creating it on first sight,
// with its image epoch brought up to date, and counts the lookup.
func (sc *Scheduler) classFor(pod *v1.Pod) *class {
	cl, hit := sc.lookupClass(pod)
	if hit {
		sc.stats.ClassHits++
	} else {
		sc.stats.ClassMisses++
	}
	return cl
}

// lookupClass is classFor without the count (hit: it was cached).
func (sc *Scheduler) lookupClass(pod *v1.Pod) (cl *class, hit bool) {
	spread := sc.defaultSpreadFor(pod)
	delegated := sc.delegatedFor(pod)
	// A pinned pod (a DaemonSet's, say) is looked at on its named nodes
	// only: its class would cache one node's verdict, and a rollout's one
	// class per node would push the replicas' classes out of the LRU.
	if sc.cfg.DisableEquivalence || isPinned(pod) {
		cl = newClass(ClassKey{}, pod, spread, delegated)
		cl.transient = true
	} else {
		key := classKey(pod, spread, delegated)
		if cl = sc.classes.get(key); cl != nil {
			hit = true
		} else {
			cl = newClass(key, pod, spread, delegated)
			sc.classes.add(cl)
		}
	}
	cl.images.refresh(sc.snap)
	return cl, hit
}

// clusterStateFor computes the cross-node filter state for one attempt.
func (sc *Scheduler) clusterStateFor(pod *v1.Pod, f *nodeFacts) (*clusterState, error) {
	s := sc.snap
	cs := &clusterState{pi: f.pi}
	cons, err := parseSpread(pod, v1.DoNotSchedule)
	if err != nil {
		return nil, err
	}
	cs.spread = buildSpread(s, f, pod, cons)
	cs.spreadCons = cons
	a := pod.Spec.Affinity
	hasTerms := a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil)
	if !hasTerms && len(s.antiAffinityPods) == 0 {
		return cs, nil
	}
	if hasTerms {
		// Terms default to the pod's own namespace, so they are per pod, not per class.
		cs.pi = NewPodInfo(pod, false)
		if cs.pi.parseErr != nil {
			return nil, cs.pi.parseErr
		}
	}
	cs.nsLabels = s.namespaces[pod.Namespace]
	var existing map[topologyPair]int64
	if len(s.antiAffinityPods) > 0 {
		// Replicas share namespace and labels, so this O(anti-affinity pods)
		// pass is done once per workload until such a pod or node changes.
		k := antiKey{pod.Namespace, labels.Set(pod.Labels).String()}
		if e, ok := sc.antiCache[k]; ok && e.epoch == s.antiAffinityEpoch {
			existing = e.counts
		} else {
			existing = existingAntiAffinity(s, pod, cs.nsLabels)
			if len(sc.antiCache) > 4096 {
				clear(sc.antiCache)
			}
			sc.antiCache[k] = antiEntry{epoch: s.antiAffinityEpoch, counts: existing}
		}
	}
	buildInterPod(s, cs, existing)
	return cs, nil
}

// evalNode runs the node-local filters (through the class cache) and the
// cluster-wide ones; it returns the entry and the failure reasons.
func (sc *Scheduler) evalNode(cl *class, cs *clusterState, pod *v1.Pod, n *NodeInfo) (cacheEntry, []string) {
	var e *cacheEntry
	var local cacheEntry
	if cl.transient {
		e = &local
		e.gen = n.Generation - 1
	} else {
		e = cl.entry(n.slot)
	}
	if e.gen == n.Generation && e.gen != 0 {
		sc.stats.FilterHits++
	} else {
		sc.stats.FilterMisses++
		*e = cacheEntry{gen: n.Generation, reason: sc.intern(filterNode(cl.facts, n))}
	}
	if e.reason != 0 {
		return *e, sc.reasons[e.reason]
	}
	// Room reserved for nominated pods is not in the cached verdict: it
	// depends on this pod's priority, not only its class. Rare, so uncached.
	if view := sc.withReservations(pod, n); view != n {
		if r := filterNode(cl.facts, view); r != nil {
			return *e, r
		}
	}
	if !cs.empty() {
		if r := sc.crossNodeWithNominated(cl.facts, cs, pod, n); r != "" {
			return *e, []string{r}
		}
		if r := filterSpread(cs.spread, pod, n); r != "" {
			return *e, []string{r}
		}
		if r := filterInterPod(cs, n); r != "" {
			return *e, []string{r}
		}
	}
	if e.scored && e.imgEpoch == cl.images.epoch && !sc.cfg.DisableScoreCache {
		sc.stats.ScoreHits++
	} else {
		sc.stats.ScoreMisses++
		sc.nodeScores(cl, n, e)
	}
	return *e, nil
}

// Schedule chooses a node for pod. It does not change the snapshot: call
// Assume with the result to reserve the node.
//
// The pipeline, in order:
//  1. gates: gated pods never reach a decision (kube's PreEnqueue);
//  2. class: look up the pod's equivalence class — first, because everything
//     node-local below is cached under it;
//  3. cluster state: spread counts and inter-pod (anti-)affinity, from the
//     snapshot's indexes over ALL nodes, so that sampling below stays exact;
//  4. nominated node: a pod that preempted others takes the node it made
//     room on as soon as it fits there, without a search (kube does too);
//  5. rotation: visit nodes in a random rotation — relaxed randomization;
//     filters: node-local through the (class, generation) cache, then room
//     reserved for nominated pods, then the cross-node ones;
//  6. limit: stop at Enough(n) feasible nodes;
//  7. score: cached node-local raw scores, normalized over the candidates,
//     plus the cross-node scores; ties broken at random.
func (sc *Scheduler) Schedule(pod *v1.Pod) (Result, error) {
	return sc.ScheduleWith(pod, nil)
}

// ScheduleWith is Schedule with ext's filter run, uncached, on every node
// that passes the core's own filters, and its scores added (nil ext is
// Schedule).
func (sc *Scheduler) ScheduleWith(pod *v1.Pod, ext *External) (Result, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.stats.Attempts++
	d, err := sc.decide(pod, sc.cfg.Enough, true, ext)
	if err != nil {
		return Result{}, err
	}
	if d.nominated != nil {
		// kube's evaluateNominatedNode: room was made there for this pod.
		return Result{Node: d.nominated.Node.Name, Visited: 1, Feasible: 1}, nil
	}
	total := sc.totals(pod, d.cl, d.cs.pi, d.cands, ext)
	best, ties := 0, 1
	for i := 1; i < len(total); i++ {
		switch {
		case total[i] > total[best]:
			best, ties = i, 1
		case total[i] == total[best]:
			ties++
			if sc.rng.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return Result{Node: d.cands[best].n.Node.Name, Score: total[best], Visited: d.visited, Feasible: len(d.cands)}, nil
}

// NodeScore is one feasible node's total score.
type NodeScore struct {
	Node  string
	Score int64
}

// ScoreNodes returns every feasible node with its total score, as Schedule
// computes them when it evaluates all nodes (sampling `all`): the exact
// ranking behind a decision, for explaining it and for checking it against
// kube-scheduler. It changes nothing but the caches.
func (sc *Scheduler) ScoreNodes(pod *v1.Pod) ([]NodeScore, error) {
	return sc.ScoreNodesWith(pod, nil)
}

// ScoreNodesWith is ScoreNodes with ext applied as ScheduleWith applies it.
func (sc *Scheduler) ScoreNodesWith(pod *v1.Pod, ext *External) ([]NodeScore, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	d, err := sc.decide(pod, AllNodes(), false, ext)
	if err != nil {
		return nil, err
	}
	total := sc.totals(pod, d.cl, d.cs.pi, d.cands, ext)
	out := make([]NodeScore, len(d.cands))
	for i, c := range d.cands {
		out[i] = NodeScore{Node: c.n.Node.Name, Score: total[i]}
	}
	return out, nil
}

// decision is the filtered candidate set of one attempt.
type decision struct {
	cl      *class
	cs      *clusterState
	cands   []candidate
	visited int
	// nominated is set when the pod's nominated node fits it: no search.
	nominated *NodeInfo
}

// decide runs steps 1-6 of Schedule's pipeline with the given stopping
// rule; nominatedFirst takes the pod's nominated node when it fits; ext's
// check, if any, runs last on each node that passed everything else.
func (sc *Scheduler) decide(pod *v1.Pod, enoughFn EnoughFunc, nominatedFirst bool, ext *External) (decision, error) {
	if len(pod.Spec.SchedulingGates) > 0 {
		return decision{}, ErrSchedulingGated
	}
	nodes := sc.snap.nodes
	cl := sc.classFor(pod)
	cs, err := sc.clusterStateFor(pod, cl.facts)
	if err != nil {
		return decision{}, &FitError{Pod: podName(pod), NumNodes: len(nodes), Reasons: map[string]int{ReasonPodParse: len(nodes)}}
	}
	if n := sc.nominatedNodeOf(pod); n != nil && nominatedFirst {
		if _, reasons := sc.evalNode(cl, cs, pod, n); reasons == nil && sc.checkExt(ext, pod, n) == nil {
			return decision{cl: cl, cs: cs, nominated: n}, nil
		}
	}
	search, absentReason := sc.searchSpace(pod)
	enough := enoughFn(len(search))
	rot := newRotation(sc.rng, len(search))
	cands := sc.scratch.cands[:0]
	defer func() {
		// Keep the grown array; drop the node pointers beyond this
		// decision's use so a removed node is not held alive by them.
		clear(cands[len(cands):cap(cands)])
		sc.scratch.cands = cands[:0]
	}()
	var failed map[string]int
	visited := 0
	for len(cands) < enough {
		i, ok := rot.next()
		if !ok {
			break
		}
		visited++
		n := search[i]
		e, reasons := sc.evalNode(cl, cs, pod, n)
		if reasons == nil {
			reasons = sc.checkExt(ext, pod, n)
		}
		if reasons != nil {
			if failed == nil {
				failed = map[string]int{}
			}
			for _, r := range reasons {
				failed[r]++
			}
			continue
		}
		cands = append(cands, candidate{n: n, e: e})
	}
	sc.stats.NodesVisited += uint64(visited)
	if len(cands) == 0 {
		if absent := len(nodes) - len(search); absent > 0 {
			if failed == nil {
				failed = map[string]int{}
			}
			failed[absentReason] += absent
		}
		return decision{}, &FitError{Pod: podName(pod), NumNodes: len(nodes), Reasons: failed}
	}
	return decision{cl: cl, cs: cs, cands: cands, visited: visited}, nil
}

// totals is step 7: each candidate's weighted score. Node-local raw scores
// come from the cache; normalization needs the candidate set, so it is here.
func (sc *Scheduler) totals(pod *v1.Pod, cl *class, pi *PodInfo, cands []candidate, ext *External) []int64 {
	w := sc.cfg.Weights
	s := &sc.scratch
	s.total, s.na, s.taint = int64s(s.total, len(cands)), int64s(s.na, len(cands)), int64s(s.taint, len(cands))
	total, na, taint := s.total, s.na, s.taint
	for i, c := range cands {
		total[i] = w.Fit*int64(c.e.fit) + w.Balanced*int64(c.e.balanced) + w.ImageLocality*int64(c.e.image)
		na[i], taint[i] = int64(c.e.naRaw), int64(c.e.taintRaw)
	}
	normalize(na, false)
	normalize(taint, true)
	for i := range total {
		total[i] += w.NodeAffinity*na[i] + w.TaintToleration*taint[i]
	}
	if w.InterPodAffinity != 0 {
		// pi is the pod's own (terms parsed) when it has terms, else the
		// class's, which has none.
		sc.interPodScores(pod, pi, cands, total)
	}
	switch {
	case w.TopologySpread == 0:
	case len(pod.Spec.TopologySpreadConstraints) > 0:
		sc.spreadScores(pod, cl.facts, cands, total)
	case cl.spread != nil:
		sc.defaultSpreadScores(cl, cands, total)
	}
	if ext != nil && ext.Score != nil {
		nodes := make([]*NodeInfo, len(cands))
		for i, c := range cands {
			nodes[i] = c.n
		}
		for i, v := range ext.Score(nodes) {
			total[i] += v
		}
	}
	return total
}

// Check returns why pod does not fit on node right now (nil if it fits),
// with every filter, uncached: the binder's conflict test.
func (sc *Scheduler) Check(pod *v1.Pod, nodeName string) []string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	f := newNodeFacts(pod, nodeLocalPodInfo(pod))
	f.delegated = sc.delegatedFor(pod)
	return sc.check(pod, nodeName, f)
}

// check runs every filter on node, uncached, with f the pod's node-local
// facts.
func (sc *Scheduler) check(pod *v1.Pod, nodeName string, f *nodeFacts) []string {
	n := sc.snap.Get(nodeName)
	if n == nil {
		return []string{fmt.Sprintf("node %q not found", nodeName)}
	}
	if len(pod.Spec.SchedulingGates) > 0 {
		return []string{ReasonSchedulingGated}
	}
	if r := filterNode(f, sc.withReservations(pod, n)); r != nil {
		return r
	}
	cs, err := sc.clusterStateFor(pod, f)
	if err != nil {
		return []string{ReasonPodParse}
	}
	if r := sc.crossNodeWithNominated(f, cs, pod, n); r != "" {
		return []string{r}
	}
	if r := filterSpread(cs.spread, pod, n); r != "" {
		return []string{r}
	}
	if r := filterInterPod(cs, n); r != "" {
		return []string{r}
	}
	return nil
}

// Assume reserves node for pod in the snapshot at once, so the next decision
// sees it while binding proceeds elsewhere. If the node no longer fits (the
// snapshot changed since Schedule), it returns a *ConflictError and changes
// nothing: no node is ever double-booked by this scheduler.
func (sc *Scheduler) Assume(pod *v1.Pod, nodeName string) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	// The class's facts are the pod's node-local facts (that is what makes
	// a class), and the decision just before this looked the class up:
	// no need to derive them from the pod again.
	cl, _ := sc.lookupClass(pod)
	if r := sc.check(pod, nodeName, cl.facts); r != nil {
		return &ConflictError{Pod: podName(pod), Node: nodeName, Reasons: r}
	}
	sc.snap.addPodInfo(NewPodInfo(pod, true), nodeName, true)
	// Placed: its reservation (if it preempted) is now a real claim.
	sc.unnominate(PodKey(pod))
	return nil
}

// Forget drops an assumed pod (binding failed). A pod already confirmed by
// AddPod is left alone.
func (sc *Scheduler) Forget(pod *v1.Pod) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if pi := sc.snap.pods[PodKey(pod)]; pi != nil && pi.assumed {
		sc.snap.removePodInfo(pi)
	}
}

// IsAssumed reports whether pod is assumed but not yet confirmed.
func (sc *Scheduler) IsAssumed(pod *v1.Pod) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	pi := sc.snap.pods[PodKey(pod)]
	return pi != nil && pi.assumed
}

func podName(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }
