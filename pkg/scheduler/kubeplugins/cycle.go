package kubeplugins

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/myriad-dev/myriad/pkg/scheduler"
	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// cycle is one attempt: kube's CycleState carries what PreFilter and Filter
// found to Reserve and PreBind, as in kube-scheduler's scheduling cycle.
type cycle struct {
	p     *Plugins
	ctx   context.Context
	pod   *v1.Pod
	state *framework.CycleState
	// only, when PreFilter narrowed the nodes (kube's PreFilterResult).
	only sets.Set[string]
	// assumed is the pod as kube hands it to Reserve and PreBind: a copy
	// with spec.nodeName set to the chosen node.
	assumed *v1.Pod
}

// PreFilter runs the plugins' PreFilters. A rejection is a *core.FitError
// naming the plugins' reason for every node.
func (p *Plugins) PreFilter(ctx context.Context, pod *v1.Pod, numNodes int) (scheduler.Cycle, error) {
	state := framework.NewCycleState()
	res, st, _ := p.fw.RunPreFilterPlugins(ctx, state, pod)
	if !st.IsSuccess() {
		if !st.IsRejected() {
			return nil, fmt.Errorf("prefilter: %w", st.AsError())
		}
		return nil, &core.FitError{Pod: pod.Namespace + "/" + pod.Name, NumNodes: numNodes, Reasons: reasonCounts(st, numNodes)}
	}
	c := &cycle{p: p, ctx: ctx, pod: pod, state: state}
	if !res.AllNodes() {
		c.only = res.NodeNames
	}
	return c, nil
}

func reasonCounts(st *fwk.Status, n int) map[string]int {
	out := map[string]int{}
	for _, r := range st.Reasons() {
		out[r] += n
	}
	if len(out) == 0 {
		out[st.Message()] = n
	}
	return out
}

// Check runs the plugins' Filters on n, which passed the core's, as kube's
// RunFilterPluginsWithNominatedPods does: with the nominated pods counted
// on n, then without them.
func (c *cycle) Check(n *core.NodeInfo, nominated []*v1.Pod) []string {
	if len(nominated) > 0 {
		return c.filter(n, nil, nominated)
	}
	if c.only != nil && !c.only.Has(n.Node.Name) {
		return []string{reasonPreFilterNarrowed}
	}
	return statusReasons(c.p.fw.RunFilterPlugins(c.ctx, c.state, c.pod, c.p.nodeInfo(n)))
}

const reasonPreFilterNarrowed = "node(s) didn't satisfy the volume or resource claim plugins' PreFilter"

// Without runs the plugins' Filters on n as it would be with the pods gone,
// as kube's SelectVictimsOnNode does: on a copy of the node's NodeInfo and
// of the cycle state, each removal told to the PreFilter extensions (so
// VolumeRestrictions stops counting a ReadWriteOncePod claim its holder
// frees); with the nominated pods counted and without, as Check.
func (c *cycle) Without(n *core.NodeInfo, gone, nominated []*v1.Pod) []string {
	return c.filter(n, gone, nominated)
}

// filter runs the Filters on a copy of n and the cycle state with the pods
// in gone removed; when there are nominated pods, first with them added
// too, and the pod must pass both.
func (c *cycle) filter(n *core.NodeInfo, gone, nominated []*v1.Pod) []string {
	if c.only != nil && !c.only.Has(n.Node.Name) {
		return []string{reasonPreFilterNarrowed}
	}
	ni, state, r := c.edited(c.p.nodeInfo(n), c.state, gone, false)
	if r != nil {
		return r
	}
	if len(nominated) > 0 {
		withNominated, withState, r := c.edited(ni, state, nominated, true)
		if r != nil {
			return r
		}
		if r := statusReasons(c.p.fw.RunFilterPlugins(c.ctx, withState, c.pod, withNominated)); r != nil {
			return r
		}
	}
	return statusReasons(c.p.fw.RunFilterPlugins(c.ctx, state, c.pod, ni))
}

// edited returns copies of ni and state with pods added (or removed), each
// change told to the PreFilter extensions, as kube's framework tells them
// of nominated pods and of victims. With no pods it returns ni and state.
func (c *cycle) edited(ni *framework.NodeInfo, state fwk.CycleState, pods []*v1.Pod, add bool) (*framework.NodeInfo, fwk.CycleState, []string) {
	if len(pods) == 0 {
		return ni, state, nil
	}
	logger := klog.FromContext(c.ctx)
	ni, state = ni.SnapshotConcrete(), state.Clone()
	for _, p := range pods {
		pi, err := framework.NewPodInfo(p)
		if err != nil {
			return nil, nil, []string{err.Error()}
		}
		var st *fwk.Status
		if add {
			ni.AddPodInfo(pi)
			st = c.p.fw.RunPreFilterExtensionAddPod(c.ctx, state, c.pod, pi, ni)
		} else {
			if err := ni.RemovePod(logger, p); err != nil {
				return nil, nil, []string{err.Error()}
			}
			st = c.p.fw.RunPreFilterExtensionRemovePod(c.ctx, state, c.pod, pi, ni)
		}
		if !st.IsSuccess() {
			return nil, nil, statusReasons(st)
		}
	}
	return ni, state, nil
}

// statusReasons is a filter status in kube's words: nil on success.
func statusReasons(st *fwk.Status) []string {
	if st.IsSuccess() {
		return nil
	}
	if r := st.Reasons(); len(r) > 0 {
		return r
	}
	return []string{st.Message()}
}

// Score runs the plugins' PreScore and Score on the candidates: kube's
// weighted totals, normalized over them as kube normalizes over its
// feasible nodes. Plugins with nothing to score (no claim to provision
// with capacity, no device alternatives) skip, and every node gets 0.
func (c *cycle) Score(cands []*core.NodeInfo) []int64 {
	out := make([]int64, len(cands))
	nodes := make([]fwk.NodeInfo, len(cands))
	for i, n := range cands {
		nodes[i] = c.p.nodeInfo(n)
	}
	if st := c.p.fw.RunPreScorePlugins(c.ctx, c.state, c.pod, nodes); !st.IsSuccess() {
		return out
	}
	scores, st := c.p.fw.RunScorePlugins(c.ctx, c.state, c.pod, nodes)
	if !st.IsSuccess() {
		return out
	}
	for i := range scores {
		out[i] = scores[i].TotalScore
	}
	return out
}

// Reserve runs the plugins' Reserve, undoing it if one fails, and counts
// the pod's claims as in use until the informer shows it bound.
func (c *cycle) Reserve(ctx context.Context, node string) error {
	c.assumed = c.pod.DeepCopy()
	c.assumed.Spec.NodeName = node
	if st := c.p.fw.RunReservePluginsReserve(ctx, c.state, c.assumed, node); !st.IsSuccess() {
		c.p.fw.RunReservePluginsUnreserve(ctx, c.state, c.assumed, node)
		return fmt.Errorf("reserve on %s: %w", node, st.AsError())
	}
	c.p.lister.reserve(c.pod)
	return nil
}

// PreBind writes what Reserve claimed: VolumeBinding binds PVs and
// annotates claims and waits for the PV controller, DynamicResources
// writes the claims' allocation.
func (c *cycle) PreBind(ctx context.Context, node string) error {
	if st := c.p.fw.RunPreBindPlugins(ctx, c.state, c.assumed, node); !st.IsSuccess() {
		return fmt.Errorf("prebind on %s: %w", node, st.AsError())
	}
	return nil
}

// PostFilter runs the plugins' PostFilter (DynamicResources': deallocate a
// claim allocated for a node that no longer fits, delete the
// extended-resource claim an earlier attempt left). Kube's preemption is
// not among them: Myriad's core preempts.
func (c *cycle) PostFilter(ctx context.Context) {
	if _, st := c.p.fw.RunPostFilterPlugins(ctx, c.state, c.pod, framework.NewDefaultNodeToStatus()); st.Code() == fwk.Error {
		klog.FromContext(ctx).Error(st.AsError(), "PostFilter", "pod", klog.KObj(c.pod))
	}
}

// Unreserve undoes Reserve (and what PreBind left half done).
func (c *cycle) Unreserve(ctx context.Context, node string) {
	c.p.fw.RunReservePluginsUnreserve(ctx, c.state, c.assumed, node)
	c.p.lister.release(c.pod.UID)
}
