package core_test

import (
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// TestNominatedPodsCountForSpreadAndAffinity: a pod nominated to a node
// counts there for topology spread and inter-pod anti-affinity against
// pods of lower or equal priority, as kube's
// RunFilterPluginsWithNominatedPods counts it; required affinity is not
// satisfied by a nominated pod alone (kube's second pass, without it).
func TestNominatedPodsCountForSpreadAndAffinity(t *testing.T) {
	nodes := []*v1.Node{tc.Node("a", "8", "16Gi", 110, nil), tc.Node("b", "8", "16Gi", 110, nil)}
	db := map[string]string{"app": "db"}
	sel := &metav1.LabelSelector{MatchLabels: db}
	spread := func(name string, priority int32) *v1.Pod {
		p := prio(tc.Pod("ns", name, "100m", "", db), priority)
		p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: v1.LabelHostname,
			WhenUnsatisfiable: v1.DoNotSchedule, LabelSelector: sel}}
		return p
	}
	affinity := func(name string, priority int32, anti bool) *v1.Pod {
		p := prio(tc.Pod("ns", name, "100m", "", nil), priority)
		terms := []v1.PodAffinityTerm{{TopologyKey: v1.LabelHostname, LabelSelector: sel}}
		if anti {
			p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
		} else {
			p.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
		}
		return p
	}
	sc := newCore(t, nodes)
	sc.Nominate(spread("nominated", 1000), "a")

	feasible := func(p *v1.Pod) []string {
		t.Helper()
		var out []string
		scores, err := sc.ScoreNodes(p)
		if err == nil {
			for _, s := range scores {
				out = append(out, s.Node)
			}
		}
		slices.Sort(out)
		// The binder's check before Assume agrees node by node.
		for _, n := range []string{"a", "b"} {
			if ok := sc.Check(p, n) == nil; ok != slices.Contains(out, n) {
				t.Errorf("%s on %s: Check says fits=%v, the decision %v", p.Name, n, ok, out)
			}
		}
		return out
	}
	for _, tt := range []struct {
		pod  *v1.Pod
		want []string
	}{
		{spread("spread-low", 100), []string{"b"}}, // a would hold 2 against b's 0
		{spread("spread-equal", 1000), []string{"b"}},
		{spread("spread-high", 2000), []string{"a", "b"}},
		{affinity("anti-low", 100, true), []string{"b"}},
		{affinity("anti-high", 2000, true), []string{"a", "b"}},
		{affinity("affinity-low", 100, false), nil}, // a nominated pod is not yet there
	} {
		if got := feasible(tt.pod); !slices.Equal(got, tt.want) {
			t.Errorf("%s: feasible on %v, want %v", tt.pod.Name, got, tt.want)
		}
	}

	// A running app=db pod of priority 0 on b: a pod of priority 500 with
	// anti-affinity to app=db fits nowhere, and preempts it on b rather than
	// going to a, where the nominated pod holds its place.
	if err := sc.AddPod(running(prio(tc.Pod("ns", "db-b", "100m", "", db), 0), "b", 0)); err != nil {
		t.Fatal(err)
	}
	mid := affinity("anti-mid", 500, true)
	if res, err := sc.Schedule(mid); err == nil {
		t.Fatalf("placed on %s beside app=db pods, one of them nominated", res.Node)
	}
	plan, err := sc.Preempt(mid)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Node != "b" || !slices.Equal(names(plan.Victims), []string{"db-b"}) {
		t.Errorf("preemption on %s evicting %v; want b evicting db-b", plan.Node, names(plan.Victims))
	}
}
