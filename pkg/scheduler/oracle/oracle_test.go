// Package oracle_test holds the differential tests of Myriad's scheduler:
// kube-scheduler's own plugins judge every decision of Myriad's core —
// feasibility, scores, preemption victims. It is the only place that imports
// k8s.io/kubernetes, so unit builds of core stay light.
package oracle_test

import (
	"context"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/imagelocality"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/interpodaffinity"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeaffinity"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodename"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeports"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeunschedulable"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/tainttoleration"
	plugintesting "k8s.io/kubernetes/pkg/scheduler/framework/plugins/testing"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// swappableLister lets plugins built once see a fresh snapshot per pod.
type swappableLister struct{ *cache.Snapshot }

// scorePlugin is a kube score plugin with its default-profile weight.
type scorePlugin struct {
	p      fwk.ScorePlugin
	weight int64
}

// oracle is kube-scheduler's default profile, plugin by plugin.
type oracle struct {
	lister     *swappableLister
	fts        feature.Features
	namespaces []runtime.Object
	// filters before and after PodTopologySpread, in kube's default order.
	before, after []fwk.Plugin
	// spread reads Services and controllers through informers, so it is
	// rebuilt (withWorkloads) for every generated cluster.
	spread     fwk.Plugin
	stopSpread context.CancelFunc
	// scorers per NodeResourcesFit strategy, spread excluded.
	scorers map[core.ScoringStrategy][]scorePlugin
}

var resources = []config.ResourceSpec{{Name: "cpu", Weight: 1}, {Name: "memory", Weight: 1}}

func newOracle(ctx context.Context, t *testing.T, namespaces []*v1.Namespace) *oracle {
	schedmetrics.Register() // the plugins' parallelizer reports to these
	o := &oracle{
		lister:  &swappableLister{cache.NewEmptySnapshot()},
		fts:     feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate),
		scorers: map[core.ScoringStrategy][]scorePlugin{},
	}
	for _, ns := range namespaces {
		o.namespaces = append(o.namespaces, ns)
	}
	setup := func(f frameworkruntime.PluginFactory, args runtime.Object) fwk.Plugin {
		return plugintesting.SetupPluginWithInformers(ctx, t, f, args, o.lister, o.namespaces)
	}
	fit := func(s config.ScoringStrategyType) fwk.Plugin {
		return setup(frameworkruntime.FactoryAdapter(o.fts, noderesources.NewFit), &config.NodeResourcesFitArgs{
			ScoringStrategy: &config.ScoringStrategy{Type: s, Resources: resources}})
	}
	affinity := setup(frameworkruntime.FactoryAdapter(o.fts, nodeaffinity.New), &config.NodeAffinityArgs{})
	taints := setup(frameworkruntime.FactoryAdapter(o.fts, tainttoleration.New), nil)
	interPod := setup(frameworkruntime.FactoryAdapter(o.fts, interpodaffinity.New), &config.InterPodAffinityArgs{HardPodAffinityWeight: 1})
	o.before = []fwk.Plugin{
		setup(frameworkruntime.FactoryAdapter(o.fts, nodeunschedulable.New), nil),
		setup(frameworkruntime.FactoryAdapter(o.fts, nodename.New), nil),
		taints,
		affinity,
		setup(frameworkruntime.FactoryAdapter(o.fts, nodeports.New), nil),
		fit(config.LeastAllocated),
	}
	o.after = []fwk.Plugin{interPod}
	balanced := setup(frameworkruntime.FactoryAdapter(o.fts, noderesources.NewBalancedAllocation), &config.NodeResourcesBalancedAllocationArgs{Resources: resources})
	images := plugintesting.SetupPlugin(ctx, t, imagelocality.New, nil, o.lister)
	for strategy, kind := range map[core.ScoringStrategy]config.ScoringStrategyType{core.LeastAllocated: config.LeastAllocated, core.MostAllocated: config.MostAllocated} {
		// kube-scheduler's default score plugins and weights
		// (PodTopologySpread, weight 2, is added per cluster).
		o.scorers[strategy] = []scorePlugin{
			{taints.(fwk.ScorePlugin), 3},
			{affinity.(fwk.ScorePlugin), 2},
			{fit(kind).(fwk.ScorePlugin), 1},
			{balanced.(fwk.ScorePlugin), 1},
			{interPod.(fwk.ScorePlugin), 2},
			{images.(fwk.ScorePlugin), 1},
		}
	}
	o.withWorkloads(ctx, t, nil)
	return o
}

// withWorkloads rebuilds PodTopologySpread with kube's default arguments
// (defaultingType System) over informers holding objs, the Services and
// controllers of the next cluster, and stops the previous one's informers.
func (o *oracle) withWorkloads(ctx context.Context, t *testing.T, objs []runtime.Object) {
	if o.stopSpread != nil {
		o.stopSpread()
	}
	ctx, o.stopSpread = context.WithCancel(ctx)
	all := append(append([]runtime.Object(nil), o.namespaces...), objs...)
	o.spread = plugintesting.SetupPluginWithInformers(ctx, t, frameworkruntime.FactoryAdapter(o.fts, podtopologyspread.New),
		&config.PodTopologySpreadArgs{DefaultingType: config.SystemDefaulting}, o.lister, all)
}

func (o *oracle) filters() []fwk.Plugin {
	return append(append(append([]fwk.Plugin(nil), o.before...), o.spread), o.after...)
}

func (o *oracle) scorePlugins(strategy core.ScoringStrategy) []scorePlugin {
	return append(append([]scorePlugin(nil), o.scorers[strategy]...), scorePlugin{o.spread.(fwk.ScorePlugin), 2})
}

// feasible returns, per node name, whether kube-scheduler's filters accept
// pod on the cluster of nodes and (bound) pods.
func (o *oracle) feasible(ctx context.Context, t *testing.T, pod *v1.Pod, nodes []*v1.Node, pods []*v1.Pod) map[string]bool {
	return o.feasibleNominated(ctx, t, pod, nodes, pods, nil)
}

// feasibleNominated is feasible with pods nominated to nodes (by node
// name), judged as kube's RunFilterPluginsWithNominatedPods judges them:
// on a node holding nominated pods of priority at least pod's, the filters
// run with them added to a copy of the node and of the cycle state (each
// told to the PreFilter extensions' AddPod), then without them; pod must
// pass both.
func (o *oracle) feasibleNominated(ctx context.Context, t *testing.T, pod *v1.Pod, nodes []*v1.Node, pods []*v1.Pod, nominated map[string][]*v1.Pod) map[string]bool {
	o.lister.Snapshot = cache.NewSnapshot(pods, nodes)
	infos, err := o.lister.NodeInfos().List()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool, len(nodes))
	if len(pod.Spec.SchedulingGates) > 0 {
		return out
	}
	filters := o.filters()
	state := framework.NewCycleState()
	skip := make([]bool, len(filters))
	var allowed map[string]bool
	for i, p := range filters {
		pf, ok := p.(fwk.PreFilterPlugin)
		if !ok {
			continue
		}
		res, st := pf.PreFilter(ctx, state, pod, infos)
		if st.IsSkip() {
			skip[i] = true
			continue
		}
		if !st.IsSuccess() {
			return out // unschedulable everywhere
		}
		if res != nil && !res.AllNodes() {
			allowed = map[string]bool{}
			for n := range res.NodeNames {
				allowed[n] = true
			}
		}
	}
	for _, ni := range infos {
		name := ni.Node().Name
		if allowed != nil && !allowed[name] {
			continue
		}
		pass := func(state fwk.CycleState, ni fwk.NodeInfo) bool {
			for i, p := range filters {
				if skip[i] {
					continue
				}
				if st := p.(fwk.FilterPlugin).Filter(ctx, state, pod, ni); !st.IsSuccess() {
					return false
				}
			}
			return true
		}
		ok := true
		if added := reservingOn(pod, nominated[name]); len(added) > 0 {
			withState, withNI := state.Clone(), ni.Snapshot()
			for _, np := range added {
				pi, err := framework.NewPodInfo(np)
				if err != nil {
					t.Fatal(err)
				}
				withNI.AddPodInfo(pi)
				for i, p := range filters {
					pf, isPF := p.(fwk.PreFilterPlugin)
					if skip[i] || !isPF || pf.PreFilterExtensions() == nil {
						continue
					}
					if st := pf.PreFilterExtensions().AddPod(ctx, withState, pod, pi, withNI); !st.IsSuccess() {
						t.Fatalf("%s AddPod: %v", p.Name(), st.AsError())
					}
				}
			}
			ok = pass(withState, withNI)
		}
		out[name] = ok && pass(state, ni)
	}
	return out
}

// reservingOn is kube's addGENominatedPods' choice: the other pods
// nominated there whose priority is at least pod's.
func reservingOn(pod *v1.Pod, nominated []*v1.Pod) []*v1.Pod {
	var out []*v1.Pod
	for _, np := range nominated {
		if np.UID != pod.UID && corev1helpers.PodPriority(np) >= corev1helpers.PodPriority(pod) {
			out = append(out, np)
		}
	}
	return out
}

// scores runs kube-scheduler's scoring phase (PreScore, Score,
// NormalizeScore, weights) over the feasible nodes of the snapshot the last
// feasible call built, and returns each node's total and its parts by
// plugin (for failure messages).
func (o *oracle) scores(ctx context.Context, t *testing.T, strategy core.ScoringStrategy, pod *v1.Pod, feasible map[string]bool) (map[string]int64, map[string]map[string]int64) {
	infos, err := o.lister.NodeInfos().List()
	if err != nil {
		t.Fatal(err)
	}
	var filtered []fwk.NodeInfo
	for _, ni := range infos {
		if feasible[ni.Node().Name] {
			filtered = append(filtered, ni)
		}
	}
	state := framework.NewCycleState()
	total := map[string]int64{}
	parts := map[string]map[string]int64{}
	for _, sp := range o.scorePlugins(strategy) {
		if pre, ok := sp.p.(fwk.PreScorePlugin); ok {
			st := pre.PreScore(ctx, state, pod, filtered)
			if st.IsSkip() {
				continue
			}
			if !st.IsSuccess() {
				t.Fatalf("%s PreScore: %v", sp.p.Name(), st.AsError())
			}
		}
		list := make(fwk.NodeScoreList, len(filtered))
		for i, ni := range filtered {
			s, st := sp.p.Score(ctx, state, pod, ni)
			if !st.IsSuccess() {
				t.Fatalf("%s Score: %v", sp.p.Name(), st.AsError())
			}
			list[i] = fwk.NodeScore{Name: ni.Node().Name, Score: s}
		}
		if ext := sp.p.ScoreExtensions(); ext != nil {
			if st := ext.NormalizeScore(ctx, state, pod, list); !st.IsSuccess() {
				t.Fatalf("%s NormalizeScore: %v", sp.p.Name(), st.AsError())
			}
		}
		for _, ns := range list {
			total[ns.Name] += ns.Score * sp.weight
			if parts[ns.Name] == nil {
				parts[ns.Name] = map[string]int64{}
			}
			parts[ns.Name][sp.p.Name()] = ns.Score * sp.weight
		}
	}
	return total, parts
}

// newScheduler loads a generated cluster into a fresh core.
func newScheduler(t *testing.T, cfg core.Config, namespaces []*v1.Namespace, nodes []*v1.Node, pods []*v1.Pod) *core.Scheduler {
	t.Helper()
	sc := core.New(cfg)
	for _, ns := range namespaces {
		sc.SetNamespace(ns)
	}
	for _, n := range nodes {
		sc.UpdateNode(n)
	}
	for _, p := range pods {
		if err := sc.AddPod(p); err != nil {
			t.Fatal(err)
		}
	}
	return sc
}
