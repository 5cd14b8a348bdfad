package core_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

func nameTerm(reqs ...v1.NodeSelectorRequirement) v1.NodeSelectorTerm {
	return v1.NodeSelectorTerm{MatchFields: reqs}
}

func namesIn(names ...string) v1.NodeSelectorRequirement {
	return v1.NodeSelectorRequirement{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: names}
}

func pinned(p *v1.Pod, terms ...v1.NodeSelectorTerm) *v1.Pod {
	p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: terms}}}
	return p
}

func pinnedCore(t testing.TB, nodes int) *core.Scheduler {
	t.Helper()
	sc := core.New(core.DefaultConfig())
	for i := range nodes {
		sc.UpdateNode(tc.Node(fmt.Sprintf("n%d", i), "4", "8Gi", 110, map[string]string{"kubernetes.io/hostname": fmt.Sprintf("n%d", i)}))
	}
	return sc
}

// A pod whose every required term names its nodes is looked at on those
// nodes alone, as kube-scheduler's NodeAffinity PreFilter narrows it: the
// terms are ORed, a term's name requirements ANDed, NotIn narrows nothing.
func TestPinnedPodsAreDecidedOnTheirNamedNodesOnly(t *testing.T) {
	cases := []struct {
		name    string
		terms   []v1.NodeSelectorTerm
		want    []string // nodes the pod may land on (nil: any)
		not     string   // a node it must not land on ("": none)
		visited int      // nodes looked at
	}{
		{"one name (a DaemonSet pod)", []v1.NodeSelectorTerm{nameTerm(namesIn("n7"))}, []string{"n7"}, "", 1},
		{"terms are ORed", []v1.NodeSelectorTerm{nameTerm(namesIn("n1")), nameTerm(namesIn("n2")), nameTerm(namesIn("n3"))}, []string{"n1", "n2", "n3"}, "", 3},
		{"requirements of a term are ANDed", []v1.NodeSelectorTerm{nameTerm(namesIn("n2"), namesIn("n2"))}, []string{"n2"}, "", 1},
		{"names of nodes that do not exist are skipped", []v1.NodeSelectorTerm{nameTerm(namesIn("n5")), nameTerm(namesIn("gone"))}, []string{"n5"}, "", 1},
		{"NotIn does not narrow", []v1.NodeSelectorTerm{nameTerm(v1.NodeSelectorRequirement{Key: "metadata.name", Operator: v1.NodeSelectorOpNotIn, Values: []string{"n0"}})}, nil, "n0", 20},
		{"a term without names leaves every node open", []v1.NodeSelectorTerm{nameTerm(namesIn("n1")), {MatchExpressions: []v1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: v1.NodeSelectorOpExists}}}}, nil, "", 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := pinnedCore(t, 20)
			for i := range 5 {
				pod := pinned(tc.Pod("default", fmt.Sprintf("p%d", i), "100m", "64Mi", nil), c.terms...)
				before := sc.Stats().NodesVisited
				res, err := sc.Schedule(pod)
				if err != nil {
					t.Fatalf("pod %d: %v", i, err)
				}
				if c.want != nil && !slices.Contains(c.want, res.Node) {
					t.Errorf("pod %d on %s, want one of %v", i, res.Node, c.want)
				}
				if c.not != "" && res.Node == c.not {
					t.Errorf("pod %d on %s, which its affinity excludes", i, c.not)
				}
				if v := int(sc.Stats().NodesVisited - before); v != c.visited {
					t.Errorf("pod %d: %d nodes looked at, want %d", i, v, c.visited)
				}
				if err := sc.Assume(pod, res.Node); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// When its named nodes are full, a pinned pod's FitError counts every
// other node as kube-scheduler does ("didn't satisfy plugin(s)
// [NodeAffinity]"), and contradicting terms fit nowhere.
func TestPinnedPodsFitErrorCountsTheNodesNotLookedAt(t *testing.T) {
	sc := pinnedCore(t, 10)
	big := pinned(tc.Pod("default", "big", "5", "64Mi", nil), nameTerm(namesIn("n3")))
	_, err := sc.Schedule(big)
	var fe *core.FitError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FitError", err)
	}
	if fe.NumNodes != 10 || fe.Reasons[core.ReasonNotInNodeNames] != 9 || fe.Reasons["Insufficient cpu"] != 1 {
		t.Errorf("FitError %q, want 9 nodes not looked at and 1 short of cpu of 10", fe.Error())
	}
	conflict := pinned(tc.Pod("default", "c", "100m", "64Mi", nil), nameTerm(namesIn("n1"), namesIn("n2")))
	if _, err := sc.Schedule(conflict); !errors.As(err, &fe) || fe.Reasons[core.ReasonAffinityConflict] != 10 {
		t.Errorf("contradicting names: %v, want all 10 nodes for %q", err, core.ReasonAffinityConflict)
	}
	// A pod bigger than its node: no eviction helps there or anywhere.
	_, err = sc.Preempt(big)
	var np *core.NoPreemptionError
	if !errors.As(err, &np) || np.Fit == nil || np.Fit.Reasons[core.ReasonPreemptionNotHelpful] != 10 {
		t.Errorf("preempting for a pinned pod: %v, want all 10 nodes where preemption is not helpful", err)
	}
}

// Preemption for a pinned pod evicts on its named node, the only one
// looked at, though every other node has room.
func TestPinnedPodsPreemptOnTheirNamedNode(t *testing.T) {
	sc := pinnedCore(t, 10)
	low := tc.Pod("default", "low", "3500m", "64Mi", nil)
	low.Spec.NodeName = "n3"
	if err := sc.AddPod(low); err != nil {
		t.Fatal(err)
	}
	agent := pinned(tc.Pod("default", "agent", "1", "64Mi", nil), nameTerm(namesIn("n3")))
	prio := int32(1000)
	agent.Spec.Priority = &prio
	if _, err := sc.Schedule(agent); err == nil {
		t.Fatal("the agent fit on a full node")
	}
	p, err := sc.Preempt(agent)
	if err != nil {
		t.Fatalf("preempt: %v", err)
	}
	if p.Node != "n3" || len(p.Victims) != 1 || p.Victims[0].Name != "low" {
		t.Errorf("preemption on %s evicting %d pods, want n3 evicting low", p.Node, len(p.Victims))
	}
}

// BenchmarkDaemonPods is an agent per node: each pod pinned by name to its
// node, as the DaemonSet controller and BroadcastJob make them. They
// request nothing, so that they fit on the test cluster's full nodes too.
func BenchmarkDaemonPods(b *testing.B) {
	for _, nodes := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			cl := benchCluster(nodes)
			sc := core.New(core.DefaultConfig())
			for _, n := range cl.Nodes {
				sc.UpdateNode(n)
			}
			for _, p := range cl.Pods {
				if err := sc.AddPod(p); err != nil {
					b.Fatal(err)
				}
			}
			r := rand.New(rand.NewPCG(2, 2))
			pods := make([]*v1.Pod, b.N)
			for i := range pods {
				node := cl.Nodes[r.IntN(len(cl.Nodes))].Name
				pods[i] = pinned(tc.Pod("default", fmt.Sprintf("agent-%d", i), "0", "0", map[string]string{"app": "agent"}), nameTerm(namesIn(node)))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := sc.Schedule(pods[i])
				if err != nil {
					b.Fatal(err)
				}
				if err := sc.Assume(pods[i], res.Node); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(sc.Stats().NodesVisited)/float64(b.N), "nodes/op")
		})
	}
}
