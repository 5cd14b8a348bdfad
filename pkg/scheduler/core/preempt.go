package core

import (
	"math"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Preemption messages, word for word kube-scheduler's, so the
// "preemption: ..." part of a FailedScheduling event reads the same.
const (
	ReasonPreemptionNotHelpful  = "Preemption is not helpful for scheduling"
	ReasonNoVictims             = "No preemption victims found for incoming pod"
	msgNotEligibleNever         = "not eligible due to preemptionPolicy=Never."
	msgNotEligibleTerminating   = "not eligible due to a terminating pod on the nominated node."
	minCandidateNodesPercentage = 10
	minCandidateNodesAbsolute   = 100
)

// Preemption is a plan for a pod that fits nowhere: once Victims are gone
// from Node, the pod fits there.
type Preemption struct {
	Node string
	// Victims, most important first. Deleting them is the caller's job.
	Victims []*v1.Pod
	// NumPDBViolations counts victims whose eviction exceeds a budget.
	NumPDBViolations int
	// Demoted are pods of lower priority that were nominated to Node: they
	// lost their nomination (kube clears their status.nominatedNodeName).
	Demoted []*v1.Pod
}

// NoPreemptionError says why preemption cannot help the pod now. Retrying
// helps only after the cluster changes (or the pod's victims are gone).
type NoPreemptionError struct {
	// Fit has, per node, why evicting pods of lower priority would not make
	// the pod fit; nil when the pod may not preempt at all (Reason).
	Fit    *FitError
	Reason string
}

func (e *NoPreemptionError) Error() string {
	if e.Fit != nil {
		return e.Fit.Error()
	}
	return e.Reason
}

// victimSet is one node's answer to "whom would we evict here".
type victimSet struct {
	n          *NodeInfo
	victims    []*PodInfo // most important first
	violations int
}

// Preempt finds, for a pod that Schedule found fitting nowhere, the node
// where evicting pods of strictly lower priority makes it fit, with
// kube-scheduler's DefaultPreemption semantics:
//
//   - a pod with preemptionPolicy Never, or whose nominated node still holds
//     victims it preempted before (terminating), does not preempt;
//   - nodes where no eviction can help (taints, affinity, a request larger
//     than the node) are skipped; on the others every lower-priority pod is
//     removed and all filters run; if the pod fits, victims are reprieved
//     one by one, most important first (budget-violating ones before the
//     others), keeping every reprieve that still lets the pod fit;
//   - nodes are visited in a random rotation until max(100, 10% of nodes)
//     candidates (at least one within every budget) are found;
//   - the node is chosen by fewest budget violations, then lowest highest
//     victim priority, smallest priority sum, fewest victims, and latest
//     start among the highest-priority victims.
//
// With no candidate node, the pod loses any earlier nomination (kube clears
// it too). On success the pod is nominated to the node at once (its room is
// reserved against pods of lower or equal priority), lower-priority pods
// nominated there lose their nomination, and the victims are marked so that
// a retry does not preempt again while they terminate. The caller deletes
// the victims and writes status.nominatedNodeName.
func (sc *Scheduler) Preempt(pod *v1.Pod) (*Preemption, error) {
	return sc.PreemptWith(pod, nil)
}

// PreemptWith is Preempt where a node must also pass ext's check with the
// victims gone (ext.Without): evicting a ReadWriteOncePod claim's holder or
// pods holding attach slots can make room, as in kube-scheduler, and the
// victims are reprieved against ext's check too.
func (sc *Scheduler) PreemptWith(pod *v1.Pod, ext *External) (*Preemption, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.stats.PreemptionAttempts++
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == v1.PreemptNever {
		return nil, &NoPreemptionError{Reason: msgNotEligibleNever}
	}
	nodes := sc.snap.nodes
	cl := sc.classFor(pod)
	cs, err := sc.clusterStateFor(pod, cl.facts)
	if err != nil {
		return nil, &NoPreemptionError{Fit: &FitError{Pod: podName(pod), NumNodes: len(nodes), Reasons: map[string]int{ReasonPodParse: len(nodes)}}}
	}
	prio := podPriority(pod)
	if n := sc.nominatedNodeOf(pod); n != nil {
		if _, unresolvable := firstFailure(cl.facts, cs, pod, n); !unresolvable && victimsTerminating(n, prio) {
			return nil, &NoPreemptionError{Reason: msgNotEligibleTerminating}
		}
	}

	want := max(len(nodes)*minCandidateNodesPercentage/100, minCandidateNodesAbsolute)
	want = min(want, len(nodes))
	var cands []victimSet
	withinBudgets := 0
	reasons := map[string]int{}
	// Nodes a pinned pod's names rule out are unresolvable: no eviction
	// makes the pod fit there (kube's preemption skips them so too).
	search, _ := sc.searchSpace(pod)
	if absent := len(nodes) - len(search); absent > 0 {
		reasons[ReasonPreemptionNotHelpful] = absent
	}
	rot := newRotation(sc.rng, len(search))
	for {
		i, ok := rot.next()
		if !ok {
			break
		}
		vs, why := sc.victimsOn(pod, prio, cl.facts, cs, search[i], ext)
		if vs == nil {
			for _, r := range why {
				reasons[r]++
			}
			continue
		}
		cands = append(cands, *vs)
		if vs.violations == 0 {
			withinBudgets++
		}
		if withinBudgets > 0 && len(cands) >= want {
			break
		}
	}
	if len(cands) == 0 {
		// No node can be made to fit: an old nomination reserves for nothing.
		sc.unnominate(PodKey(pod))
		return nil, &NoPreemptionError{Fit: &FitError{Pod: podName(pod), NumNodes: len(nodes), Reasons: reasons}}
	}
	best := pickVictimSet(cands)

	plan := &Preemption{Node: best.n.Node.Name, NumPDBViolations: best.violations}
	for _, v := range best.victims {
		v.preempted = true
		plan.Victims = append(plan.Victims, v.Pod)
	}
	for _, nm := range slices.Clone(sc.nominatedOn[plan.Node]) {
		if nm.priority < prio {
			plan.Demoted = append(plan.Demoted, nm.pi.Pod)
			sc.unnominate(nm.pi.Key)
		}
	}
	sc.nominate(pod, plan.Node)
	sc.stats.Preemptions++
	sc.stats.Victims += uint64(len(plan.Victims))
	return plan, nil
}

// AbortPreemption undoes what Preempt reserved when its plan could not be
// carried out (a victim could not be deleted): the pod's nomination and
// the marks that make a retry wait for the victims.
func (sc *Scheduler) AbortPreemption(pod *v1.Pod, plan *Preemption) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if nm := sc.nominated[PodKey(pod)]; nm != nil && nm.node == plan.Node {
		sc.unnominate(nm.pi.Key)
	}
	for _, v := range plan.Victims {
		if pi := sc.snap.pods[PodKey(v)]; pi != nil {
			pi.preempted = false
		}
	}
}

// victimsTerminating: n holds a pod of lower priority that this scheduler
// preempted and that has not gone yet (kube: terminating with the
// DisruptionTarget condition; Myriad also knows it from memory before the
// deletion is even visible).
func victimsTerminating(n *NodeInfo, prio int32) bool {
	for _, p := range n.Pods {
		if podPriority(p.Pod) < prio && (p.preempted || terminatingByPreemption(p.Pod)) {
			return true
		}
	}
	return false
}

func terminatingByPreemption(p *v1.Pod) bool {
	if p.DeletionTimestamp == nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == v1.DisruptionTarget {
			return c.Status == v1.ConditionTrue && c.Reason == v1.PodReasonPreemptionByScheduler
		}
	}
	return false
}

// victimsOn is kube's SelectVictimsOnNode for node n: nil and the reasons
// when evicting lower-priority pods cannot make pod fit there. ext judges
// the node with the pods evicted so far gone.
func (sc *Scheduler) victimsOn(pod *v1.Pod, prio int32, f *nodeFacts, cs *clusterState, n *NodeInfo, ext *External) (*victimSet, []string) {
	if _, unresolvable := firstFailure(f, cs, pod, n); unresolvable {
		return nil, []string{ReasonPreemptionNotHelpful}
	}
	var potential []*PodInfo
	for _, p := range n.Pods {
		if podPriority(p.Pod) < prio {
			potential = append(potential, p)
		}
	}
	if len(potential) == 0 {
		return nil, []string{ReasonNoVictims}
	}
	view := sc.withReservations(pod, n)
	if view == n {
		view = n.clone()
	}
	remove := func(p *PodInfo) {
		view.removePod(p, view.Generation)
		cs.account(f, pod, p, n, -1)
	}
	add := func(p *PodInfo) {
		view.addPod(p, view.Generation)
		cs.account(f, pod, p, n, 1)
	}
	for _, p := range potential {
		remove(p)
	}
	// gone is what ext sees evicted: every potential victim, less those
	// reprieved so far.
	gone := slices.Clone(potential)
	fits := func() []string {
		if r := fitsView(f, cs, pod, view); r != nil {
			return r
		}
		if r := sc.crossNodeWithNominated(f, cs, pod, n); r != "" {
			return []string{r}
		}
		return sc.checkExtWithout(ext, pod, n, gone)
	}
	if r := fits(); r != nil {
		for _, p := range potential {
			add(p)
		}
		return nil, r
	}
	slices.SortStableFunc(potential, func(a, b *PodInfo) int {
		switch {
		case moreImportant(a.Pod, b.Pod):
			return -1
		case moreImportant(b.Pod, a.Pod):
			return 1
		}
		return 0
	})
	violating, within := sc.pdbs.splitByPDB(potential)
	vs := &victimSet{n: n}
	reprieve := func(p *PodInfo) bool {
		add(p)
		gone = slices.DeleteFunc(gone, func(g *PodInfo) bool { return g == p })
		if fits() == nil {
			return true
		}
		gone = append(gone, p)
		remove(p)
		vs.victims = append(vs.victims, p)
		return false
	}
	for _, p := range violating {
		if !reprieve(p) {
			vs.violations++
		}
	}
	for _, p := range within {
		reprieve(p)
	}
	// Leave the attempt's state as it was for the next node.
	for _, p := range vs.victims {
		cs.account(f, pod, p, n, 1)
	}
	if len(vs.victims) == 0 {
		// It fits without evicting anyone: the snapshot changed since the
		// failed attempt, and scheduling again (not preempting) is the answer.
		return nil, nil
	}
	if len(violating) > 0 && len(within) > 0 {
		slices.SortStableFunc(vs.victims, func(a, b *PodInfo) int {
			switch {
			case moreImportant(a.Pod, b.Pod):
				return -1
			case moreImportant(b.Pod, a.Pod):
				return 1
			}
			return 0
		})
	}
	return vs, nil
}

// fitsView runs every filter on a simulated node: nil if pod fits.
func fitsView(f *nodeFacts, cs *clusterState, pod *v1.Pod, view *NodeInfo) []string {
	if r := filterNode(f, view); r != nil {
		return r
	}
	if r := filterSpread(cs.spread, pod, view); r != "" {
		return []string{r}
	}
	if r := filterInterPod(cs, view); r != "" {
		return []string{r}
	}
	return nil
}

// firstFailure runs the filters in kube's order on the real node and
// reports the first failure and whether it is one no eviction can resolve
// (kube's UnschedulableAndUnresolvable): node-level mismatches, a request
// larger than the node, a missing spread label, unmet pod affinity.
func firstFailure(f *nodeFacts, cs *clusterState, pod *v1.Pod, n *NodeInfo) ([]string, bool) {
	r := filterNode(f, n)
	if r != nil {
		switch r[0] {
		case ReasonUnschedulable, ReasonNodeName, ReasonTaints, ReasonNodeAffinity:
			return r, true
		case ReasonNodePorts:
			return r, false
		}
		return r, exceedsAllocatable(&f.pi.Requests, f.delegated, n)
	}
	if r := filterSpread(cs.spread, pod, n); r != "" {
		return []string{r}, r == ReasonSpreadMissingLabel
	}
	if r := filterInterPod(cs, n); r != "" {
		return []string{r}, r == ReasonPodAffinity
	}
	return nil, false
}

// exceedsAllocatable: some request is more than the node has at all.
func exceedsAllocatable(req *Resource, delegated []v1.ResourceName, n *NodeInfo) bool {
	a := &n.Allocatable
	if req.MilliCPU > a.MilliCPU || req.Memory > a.Memory || req.EphemeralStorage > a.EphemeralStorage {
		return true
	}
	for name, q := range req.Scalar {
		if q > a.Scalar[name] && !delegatedHere(delegated, name, n) {
			return true
		}
	}
	return false
}

// notStarted sorts pods without a start time as the youngest (kube uses
// the current time; the core has no clock, and only the order matters).
var notStarted = time.Unix(math.MaxInt32, 0)

func startTime(p *v1.Pod) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return notStarted
}

// moreImportant is kube's MoreImportantPod: higher priority, then started
// earlier.
func moreImportant(a, b *v1.Pod) bool {
	if pa, pb := podPriority(a), podPriority(b); pa != pb {
		return pa > pb
	}
	return startTime(a).Before(startTime(b))
}

// pickVictimSet is kube's pickOneNodeForPreemption: each criterion keeps
// the best-scoring candidates, the first of the survivors wins (candidates
// come in a random rotation, so ties are broken at random).
func pickVictimSet(cands []victimSet) victimSet {
	criteria := []func(v *victimSet) int64{
		func(v *victimSet) int64 { return -int64(v.violations) },
		func(v *victimSet) int64 { return -int64(podPriority(v.victims[0].Pod)) },
		func(v *victimSet) int64 {
			var sum int64
			for _, p := range v.victims {
				sum += int64(podPriority(p.Pod)) + int64(math.MaxInt32) + 1
			}
			return -sum
		},
		func(v *victimSet) int64 { return -int64(len(v.victims)) },
		func(v *victimSet) int64 { return earliestStartOfTopPriority(v.victims).UnixNano() },
	}
	for _, score := range criteria {
		if len(cands) == 1 {
			break
		}
		best := int64(math.MinInt64)
		var kept []victimSet
		for i := range cands {
			s := score(&cands[i])
			if s > best {
				best, kept = s, kept[:0]
			}
			if s == best {
				kept = append(kept, cands[i])
			}
		}
		cands = kept
	}
	return cands[0]
}

// earliestStartOfTopPriority: the earliest start among the victims of the
// highest priority (kube's GetEarliestPodStartTime).
func earliestStartOfTopPriority(victims []*PodInfo) time.Time {
	top := podPriority(victims[0].Pod)
	earliest := startTime(victims[0].Pod)
	for _, p := range victims[1:] {
		switch pr := podPriority(p.Pod); {
		case pr == top:
			if s := startTime(p.Pod); s.Before(earliest) {
				earliest = s
			}
		case pr > top:
			top, earliest = pr, startTime(p.Pod)
		}
	}
	return earliest
}
