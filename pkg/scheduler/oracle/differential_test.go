// Package oracle_test is the differential test of issue 4: kube-scheduler's
// own filter plugins judge every decision of Myriad's core. It is the only
// place that imports k8s.io/kubernetes, so unit builds of core stay light.
package oracle_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
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
	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// swappableLister lets plugins built once see a fresh snapshot per pod.
type swappableLister struct{ *cache.Snapshot }

type oracle struct {
	lister  *swappableLister
	plugins []fwk.Plugin
}

func newOracle(ctx context.Context, t *testing.T, namespaces []*v1.Namespace) *oracle {
	schedmetrics.Register() // the plugins' parallelizer reports to these
	fts := feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate)
	o := &oracle{lister: &swappableLister{cache.NewEmptySnapshot()}}
	var objs []runtime.Object
	for _, ns := range namespaces {
		objs = append(objs, ns)
	}
	// kube-scheduler's default filter order.
	for _, p := range []struct {
		f    frameworkruntime.PluginFactory
		args runtime.Object
	}{
		{frameworkruntime.FactoryAdapter(fts, nodeunschedulable.New), nil},
		{frameworkruntime.FactoryAdapter(fts, nodename.New), nil},
		{frameworkruntime.FactoryAdapter(fts, tainttoleration.New), nil},
		{frameworkruntime.FactoryAdapter(fts, nodeaffinity.New), &config.NodeAffinityArgs{}},
		{frameworkruntime.FactoryAdapter(fts, nodeports.New), nil},
		{frameworkruntime.FactoryAdapter(fts, noderesources.NewFit), &config.NodeResourcesFitArgs{ScoringStrategy: &config.ScoringStrategy{
			Type: config.LeastAllocated, Resources: []config.ResourceSpec{{Name: "cpu", Weight: 1}, {Name: "memory", Weight: 1}}}}},
		{frameworkruntime.FactoryAdapter(fts, podtopologyspread.New), &config.PodTopologySpreadArgs{DefaultingType: config.ListDefaulting}},
		{frameworkruntime.FactoryAdapter(fts, interpodaffinity.New), &config.InterPodAffinityArgs{}},
	} {
		o.plugins = append(o.plugins, plugintesting.SetupPluginWithInformers(ctx, t, p.f, p.args, o.lister, objs))
	}
	return o
}

// feasible returns, per node name, whether kube-scheduler's filters accept pod.
func (o *oracle) feasible(ctx context.Context, t *testing.T, pod *v1.Pod, nodes []*v1.Node, pods []*v1.Pod) map[string]bool {
	o.lister.Snapshot = cache.NewSnapshot(pods, nodes)
	infos, err := o.lister.NodeInfos().List()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool, len(nodes))
	if len(pod.Spec.SchedulingGates) > 0 {
		return out
	}
	state := framework.NewCycleState()
	skip := make([]bool, len(o.plugins))
	var allowed map[string]bool
	for i, p := range o.plugins {
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
		ok := true
		for i, p := range o.plugins {
			if skip[i] {
				continue
			}
			if st := p.(fwk.FilterPlugin).Filter(ctx, state, pod, ni); !st.IsSuccess() {
				ok = false
				break
			}
		}
		out[name] = ok
	}
	return out
}

// TestDifferentialAgainstKubeScheduler: for 200 seeded random clusters, every
// node Myriad's full filter path accepts is accepted by kube-scheduler's
// plugins and vice versa; every placement Schedule makes (through the
// caches and sampling) is feasible for kube; every pod Myriad finds
// unschedulable is unschedulable for kube. Placements are assumed, so later
// pods in a case see earlier ones, as in a real scheduling run.
func TestDifferentialAgainstKubeScheduler(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cases, podsPerCase := 200, 8
	if testing.Short() {
		cases = 40
	}
	var placed, unschedulable, nodeChecks int
	var o *oracle
	for seed := 0; seed < cases; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 42))
		cl := testcluster.New(r, testcluster.Options{Nodes: 5 + r.IntN(30), PodsPerNode: 5, Rich: true})
		if o == nil {
			o = newOracle(ctx, t, cl.Namespaces)
		}
		cfg := core.DefaultConfig()
		cfg.Seed = uint64(seed)
		cfg.Enough = []core.EnoughFunc{core.KubeAdaptive(0), core.NomadLog2(), core.Fixed(1)}[seed%3]
		sc := core.New(cfg)
		for _, ns := range cl.Namespaces {
			sc.SetNamespace(ns)
		}
		for _, n := range cl.Nodes {
			sc.UpdateNode(n)
		}
		pods := append([]*v1.Pod(nil), cl.Pods...)
		for _, p := range pods {
			if err := sc.AddPod(p); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < podsPerCase; i++ {
			pod := testcluster.PendingPod(r, i, cl.Nodes)
			want := o.feasible(ctx, t, pod, cl.Nodes, pods)
			anyFeasible := false
			for _, n := range cl.Nodes {
				kubeOK := want[n.Name]
				anyFeasible = anyFeasible || kubeOK
				got := sc.Check(pod, n.Name)
				nodeChecks++
				if (got == nil) != kubeOK {
					t.Fatalf("seed %d pod %d node %s: myriad reasons %v, kube feasible %v\npod: %+v\nnode: %+v", seed, i, n.Name, got, kubeOK, pod.Spec, n)
				}
			}
			res, err := sc.Schedule(pod)
			if err != nil {
				if anyFeasible {
					t.Fatalf("seed %d pod %d: myriad says %v, kube finds a feasible node", seed, i, err)
				}
				unschedulable++
				continue
			}
			if !want[res.Node] {
				t.Fatalf("seed %d pod %d: myriad placed on %s, kube says infeasible", seed, i, res.Node)
			}
			if err := sc.Assume(pod, res.Node); err != nil {
				t.Fatalf("seed %d pod %d: assume: %v", seed, i, err)
			}
			bound := pod.DeepCopy()
			bound.Spec.NodeName = res.Node
			pods = append(pods, bound)
			placed++
		}
	}
	t.Logf("%d cases: %d placed, %d unschedulable (agreed with kube), %d node-level verdicts compared", cases, placed, unschedulable, nodeChecks)
	if placed == 0 || unschedulable == 0 {
		t.Errorf("generator is degenerate: placed=%d unschedulable=%d", placed, unschedulable)
	}
}

var _ = fmt.Sprint
