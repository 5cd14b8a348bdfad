package core_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// prio returns a pod with a priority and, for bound pods, a start time
// (minutes after epoch) and node.
func prio(p *v1.Pod, priority int32) *v1.Pod {
	p.Spec.Priority = &priority
	return p
}

func running(p *v1.Pod, node string, startedMin int) *v1.Pod {
	p.Spec.NodeName = node
	st := metav1.NewTime(epoch.Add(time.Duration(startedMin) * time.Minute))
	p.Status.StartTime = &st
	return p
}

func names(pods []*v1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}

func newCore(t *testing.T, nodes []*v1.Node, pods ...*v1.Pod) *core.Scheduler {
	t.Helper()
	cfg := core.DefaultConfig()
	cfg.Enough = core.AllNodes()
	sc := core.New(cfg)
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

func TestPreemptChoosesNodeAndMinimalVictims(t *testing.T) {
	tests := []struct {
		name        string
		nodes       []*v1.Node
		existing    []*v1.Pod
		pdbs        []*policyv1.PodDisruptionBudget
		pod         *v1.Pod
		wantNode    string
		wantVictims []string
		wantPDB     int
		wantErr     string // NoPreemptionError text
	}{
		{
			name:  "only as many victims as needed, least important first",
			nodes: []*v1.Node{tc.Node("a", "4", "8Gi", 110, nil)},
			existing: []*v1.Pod{
				running(prio(tc.Pod("ns", "low-old", "1", "", nil), 1), "a", 0),
				running(prio(tc.Pod("ns", "low-young", "1", "", nil), 1), "a", 10),
				running(prio(tc.Pod("ns", "mid", "1", "", nil), 5), "a", 5),
				running(prio(tc.Pod("ns", "high", "1", "", nil), 100), "a", 0),
			},
			pod:         prio(tc.Pod("ns", "p", "2", "", nil), 10),
			wantNode:    "a",
			wantVictims: []string{"low-old", "low-young"}, // mid (more important) is reprieved
		},
		{
			name: "node whose most important victim has the lowest priority",
			nodes: []*v1.Node{
				tc.Node("a", "2", "8Gi", 110, nil),
				tc.Node("b", "2", "8Gi", 110, nil),
			},
			existing: []*v1.Pod{
				running(prio(tc.Pod("ns", "a-mid", "2", "", nil), 5), "a", 0),
				running(prio(tc.Pod("ns", "b-low1", "1", "", nil), 1), "b", 0),
				running(prio(tc.Pod("ns", "b-low2", "1", "", nil), 1), "b", 0),
			},
			pod:         prio(tc.Pod("ns", "p", "2", "", nil), 10),
			wantNode:    "b",
			wantVictims: []string{"b-low1", "b-low2"},
		},
		{
			name: "fewer victims on equal priorities",
			nodes: []*v1.Node{
				tc.Node("a", "2", "8Gi", 110, nil),
				tc.Node("b", "2", "8Gi", 110, nil),
			},
			existing: []*v1.Pod{
				running(prio(tc.Pod("ns", "a1", "1", "", nil), 1), "a", 0),
				running(prio(tc.Pod("ns", "a2", "1", "", nil), 1), "a", 0),
				running(prio(tc.Pod("ns", "b1", "2", "", nil), 1), "b", 0),
			},
			pod:         prio(tc.Pod("ns", "p", "2", "", nil), 10),
			wantNode:    "b",
			wantVictims: []string{"b1"},
		},
		{
			name: "latest-started victims on a tie",
			nodes: []*v1.Node{
				tc.Node("a", "2", "8Gi", 110, nil),
				tc.Node("b", "2", "8Gi", 110, nil),
			},
			existing: []*v1.Pod{
				running(prio(tc.Pod("ns", "a1", "2", "", nil), 1), "a", 1),
				running(prio(tc.Pod("ns", "b1", "2", "", nil), 1), "b", 30),
			},
			pod:         prio(tc.Pod("ns", "p", "2", "", nil), 10),
			wantNode:    "b",
			wantVictims: []string{"b1"},
		},
		{
			name: "a disruption budget steers preemption to the other node",
			nodes: []*v1.Node{
				tc.Node("a", "2", "8Gi", 110, nil),
				tc.Node("b", "2", "8Gi", 110, nil),
			},
			existing: []*v1.Pod{
				running(prio(tc.Pod("ns", "db", "2", "", map[string]string{"app": "db"}), 1), "a", 0),
				running(prio(tc.Pod("ns", "web", "2", "", map[string]string{"app": "web"}), 3), "b", 0),
			},
			pdbs: []*policyv1.PodDisruptionBudget{pdb("ns", "db", map[string]string{"app": "db"}, 0)},
			pod:  prio(tc.Pod("ns", "p", "2", "", nil), 10),
			// db has the lower priority, but evicting it breaks its budget.
			wantNode:    "b",
			wantVictims: []string{"web"},
		},
		{
			name:        "a budget is broken when nothing else helps",
			nodes:       []*v1.Node{tc.Node("a", "2", "8Gi", 110, nil)},
			existing:    []*v1.Pod{running(prio(tc.Pod("ns", "db", "2", "", map[string]string{"app": "db"}), 1), "a", 0)},
			pdbs:        []*policyv1.PodDisruptionBudget{pdb("ns", "db", map[string]string{"app": "db"}, 0)},
			pod:         prio(tc.Pod("ns", "p", "2", "", nil), 10),
			wantNode:    "a",
			wantVictims: []string{"db"},
			wantPDB:     1,
		},
		{
			name:     "equal priority is never preempted",
			nodes:    []*v1.Node{tc.Node("a", "2", "8Gi", 110, nil)},
			existing: []*v1.Pod{running(prio(tc.Pod("ns", "peer", "2", "", nil), 10), "a", 0)},
			pod:      prio(tc.Pod("ns", "p", "2", "", nil), 10),
			wantErr:  "0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		{
			name: "no eviction helps a tainted node or one too small",
			nodes: []*v1.Node{
				withNode(tc.Node("tainted", "8", "8Gi", 110, nil), func(n *v1.Node) {
					n.Spec.Taints = []v1.Taint{{Key: "k", Effect: v1.TaintEffectNoSchedule}}
				}),
				tc.Node("small", "1", "8Gi", 110, nil),
				tc.Node("busy", "4", "8Gi", 110, nil),
			},
			existing: []*v1.Pod{
				running(prio(tc.Pod("ns", "x", "100m", "", nil), 1), "tainted", 0),
				running(prio(tc.Pod("ns", "y", "100m", "", nil), 1), "small", 0),
				running(prio(tc.Pod("ns", "z", "3", "", nil), 50), "busy", 0),
			},
			pod:     prio(tc.Pod("ns", "p", "2", "", nil), 10),
			wantErr: "0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
		},
		{
			name:     "preemptionPolicy Never",
			nodes:    []*v1.Node{tc.Node("a", "2", "8Gi", 110, nil)},
			existing: []*v1.Pod{running(prio(tc.Pod("ns", "low", "2", "", nil), 1), "a", 0)},
			pod: withPod(prio(tc.Pod("ns", "p", "2", "", nil), 10), func(p *v1.Pod) {
				never := v1.PreemptNever
				p.Spec.PreemptionPolicy = &never
			}),
			wantErr: "not eligible due to preemptionPolicy=Never.",
		},
		{
			name:  "an existing pod's anti-affinity is resolved by evicting it",
			nodes: []*v1.Node{tc.Node("a", "8", "8Gi", 110, map[string]string{"zone": "z1"})},
			existing: []*v1.Pod{
				running(withPod(prio(tc.Pod("ns", "loner", "100m", "", map[string]string{"app": "loner"}), 1), func(p *v1.Pod) {
					p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
						LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: "zone"}}}}
				}), "a", 0),
				running(prio(tc.Pod("ns", "other", "100m", "", nil), 1), "a", 0),
			},
			pod:         prio(tc.Pod("ns", "p", "100m", "", map[string]string{"app": "web"}), 10),
			wantNode:    "a",
			wantVictims: []string{"loner"},
		},
		{
			name:  "the pod's own anti-affinity is resolved by evicting the match",
			nodes: []*v1.Node{tc.Node("a", "8", "8Gi", 110, map[string]string{"zone": "z1"})},
			existing: []*v1.Pod{
				running(prio(tc.Pod("ns", "web-old", "100m", "", map[string]string{"app": "web"}), 1), "a", 0),
				running(prio(tc.Pod("ns", "db", "100m", "", map[string]string{"app": "db"}), 1), "a", 0),
			},
			pod: withPod(prio(tc.Pod("ns", "p", "100m", "", map[string]string{"app": "web"}), 10), func(p *v1.Pod) {
				p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: "zone"}}}}
			}),
			wantNode:    "a",
			wantVictims: []string{"web-old"},
		},
		{
			name: "a spread constraint is satisfied by evicting in the crowded zone",
			nodes: []*v1.Node{
				tc.Node("a", "8", "8Gi", 110, map[string]string{"zone": "z1"}),
				tc.Node("b", "1", "8Gi", 110, map[string]string{"zone": "z2"}),
			},
			existing: []*v1.Pod{
				running(prio(tc.Pod("ns", "w1", "100m", "", map[string]string{"app": "web"}), 1), "a", 0),
				running(prio(tc.Pod("ns", "w2", "100m", "", map[string]string{"app": "web"}), 1), "a", 1),
				running(prio(tc.Pod("ns", "big", "1", "", nil), 50), "b", 0),
			},
			pod: withPod(prio(tc.Pod("ns", "p", "100m", "", map[string]string{"app": "web"}), 10), func(p *v1.Pod) {
				p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: v1.DoNotSchedule,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
			}),
			// z1 has 2, z2 has 0: skew on a would be 3. Evicting both
			// leaves 0/0 (+1 = skew 1); evicting one gives skew 2. The
			// older is more important, but both must go.
			wantNode:    "a",
			wantVictims: []string{"w1", "w2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := newCore(t, tt.nodes, tt.existing...)
			for _, b := range tt.pdbs {
				sc.UpdatePDB(b)
			}
			if _, err := sc.Schedule(tt.pod); err == nil {
				t.Fatal("test pod must not fit without preemption")
			}
			plan, err := sc.Preempt(tt.pod)
			if tt.wantErr != "" {
				var npe *core.NoPreemptionError
				if !errors.As(err, &npe) || npe.Error() != tt.wantErr {
					t.Fatalf("Preempt = %v, %v; want NoPreemptionError %q", plan, err, tt.wantErr)
				}
				if sc.NominatedNode(tt.pod) != "" {
					t.Fatal("a failed preemption must not nominate")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := names(plan.Victims)
			slices.Sort(got)
			if plan.Node != tt.wantNode || !slices.Equal(got, tt.wantVictims) || plan.NumPDBViolations != tt.wantPDB {
				t.Fatalf("plan = node %s victims %v pdb %d; want %s %v %d", plan.Node, got, plan.NumPDBViolations, tt.wantNode, tt.wantVictims, tt.wantPDB)
			}
			if sc.NominatedNode(tt.pod) != plan.Node {
				t.Fatalf("pod nominated to %q, want %q", sc.NominatedNode(tt.pod), plan.Node)
			}
			// Once the victims are gone, the pod goes where room was made.
			for _, v := range plan.Victims {
				sc.RemovePod(v)
			}
			res, err := sc.Schedule(tt.pod)
			if err != nil || res.Node != plan.Node {
				t.Fatalf("after eviction: %+v %v, want node %s", res, err, plan.Node)
			}
			if err := sc.Assume(tt.pod, res.Node); err != nil {
				t.Fatal(err)
			}
			if sc.NominatedNode(tt.pod) != "" {
				t.Fatal("an assumed pod keeps no nomination")
			}
		})
	}
}

func pdb(ns, name string, sel map[string]string, allowed int32) *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: sel}},
		Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed},
	}
}

// The room a preemption frees belongs to the preemptor: pods of lower or
// equal priority cannot take it while the victims terminate; a pod of
// higher priority can, as in kube.
func TestNominationReservesRoom(t *testing.T) {
	sc := newCore(t, []*v1.Node{tc.Node("a", "4", "8Gi", 110, nil)},
		running(prio(tc.Pod("ns", "low", "3", "", nil), 1), "a", 0))
	pre := prio(tc.Pod("ns", "pre", "3", "", nil), 10)
	plan, err := sc.Preempt(pre)
	if err != nil {
		t.Fatal(err)
	}
	sc.RemovePod(plan.Victims[0]) // gone: 4 cpu free, 3 reserved

	for _, tt := range []struct {
		name string
		prio int32
		fits bool
	}{{"lower", 5, false}, {"equal", 10, false}, {"higher", 20, true}} {
		p := prio(tc.Pod("ns", "other-"+tt.name, "2", "", nil), tt.prio)
		_, err := sc.Schedule(p)
		if (err == nil) != tt.fits {
			t.Errorf("%s priority: Schedule err = %v, want fits=%v", tt.name, err, tt.fits)
		}
		if got := sc.Check(p, "a"); (got == nil) != tt.fits {
			t.Errorf("%s priority: Check = %v, want fits=%v", tt.name, got, tt.fits)
		}
	}
	// A small pod still fits beside the reservation.
	if _, err := sc.Schedule(prio(tc.Pod("ns", "tiny", "500m", "", nil), 1)); err != nil {
		t.Errorf("room beyond the reservation must stay usable: %v", err)
	}
	sc.ClearNomination(pre)
	if _, err := sc.Schedule(prio(tc.Pod("ns", "later", "2", "", nil), 1)); err != nil {
		t.Errorf("cleared nomination still reserves: %v", err)
	}
}

// While the victims of a preemption terminate, a retry of the preemptor
// must not preempt again (elsewhere or more pods): kube waits for them.
func TestNoSecondPreemptionWhileVictimsTerminate(t *testing.T) {
	nodes := []*v1.Node{tc.Node("a", "2", "8Gi", 110, nil), tc.Node("b", "2", "8Gi", 110, nil)}
	sc := newCore(t, nodes,
		running(prio(tc.Pod("ns", "a-low", "2", "", nil), 1), "a", 0),
		running(prio(tc.Pod("ns", "b-low", "2", "", nil), 1), "b", 0))
	pre := prio(tc.Pod("ns", "pre", "2", "", nil), 10)
	plan, err := sc.Preempt(pre)
	if err != nil {
		t.Fatal(err)
	}
	want := "not eligible due to a terminating pod on the nominated node."
	if _, err := sc.Preempt(pre); err == nil || err.Error() != want {
		t.Fatalf("second Preempt before the victim's deletion is visible: %v, want %q", err, want)
	}
	// The deletion becomes visible: terminating with DisruptionTarget.
	v := plan.Victims[0].DeepCopy()
	now := metav1.NewTime(epoch)
	v.DeletionTimestamp = &now
	v.Status.Conditions = []v1.PodCondition{{Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: v1.PodReasonPreemptionByScheduler}}
	if err := sc.AddPod(v); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Preempt(pre); err == nil || err.Error() != want {
		t.Fatalf("second Preempt while the victim terminates: %v, want %q", err, want)
	}
	sc.RemovePod(v)
	res, err := sc.Schedule(pre)
	if err != nil || res.Node != plan.Node {
		t.Fatalf("after the victim is gone: %+v %v, want %s", res, err, plan.Node)
	}
}

// A higher-priority preemptor takes the node from a lower-priority pod
// nominated there: that pod loses its nomination (kube clears it).
func TestPreemptionDemotesLowerNominations(t *testing.T) {
	sc := newCore(t, []*v1.Node{tc.Node("a", "4", "8Gi", 110, nil)},
		running(prio(tc.Pod("ns", "low", "4", "", nil), 1), "a", 0))
	mid := prio(tc.Pod("ns", "mid", "2", "", nil), 5)
	if _, err := sc.Preempt(mid); err != nil {
		t.Fatal(err)
	}
	high := prio(tc.Pod("ns", "high", "4", "", nil), 10)
	plan, err := sc.Preempt(high)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(plan.Demoted); !slices.Equal(got, []string{"mid"}) {
		t.Fatalf("demoted %v, want [mid]", got)
	}
	if sc.NominatedNode(mid) != "" || sc.NominatedNode(high) != "a" {
		t.Fatalf("nominations: mid %q high %q", sc.NominatedNode(mid), sc.NominatedNode(high))
	}
}

func TestPreemptionMessageFollowsFitError(t *testing.T) {
	sc := newCore(t, []*v1.Node{tc.Node("a", "1", "8Gi", 110, nil)},
		running(prio(tc.Pod("ns", "peer", "1", "", nil), 10), "a", 0))
	pod := prio(tc.Pod("ns", "p", "1", "", nil), 10)
	_, err := sc.Schedule(pod)
	var fit *core.FitError
	if !errors.As(err, &fit) {
		t.Fatal(err)
	}
	_, perr := sc.Preempt(pod)
	fit.PostFilterMsg = "preemption: " + perr.Error()
	want := "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
	if fit.Error() != want {
		t.Fatalf("got %q\nwant %q", fit.Error(), want)
	}
}

// Preemption over many nodes stops at kube's candidate count and still
// picks the cheapest node it saw.
func TestPreemptScalesToManyNodes(t *testing.T) {
	var nodes []*v1.Node
	var pods []*v1.Pod
	for i := 0; i < 2000; i++ {
		name := fmt.Sprintf("n%04d", i)
		nodes = append(nodes, tc.Node(name, "2", "8Gi", 110, nil))
		pods = append(pods, running(prio(tc.Pod("ns", "p-"+name, "2", "", nil), int32(1+i%3)), name, 0))
	}
	sc := newCore(t, nodes, pods...)
	plan, err := sc.Preempt(prio(tc.Pod("ns", "pre", "2", "", nil), 10))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Victims) != 1 || *plan.Victims[0].Spec.Priority != 1 {
		t.Fatalf("want one victim of the lowest priority, got %v", names(plan.Victims))
	}
	if st := sc.Stats(); st.Preemptions != 1 || st.Victims != 1 {
		t.Fatalf("stats %+v", st)
	}
}
