package oracle_test

import (
	"context"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

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
		pods := append([]*v1.Pod(nil), cl.Pods...)
		sc := newScheduler(t, cfg, cl.Namespaces, cl.Nodes, pods)
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
