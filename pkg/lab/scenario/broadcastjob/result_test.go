package broadcastjob

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// jobPod is a pod of phase as the simulated nodes report it.
func jobPod(phase string, i int, node string, p corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i), UID: types.UID(fmt.Sprintf("%s-%d", phase, i)),
			Labels: map[string]string{PhaseLabel: phase}},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: p},
	}
}

func nodeNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("node-%d", i)
	}
	return out
}

// runPhase plays a phase: every pod created at 1s, bound and Running at
// 2s, Succeeded at 12s, with place giving each pod's node.
func runPhase(t *testing.T, kind string, nodes []string, place func(i int) string) PhaseInput {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	tr := NewTracker(clk)
	// A pod of another phase is not this phase's.
	tr.Upsert(jobPod("other", 0, nodes[0], corev1.PodSucceeded))
	start := tr.Begin(kind, len(nodes))
	step := func(d time.Duration, ph corev1.PodPhase, bound bool) {
		clk.Step(d)
		for i := range nodes {
			node := ""
			if bound {
				node = place(i)
			}
			tr.Upsert(jobPod(kind, i, node, ph))
		}
		tr.Sample()
	}
	step(time.Second, corev1.PodPending, false)
	step(time.Second, corev1.PodRunning, true)
	step(10*time.Second, corev1.PodSucceeded, true)
	clk.Step(time.Second)
	statusAt := clk.Now()
	n := int32(len(nodes))
	return PhaseInput{Kind: kind, Want: len(nodes), Nodes: nodes, Start: start, End: clk.Now(), Pods: tr.End(),
		Status: StatusView{Phase: "completed", Desired: n, Succeeded: n, Complete: true}, StatusDoneAt: &statusAt,
		API: &lab.APIRequestDelta{Kinds: []lab.APIRequestCount{
			{Verb: "POST", Resource: "pods", Count: float64(n)},
			{Verb: "PATCH", Resource: "pods/status", Count: 3 * float64(n)},
			{Verb: "PUT", Resource: "broadcastjobs.apps.kruise.io/status", Count: 4},
			{Verb: "PUT", Resource: "leases.coordination.k8s.io", Count: 1000},
			{Verb: "GET", Resource: "pods", Count: 500},
		}}}
}

func TestOnePodPerNodeAndAgreeingStatusPass(t *testing.T) {
	nodes := nodeNames(10)
	in := runPhase(t, Broadcast, nodes, func(i int) string { return nodes[i] })
	r := Build(Input{Nodes: 10, Phases: []PhaseInput{in}})
	if !r.Verdict.Pass {
		t.Fatalf("a clean run must pass: %v", r.Verdict.Reasons)
	}
	p := r.Phases[0]
	for name, got := range map[string]*float64{"created": p.CreatedSeconds, "running": p.RunningSeconds, "succeeded": p.SucceededSeconds, "done": p.Seconds} {
		if got == nil {
			t.Fatalf("%s time missing", name)
		}
	}
	if *p.CreatedSeconds != 1 || *p.RunningSeconds != 2 || *p.SucceededSeconds != 12 || *p.Seconds != 13 {
		t.Fatalf("times from creation: created %v, running %v, succeeded %v, done %v; want 1, 2, 12, 13",
			*p.CreatedSeconds, *p.RunningSeconds, *p.SucceededSeconds, *p.Seconds)
	}
	// Writes: 10 creates + 30 status patches + 4 job status updates; Leases
	// and reads left out.
	if p.APIWrites != 44 || p.APIWritesPerNode == nil || *p.APIWritesPerNode != 4.4 {
		t.Fatalf("API writes %v (%v per node), want 44 (4.4 per node)", p.APIWrites, p.APIWritesPerNode)
	}
	if p.WriteKinds[0].Resource != "pods/status" {
		t.Fatalf("write kinds are sorted by count, first is %+v", p.WriteKinds[0])
	}
	last := p.Series[len(p.Series)-1]
	if last.Created != 10 || last.Running != 10 || last.Succeeded != 10 {
		t.Fatalf("series ends at %+v, want 10 of each", last.Counts)
	}
}

func TestNodeWithoutPodOrWithTwoFailsTheRun(t *testing.T) {
	nodes := nodeNames(10)
	// Pods 3 and 4 both land on node-3; node-4 gets none.
	in := runPhase(t, Broadcast, nodes, func(i int) string {
		if i == 4 {
			return nodes[3]
		}
		return nodes[i]
	})
	r := Build(Input{Nodes: 10, Phases: []PhaseInput{in}})
	if r.Verdict.Pass {
		t.Fatal("a node without a pod and a node with two must fail the run")
	}
	all := strings.Join(r.Verdict.Reasons, "; ")
	for _, want := range []string{"1 nodes never got a pod (node-4)", "1 nodes got two or more pods (node-3)"} {
		if !strings.Contains(all, want) {
			t.Fatalf("reasons %q do not say %q", all, want)
		}
	}
}

func TestStatusDisagreeingWithPodsFailsTheRun(t *testing.T) {
	nodes := nodeNames(5)
	in := runPhase(t, Broadcast, nodes, func(i int) string { return nodes[i] })
	in.Status.Desired = 6
	r := Build(Input{Nodes: 5, Phases: []PhaseInput{in}})
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "; "), "the status disagrees with the pods: desired 6") {
		t.Fatalf("a desired count beyond the nodes must fail the run, got pass=%v %v", r.Verdict.Pass, r.Verdict.Reasons)
	}
}

func TestUpstreamPlacementIsReportedNotJudged(t *testing.T) {
	nodes := nodeNames(4)
	bj := runPhase(t, Broadcast, nodes, func(i int) string { return nodes[i] })
	job := runPhase(t, UpstreamJob, nodes, func(int) string { return nodes[0] })
	r := Build(Input{Nodes: 4, Phases: []PhaseInput{bj, job}})
	if !r.Verdict.Pass {
		t.Fatalf("the upstream Job's placement must not fail the run: %v", r.Verdict.Reasons)
	}
	if got := r.Phases[1]; got.NodesWithoutPodCount != 3 || got.NodesWithTwoCount != 1 {
		t.Fatalf("upstream placement: %d without, %d with two; want 3 and 1", got.NodesWithoutPodCount, got.NodesWithTwoCount)
	}
	if !strings.Contains(strings.Join(r.Verdict.Warnings, "; "), "did not place one pod per node") {
		t.Fatalf("warnings %v do not mention the upstream placement", r.Verdict.Warnings)
	}
}

func TestUnfinishedPhaseFails(t *testing.T) {
	nodes := nodeNames(3)
	in := runPhase(t, Broadcast, nodes, func(i int) string { return nodes[i] })
	in.StatusDoneAt, in.Err = nil, "not done within --phase-timeout 1m"
	r := Build(Input{Nodes: 3, Phases: []PhaseInput{in}, Skipped: []string{"phase job: phase broadcastjob did not finish"}})
	if r.Verdict.Pass || !strings.Contains(r.Verdict.Reasons[0], "broadcastjob stopped: not done within --phase-timeout 1m") {
		t.Fatalf("an unfinished phase must fail naming why, got %v", r.Verdict.Reasons)
	}
	if r.Phases[0].Seconds != nil {
		t.Fatal("an unfinished phase has no done time")
	}
}

// A pod seen only Pending then Succeeded has run; a deleted pod leaves the
// per-node count.
func TestTrackerCountsShortPodsAndDeletions(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	tr := NewTracker(clk)
	tr.Begin(Broadcast, 2)
	tr.Upsert(jobPod(Broadcast, 0, "", corev1.PodPending))
	tr.Upsert(jobPod(Broadcast, 0, "node-0", corev1.PodSucceeded))
	tr.Upsert(jobPod(Broadcast, 1, "node-1", corev1.PodRunning))
	tr.Delete(jobPod(Broadcast, 1, "node-1", corev1.PodRunning))
	f := tr.End()
	if f.Final.Created != 2 || f.Final.Running != 2 || f.Final.Succeeded != 1 || f.Final.Deleted != 1 {
		t.Fatalf("counts %+v: want 2 created, 2 have run, 1 succeeded, 1 deleted", f.Final)
	}
	if f.PodsPerNode["node-0"] != 1 || f.PodsPerNode["node-1"] != 0 {
		t.Fatalf("pods per node %v: want node-0 only", f.PodsPerNode)
	}
}
