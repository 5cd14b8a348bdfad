package oracle_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// TestNominatedPodsAgainstKubeScheduler: on 100 seeded random clusters
// with pending pods nominated to random nodes (as preemptors waiting for
// their victims), every node verdict of Myriad's full filter path for pods
// of random priority equals kube-scheduler's plugins run as
// RunFilterPluginsWithNominatedPods runs them: with the nominated pods of
// priority at least the pod's counted on the node, then without.
func TestNominatedPodsAgainstKubeScheduler(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cases, podsPerCase := 100, 8
	if testing.Short() {
		cases = 25
	}
	priorities := []int32{0, 100, 1000}
	var checks, changed int
	var o *oracle
	for seed := range cases {
		r := rand.New(rand.NewPCG(uint64(seed), 77))
		cl := testcluster.New(r, testcluster.Options{Nodes: 3 + r.IntN(8), PodsPerNode: 4, Rich: true})
		if o == nil {
			o = newOracle(ctx, t, cl.Namespaces)
		}
		cfg := core.DefaultConfig()
		cfg.Seed = uint64(seed)
		sc := newScheduler(t, cfg, cl.Namespaces, cl.Nodes, cl.Pods)
		nominated := map[string][]*v1.Pod{}
		for j := range 1 + r.IntN(4) {
			np := testcluster.PendingPod(r, 100+j, cl.Nodes)
			np.UID = types.UID(fmt.Sprintf("nominated-%d", j))
			np.Spec.Priority = &priorities[r.IntN(len(priorities))]
			node := cl.Nodes[r.IntN(len(cl.Nodes))].Name
			sc.Nominate(np, node)
			nominated[node] = append(nominated[node], np)
		}
		for i := range podsPerCase {
			pod := testcluster.PendingPod(r, i, cl.Nodes)
			pod.Spec.Priority = &priorities[r.IntN(len(priorities))]
			want := o.feasibleNominated(ctx, t, pod, cl.Nodes, cl.Pods, nominated)
			without := o.feasible(ctx, t, pod, cl.Nodes, cl.Pods)
			for _, n := range cl.Nodes {
				got := sc.Check(pod, n.Name)
				checks++
				if want[n.Name] != without[n.Name] {
					changed++
				}
				if (got == nil) != want[n.Name] {
					t.Fatalf("seed %d pod %d (priority %d) node %s: myriad reasons %v, kube feasible %v with %d nominated there\npod: %+v",
						seed, i, *pod.Spec.Priority, n.Name, got, want[n.Name], len(reservingOn(pod, nominated[n.Name])), pod.Spec)
				}
			}
		}
	}
	t.Logf("%d node verdicts agreed with kube; the nominations changed kube's verdict in %d", checks, changed)
	if changed == 0 {
		t.Error("no nomination changed a verdict: the generator does not exercise them")
	}
}
