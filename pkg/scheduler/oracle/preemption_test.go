package oracle_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// TestPreemptionAgainstKubeFilters: on seeded random clusters whose pods
// have random priorities, every preemption plan of Myriad's core is judged
// by kube-scheduler's filter plugins:
//   - victims are on the chosen node and of strictly lower priority;
//   - without the victims, kube finds the pod feasible on that node;
//   - the victim set is minimal: with any one victim back, kube finds it
//     infeasible (unless the pod has required pod affinity, which eviction
//     of a matching victim can break; kube ignores that case too);
//   - after the victims are removed, Schedule places the pod on that node;
//   - when Myriad finds no plan, no node becomes feasible for kube even
//     with every lower-priority pod on it removed.
func TestPreemptionAgainstKubeFilters(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cases, podsPerCase := 120, 10
	if testing.Short() {
		cases = 30
	}
	var o *oracle
	var plans, victims, refused, refusalsChecked int
	for seed := 0; seed < cases; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		cl := testcluster.New(r, testcluster.Options{Nodes: 4 + r.IntN(20), PodsPerNode: 6, Rich: true})
		for _, p := range cl.Pods {
			setPriority(p, int32(100*r.IntN(4)))
		}
		if o == nil {
			o = newOracle(ctx, t, cl.Namespaces)
		}
		cfg := core.DefaultConfig()
		cfg.Seed = uint64(seed)
		pods := append([]*v1.Pod(nil), cl.Pods...)
		sc := newScheduler(t, cfg, cl.Namespaces, cl.Nodes, pods)
		for i := 0; i < podsPerCase; i++ {
			pod := testcluster.PendingPod(r, i, cl.Nodes)
			setPriority(pod, []int32{0, 150, 250, 1000}[r.IntN(4)])
			if r.IntN(2) == 0 { // crowd the cluster so preemption is needed
				pod.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = resource.MustParse([]string{"1500m", "3", "6"}[r.IntN(3)])
			}
			where := fmt.Sprintf("seed %d pod %d", seed, i)
			res, err := sc.Schedule(pod)
			if err == nil {
				pods = assume(t, sc, pods, pod, res.Node)
				continue
			}
			plan, err := sc.Preempt(pod)
			var npe *core.NoPreemptionError
			switch {
			case errors.As(err, &npe):
				refused++
				if refusalsChecked > seed {
					continue // one exhaustive check per case keeps the test fast
				}
				refusalsChecked++
				for _, n := range cl.Nodes {
					rest := without(pods, func(p *v1.Pod) bool { return p.Spec.NodeName == n.Name && prioOf(p) < prioOf(pod) })
					if o.feasible(ctx, t, pod, cl.Nodes, rest)[n.Name] {
						t.Fatalf("%s: myriad: no preemption helps (%v); kube: evicting lower-priority pods on %s makes it fit", where, npe, n.Name)
					}
				}
				continue
			case err != nil:
				t.Fatalf("%s: Preempt: %v", where, err)
			}
			plans++
			victims += len(plan.Victims)
			isVictim := map[string]bool{}
			for _, v := range plan.Victims {
				// An assumed victim (bound in memory, Binding in flight) is the
				// pending object: no nodeName yet.
				if (v.Spec.NodeName != plan.Node && v.Spec.NodeName != "") || prioOf(v) >= prioOf(pod) {
					t.Fatalf("%s: victim %s (node %s, priority %d) for pod of priority %d on %s", where, v.Name, v.Spec.NodeName, prioOf(v), prioOf(pod), plan.Node)
				}
				isVictim[v.Name+"/"+v.Namespace] = true
			}
			rest := without(pods, func(p *v1.Pod) bool { return isVictim[p.Name+"/"+p.Namespace] })
			if !o.feasible(ctx, t, pod, cl.Nodes, rest)[plan.Node] {
				t.Fatalf("%s: kube finds the pod infeasible on %s after evicting %d victims", where, plan.Node, len(plan.Victims))
			}
			if !hasRequiredPodAffinity(pod) {
				for _, p := range pods {
					if !isVictim[p.Name+"/"+p.Namespace] {
						continue
					}
					if o.feasible(ctx, t, pod, cl.Nodes, append(append([]*v1.Pod(nil), rest...), p))[plan.Node] {
						t.Fatalf("%s: victim %s was not needed: kube finds the pod feasible with it", where, p.Name)
					}
				}
			}
			for _, v := range plan.Victims {
				sc.RemovePod(v)
			}
			pods = rest
			res, err = sc.Schedule(pod)
			if err != nil || res.Node != plan.Node {
				t.Fatalf("%s: after eviction Schedule = %+v, %v; want the nominated node %s", where, res, err, plan.Node)
			}
			pods = assume(t, sc, pods, pod, res.Node)
		}
	}
	t.Logf("%d cases: %d preemption plans (%d victims) accepted by kube's filters and placed; %d refusals, %d of them confirmed node by node", cases, plans, victims, refused, refusalsChecked)
	if plans < cases/2 || refusalsChecked < cases/2 {
		t.Errorf("generator is degenerate: %d plans, %d refusals checked", plans, refusalsChecked)
	}
}

func setPriority(p *v1.Pod, v int32) { p.Spec.Priority = &v }

func prioOf(p *v1.Pod) int32 {
	if p.Spec.Priority == nil {
		return 0
	}
	return *p.Spec.Priority
}

func hasRequiredPodAffinity(p *v1.Pod) bool {
	a := p.Spec.Affinity
	return a != nil && a.PodAffinity != nil && len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}

func without(pods []*v1.Pod, drop func(*v1.Pod) bool) []*v1.Pod {
	out := make([]*v1.Pod, 0, len(pods))
	for _, p := range pods {
		if !drop(p) {
			out = append(out, p)
		}
	}
	return out
}

func assume(t *testing.T, sc *core.Scheduler, pods []*v1.Pod, pod *v1.Pod, node string) []*v1.Pod {
	t.Helper()
	if err := sc.Assume(pod, node); err != nil {
		t.Fatalf("assume %s on %s: %v", pod.Name, node, err)
	}
	b := pod.DeepCopy()
	b.Spec.NodeName = node
	return append(pods, b)
}
