package daemonset

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cluster builds plan input: n nodes named node-00.., each running one
// available pod at the old revision unless changed by the test.
func cluster(n int) planInput {
	in := planInput{maxUnavailable: 1, burst: 250}
	for i := range n {
		name := fmt.Sprintf("node-%02d", i)
		in.nodes = append(in.nodes, &nodeInfo{name: name, shouldRun: true, shouldContinue: true, inRollout: true,
			pods: []*daemonPod{pod(name, false, true)}})
	}
	return in
}

var podSeq int

func pod(node string, updated, available bool) *daemonPod {
	podSeq++
	return &daemonPod{
		pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-p%d", node, podSeq),
			CreationTimestamp: metav1.NewTime(time.Unix(int64(podSeq), 0))}},
		node: node, updated: updated, ready: available, available: available, inPlace: true,
	}
}

func nodesOf(ds []*daemonPod) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.node)
	}
	sort.Strings(out)
	return out
}

func TestPlanOnePodPerEligibleNode(t *testing.T) {
	in := cluster(4)
	in.nodes[1].pods = nil                                           // new node
	in.nodes[2].shouldRun, in.nodes[2].shouldContinue = false, false // label no longer matches
	in.nodes[3].shouldRun = false                                    // NoSchedule taint added: pod may stay
	in.nodes = append(in.nodes, &nodeInfo{name: "node-04", shouldRun: false})
	in.orphaned = []*daemonPod{pod("gone", false, true)}
	p := makePlan(in)
	if !slices.Equal(p.create, []string{"node-01"}) {
		t.Errorf("create %v, want only the node without a pod", p.create)
	}
	if got := nodesOf(p.delete); !slices.Equal(got, []string{"gone", "node-02"}) {
		t.Errorf("delete on %v, want the ineligible node's and the deleted node's pods", got)
	}
}

func TestPlanDuplicatesKeepUpdatedPod(t *testing.T) {
	in := cluster(1)
	newer := pod("node-00", true, false)
	in.nodes[0].pods = append(in.nodes[0].pods, newer, pod("node-00", false, true))
	p := makePlan(in)
	if len(p.delete) != 2 || slices.Contains(p.delete, newer) {
		t.Errorf("deleted %d pods (updated one deleted: %v), want the two old ones", len(p.delete), slices.Contains(p.delete, newer))
	}
	// With surge, one new next to one old is a rollout in progress.
	in = cluster(1)
	in.maxSurge = 1
	in.nodes[0].pods = append(in.nodes[0].pods, pod("node-00", true, false))
	if p := makePlan(in); len(p.delete) != 0 {
		t.Errorf("surge pair with the new pod not available: deleted %v", nodesOf(p.delete))
	}
}

func TestPlanRollingUpdateMaxUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name           string
		maxUnavailable int
		unavailableOld []int // old pods already unavailable
		missing        []int // nodes without a pod
		want           int   // pods replaced this pass
	}{
		{name: "budget of two", maxUnavailable: 2, want: 2},
		{name: "one already down uses budget", maxUnavailable: 2, missing: []int{4}, want: 1},
		{name: "unavailable old pods are replaced at no cost", maxUnavailable: 1, unavailableOld: []int{1, 2}, want: 2},
		{name: "budget exhausted by missing pods", maxUnavailable: 1, missing: []int{0}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := cluster(5)
			in.maxUnavailable = tc.maxUnavailable
			for _, i := range tc.unavailableOld {
				in.nodes[i].pods[0].available = false
			}
			for _, i := range tc.missing {
				in.nodes[i].pods = nil
			}
			in.inPlace = false
			p := makePlan(in)
			if len(p.delete) != tc.want || len(p.inPlace) != 0 {
				t.Errorf("deleted %v in place %v, want %d deletions", nodesOf(p.delete), nodesOf(p.inPlace), tc.want)
			}
			for _, i := range tc.unavailableOld {
				if !slices.ContainsFunc(p.delete, func(d *daemonPod) bool { return d.node == in.nodes[i].name }) {
					t.Errorf("unavailable old pod on %s not replaced first", in.nodes[i].name)
				}
			}
		})
	}
}

func TestPlanInPlaceWhenPossible(t *testing.T) {
	in := cluster(3)
	in.inPlace, in.maxUnavailable = true, 3
	in.nodes[2].pods[0].inPlace = false // e.g. a command change
	p := makePlan(in)
	if got := nodesOf(p.inPlace); !slices.Equal(got, []string{"node-00", "node-01"}) {
		t.Errorf("in place on %v", got)
	}
	if got := nodesOf(p.delete); !slices.Equal(got, []string{"node-02"}) {
		t.Errorf("recreated %v, want the pod that cannot change in place", got)
	}
}

func TestPlanPartitionSelectorPause(t *testing.T) {
	in := cluster(6)
	in.maxUnavailable = 6
	in.partition = 3
	in.nodes[0].pods[0].updated = true
	if p := makePlan(in); len(p.delete) != 2 {
		t.Errorf("partition 3 of 6 with one updated: replaced %d, want 2", len(p.delete))
	}
	in.partition = 0
	for _, i := range []int{0, 1, 2, 3} {
		in.nodes[i].inRollout = false
	}
	if got := nodesOf(makePlan(in).delete); !slices.Equal(got, []string{"node-04", "node-05"}) {
		t.Errorf("rollout selector: replaced on %v, want only the selected nodes", got)
	}
	in.paused = true
	in.nodes[5].pods = nil
	p := makePlan(in)
	if len(p.delete) != 0 || !slices.Equal(p.create, []string{"node-05"}) {
		t.Errorf("paused: deleted %v created %v; want no update but the new node served", nodesOf(p.delete), p.create)
	}
	in.paused, in.onDelete = false, true
	if p := makePlan(in); len(p.delete) != 0 {
		t.Errorf("OnDelete replaced %v", nodesOf(p.delete))
	}
}

func TestPlanSurgeKeepsNodesCovered(t *testing.T) {
	in := cluster(4)
	in.maxSurge, in.maxUnavailable = 2, 0
	p := makePlan(in)
	if len(p.create) != 2 || len(p.delete) != 0 {
		t.Fatalf("surge 2: created %v deleted %v, want 2 new pods and no deletion", p.create, nodesOf(p.delete))
	}
	// node-00: new pod available → old goes; node-01: new not yet available → old stays.
	newAvail := pod("node-00", true, true)
	in.nodes[0].pods = append(in.nodes[0].pods, newAvail)
	in.nodes[1].pods = append(in.nodes[1].pods, pod("node-01", true, false))
	p = makePlan(in)
	if got := nodesOf(p.delete); !slices.Equal(got, []string{"node-00"}) || slices.Contains(p.delete, newAvail) {
		t.Errorf("deleted on %v, want only node-00's old pod", got)
	}
	if len(p.create) != 0 {
		t.Errorf("created %v, want none: both surge slots hold an old pod until it is gone", p.create)
	}
	// node-01 leaves the rollout selector half-way: its pair still
	// completes, and it is reported.
	in.nodes[1].inRollout = false
	in.nodes[1].pods[1].available = true
	p = makePlan(in)
	if !slices.Contains(nodesOf(p.delete), "node-01") {
		t.Errorf("node that left the selector kept both pods: deleted %v", nodesOf(p.delete))
	}
	if !slices.Equal(p.leftSelector, []string{"node-01"}) {
		t.Errorf("reported %v, want node-01", p.leftSelector)
	}
}

func TestPlanBurstAndPartitionedScaling(t *testing.T) {
	in := cluster(10)
	for _, n := range in.nodes {
		n.pods = nil
	}
	in.burst = 3
	if p := makePlan(in); len(p.create) != 3 {
		t.Errorf("burst 3: created %d", len(p.create))
	}
	for _, n := range in.nodes {
		n.pods = []*daemonPod{pod(n.name, false, true)}
	}
	in.inPlace, in.maxUnavailable = true, 10
	if p := makePlan(in); len(p.inPlace) != 3 {
		t.Errorf("burst 3: %d in-place updates in one pass", len(p.inPlace))
	}
	for _, n := range in.nodes {
		n.pods = nil
	}
	in.burst, in.partitionedScaling, in.partition = 250, true, 4
	if p := makePlan(in); len(p.create) != 6 {
		t.Errorf("partitionedScaling with partition 4 of 10: created %d, want 6", len(p.create))
	}
}

// A whole in-place rollout, pass after pass, with pods taking a pass to
// become available again: the number of nodes without an available pod
// never exceeds maxUnavailable and the rollout finishes.
func TestPlanRolloutNeverExceedsMaxUnavailable(t *testing.T) {
	for _, inPlace := range []bool{true, false} {
		in := cluster(50)
		in.inPlace, in.maxUnavailable = inPlace, 5
		for pass := 0; ; pass++ {
			if pass > 100 {
				t.Fatalf("inPlace=%v: rollout did not finish", inPlace)
			}
			// Pods changed last pass become available now.
			for _, n := range in.nodes {
				for _, d := range n.pods {
					d.available = true
				}
			}
			p := makePlan(in)
			for _, d := range p.inPlace {
				d.updated, d.available = true, false
			}
			for _, d := range p.delete {
				n := in.nodes[slices.IndexFunc(in.nodes, func(n *nodeInfo) bool { return n.name == d.node })]
				n.pods = slices.DeleteFunc(n.pods, func(x *daemonPod) bool { return x == d })
			}
			for _, name := range p.create {
				n := in.nodes[slices.IndexFunc(in.nodes, func(n *nodeInfo) bool { return n.name == name })]
				n.pods = append(n.pods, pod(name, true, false))
			}
			st := counts(in)
			if st.NumberUnavailable > int32(in.maxUnavailable) {
				t.Fatalf("inPlace=%v pass %d: %d nodes unavailable, maxUnavailable %d", inPlace, pass, st.NumberUnavailable, in.maxUnavailable)
			}
			if st.UpdatedNumberScheduled == 50 && st.NumberUnavailable == 0 {
				break
			}
		}
	}
}

func TestEligibility(t *testing.T) {
	node := func(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	tmpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeSelector: map[string]string{"role": "worker"}}}
	e := newEligibility(tmpl)
	worker := map[string]string{"role": "worker"}
	for _, tc := range []struct {
		name           string
		node           *corev1.Node
		run, continue_ bool
	}{
		{"plain worker", node("a", worker), true, true},
		{"nodeSelector mismatch", node("b", map[string]string{"role": "db"}), false, false},
		{"cordoned: daemon pods tolerate it as upstream", node("c", worker, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"not ready: tolerated", node("d", worker, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}), true, true},
		{"custom NoSchedule: no new pod, existing stays", node("e", worker, corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}), false, true},
		{"custom NoExecute: evicted", node("f", worker, corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoExecute}), false, false},
	} {
		run, cont := e.check(tc.node)
		if run != tc.run || cont != tc.continue_ {
			t.Errorf("%s: shouldRun %v shouldContinue %v, want %v %v", tc.name, run, cont, tc.run, tc.continue_)
		}
	}
	spec := corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 1}}}}}
	pinToNode(&spec, "node-7")
	if got := targetNode(&corev1.Pod{Spec: spec}); got != "node-7" {
		t.Errorf("pinned pod targets %q", got)
	}
	if len(spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("pinning dropped the preferred affinity")
	}
}
