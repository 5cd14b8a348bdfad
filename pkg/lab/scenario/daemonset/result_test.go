package daemonset

import (
	"strings"
	"testing"
	"time"
)

// playRun plays the scenario's phases on n nodes, each rollout batch nodes at
// a time, with maxUnavailable mu.
func playRun(t *testing.T, n, batch int, mu string, inPlace func(f *fleet, image string, batch int)) *Result {
	t.Helper()
	f := newFleet(t, n)
	in := Input{MaxUnavailable: mu, Images: Images}
	in.Phases = append(in.Phases,
		f.phase(Create, Images[0], func() { f.create(Images[0], n) }),
		f.phase(InPlace, Images[1], func() { inPlace(f, Images[1], batch) }),
		f.phase(Recreate, Images[2], func() { f.recreate(Images[2], batch) }))
	return Build(in)
}

func TestRolloutsWithinBudgetPass(t *testing.T) {
	r := playRun(t, 20, 2, "10%", (*fleet).inPlace)
	if !r.Verdict.Pass {
		t.Fatalf("verdict: %+v", r.Verdict)
	}
	if len(r.Phases) != 3 || r.Nodes != 20 {
		t.Fatalf("%d phases on %d nodes", len(r.Phases), r.Nodes)
	}
	create, in, re := r.Phases[0], r.Phases[1], r.Phases[2]
	if create.Budget != nil || create.MaxWithout != 20 || create.WithoutAtEnd != 0 {
		t.Errorf("creation: budget %v, %d nodes without an agent at most, %d at the end; want none, 20, 0", create.Budget, create.MaxWithout, create.WithoutAtEnd)
	}
	if in.Recreated != 0 || in.UIDsKept != 20 || in.RestartedInPlace != 20 {
		t.Errorf("in place: %d recreated, %d UIDs kept, %d restarted in place; want 0, 20, 20", in.Recreated, in.UIDsKept, in.RestartedInPlace)
	}
	if re.Recreated != 20 || re.UIDsKept != 0 || re.Created != 20 {
		t.Errorf("recreate: %d recreated, %d UIDs kept, %d created; want 20, 0, 20", re.Recreated, re.UIDsKept, re.Created)
	}
	for _, p := range []Phase{in, re} {
		if p.Budget == nil || *p.Budget != 2 || p.MaxWithout != 2 || !p.Done {
			t.Errorf("%s: done %v, at most %d nodes without a ready agent, budget %v; want done, 2, 2", p.Kind, p.Done, p.MaxWithout, p.Budget)
		}
		if len(p.Coverage) < 2 || p.Coverage[len(p.Coverage)-1].Without != 0 {
			t.Errorf("%s: coverage series %v does not end with every node covered", p.Kind, p.Coverage)
		}
	}
	// Ten batches a second and a half apart in place, two seconds apart
	// recreating: the comparison says recreating took longer.
	c := r.Comparison
	if c.InPlaceSeconds == nil || c.RecreateSeconds == nil || c.RecreateOverInPlace == nil || *c.RecreateOverInPlace <= 1 {
		t.Errorf("comparison %+v: want recreate slower than in place", c)
	}
	if c.UpstreamSeconds != nil {
		t.Errorf("no upstream phase ran, yet it has %v s", *c.UpstreamSeconds)
	}
	rows := r.Rows()
	if len(rows[0]) != 4 || rows[0][2] != "2 in-place" {
		t.Errorf("printed head %v", rows[0])
	}
	if pg := r.Page(); len(pg.Charts) < 2 || pg.Charts[0].Empty {
		t.Errorf("report has %d charts; want the rollouts' nodes without a ready agent first, not empty", len(pg.Charts))
	}
}

func TestRolloutOverBudgetFails(t *testing.T) {
	r := playRun(t, 20, 3, "10%", (*fleet).inPlace)
	if r.Verdict.Pass {
		t.Fatal("3 nodes at a time under maxUnavailable 10% of 20 passed")
	}
	want := "phase 2 (in-place) left 3 nodes without a ready agent at once (1.0s after the write); maxUnavailable 10% allows 2"
	if !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), want) {
		t.Errorf("reasons %q lack %q", r.Verdict.Reasons, want)
	}
}

func TestInPlaceThatRecreatesFails(t *testing.T) {
	r := playRun(t, 10, 1, "1", (*fleet).recreate)
	if r.Verdict.Pass {
		t.Fatal("an in-place rollout that recreated every agent passed")
	}
	if got := r.Phases[1]; got.Recreated != 10 || got.UIDsKept != 0 {
		t.Errorf("in place: %d recreated, %d UIDs kept; want 10, 0", got.Recreated, got.UIDsKept)
	}
	if !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "phase 2 (in-place) recreated 10 pods; an image-only change must keep every pod") {
		t.Errorf("reasons %q do not say the in-place rollout recreated pods", r.Verdict.Reasons)
	}
}

func TestUnfinishedPhaseFailsAndSaysWhere(t *testing.T) {
	f := newFleet(t, 5)
	in := Input{MaxUnavailable: "1", Images: Images}
	in.Phases = append(in.Phases, f.phase(Create, Images[0], func() { f.create(Images[0], 5) }))
	start := f.begin(Images[1])
	f.clk.Step(3 * time.Second)
	in.Phases = append(in.Phases, PhaseInput{Kind: InPlace, Image: Images[1], Want: 5, Start: start, End: f.clk.Now(),
		Pods: f.pods.End(), Coverage: f.cov.End(), Err: "not done within --phase-timeout 3s: 0 of 5 pods updated"})
	in.Skipped = []string{"phase 3 (recreate): phase 2 (in-place) did not finish"}
	r := Build(in)
	if r.Verdict.Pass || r.Phases[1].Done {
		t.Fatalf("an unfinished phase passed: %+v", r.Verdict)
	}
	reasons := strings.Join(r.Verdict.Reasons, "\n")
	if !strings.Contains(reasons, "phase 2 (in-place) stopped: not done within --phase-timeout 3s") || !strings.Contains(reasons, "0 of 5 pods updated") {
		t.Errorf("reasons %q do not say where the phase stopped", reasons)
	}
	if !strings.Contains(strings.Join(r.Verdict.Warnings, "\n"), "not run: phase 3 (recreate)") {
		t.Errorf("warnings %q do not name the phase not run", r.Verdict.Warnings)
	}
}
