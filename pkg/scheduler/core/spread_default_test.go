package core_test

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// System-default spreading scores a pod against its siblings only (same
// namespace, selected, not terminating), spreads by hostname on nodes
// without a zone label, and applies only when the pod has no constraints
// of its own and something selects it. Expected values are kube's
// arithmetic done by hand: three candidates weigh hosts by ln(5); zones
// "a" and "" (unlabelled) by ln(4).
func TestSystemDefaultSpread(t *testing.T) {
	web := map[string]string{"app": "web"}
	nodes := []*v1.Node{
		tc.Node("n1", "8", "16Gi", 110, map[string]string{v1.LabelTopologyZone: "a"}),
		tc.Node("n2", "8", "16Gi", 110, map[string]string{v1.LabelTopologyZone: "a"}),
		tc.Node("n3", "8", "16Gi", 110, nil),
	}
	terminating := bound(tc.Pod("ns", "t", "", "", web), "n2")
	terminating.DeletionTimestamp = &metav1.Time{}
	existing := []*v1.Pod{
		bound(tc.Pod("ns", "w1", "", "", web), "n1"),
		bound(tc.Pod("ns", "w2", "", "", web), "n1"),
		bound(tc.Pod("ns", "w3", "", "", web), "n3"),
		terminating,
		bound(tc.Pod("other", "w4", "", "", web), "n2"),
		bound(tc.Pod("ns", "db", "", "", map[string]string{"app": "db"}), "n2"),
	}
	own := withPod(tc.Pod("ns", "p", "", "", web), func(p *v1.Pod) {
		// No node has the key: kube ignores every node, all score 0.
		p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "rack", WhenUnsatisfiable: v1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: web}}}
	})
	tests := []struct {
		name    string
		service map[string]string
		pod     *v1.Pod
		want    map[string]int64
	}{
		// raw n1 2·ln5+2 + 2·ln4+4 = 12, n2 2 + 2·ln4+4 = 9, n3 ln5+2 = 4
		{"siblings by service", web, tc.Pod("ns", "p", "", "", web), map[string]int64{"n1": 33, "n2": 58, "n3": 100}},
		{"nothing selects the pod", nil, tc.Pod("ns", "p", "", "", web), map[string]int64{"n1": 0, "n2": 0, "n3": 0}},
		{"own constraints win", web, own, map[string]int64{"n1": 0, "n2": 0, "n3": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := scorer(core.Weights{TopologySpread: 1}, nodes...)
			for _, p := range existing {
				if err := sc.AddPod(p); err != nil {
					t.Fatal(err)
				}
			}
			if tt.service != nil {
				sc.UpdateService(&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}, Spec: v1.ServiceSpec{Selector: tt.service}})
			}
			assertScores(t, sc, tt.pod, tt.want)
		})
	}
}

// scorer is a core that scores with the given weights only, on every node.
func scorer(w core.Weights, nodes ...*v1.Node) *core.Scheduler {
	cfg := core.DefaultConfig()
	cfg.Weights = w
	cfg.Enough = core.AllNodes()
	sc := core.New(cfg)
	for _, n := range nodes {
		sc.UpdateNode(n)
	}
	return sc
}

func assertScores(t *testing.T, sc *core.Scheduler, pod *v1.Pod, want map[string]int64) {
	t.Helper()
	got, err := sc.ScoreNodes(pod)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("scored %v, want %v", got, want)
	}
	for _, ns := range got {
		if w, ok := want[ns.Node]; !ok || w != ns.Score {
			t.Fatalf("scores %v, want %v", got, want)
		}
	}
}

// Counts follow the snapshot: a placed sibling makes its node score lower
// for the next replica, and forgetting it restores the scores.
func TestSystemDefaultSpreadFollowsPlacements(t *testing.T) {
	sc := scorer(core.Weights{TopologySpread: 1}, tc.Node("n1", "8", "16Gi", 110, nil), tc.Node("n2", "8", "16Gi", 110, nil))
	sc.UpdateService(&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}, Spec: v1.ServiceSpec{Selector: map[string]string{"app": "web"}}})
	replica := func(name string) *v1.Pod { return tc.Pod("ns", name, "", "", map[string]string{"app": "web"}) }
	even := map[string]int64{"n1": 100, "n2": 100}
	assertScores(t, sc, replica("r0"), even)
	if err := sc.Assume(replica("r1"), "n1"); err != nil {
		t.Fatal(err)
	}
	// raw n1 ln4+2 = 3, n2 2: 100·(3+2-3)/3 = 66, 100·(3+2-2)/3 = 100
	assertScores(t, sc, replica("r2"), map[string]int64{"n1": 66, "n2": 100})
	sc.Forget(replica("r1"))
	assertScores(t, sc, replica("r3"), even)
}
