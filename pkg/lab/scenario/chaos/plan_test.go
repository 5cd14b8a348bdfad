package chaos

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

func planner(seed uint64) Planner {
	return Planner{Rand: rand.New(rand.NewPCG(seed, 1)), KillShare: 0.6, PauseMin: 5 * time.Second, PauseMax: 20 * time.Second,
		Every: 30 * time.Second, LeaderShare: 0.5}
}

var haTargets = []Target{
	{Process: "etcd-0", Kind: "etcd"}, {Process: "etcd-1", Kind: "etcd", Leader: true}, {Process: "etcd-2", Kind: "etcd"},
	{Process: "kube-apiserver-0", Kind: "kube-apiserver"}, {Process: "kube-apiserver-1", Kind: "kube-apiserver"},
	{Process: "myriad-manager-0", Kind: "myriad-manager", Leader: true}, {Process: "myriad-manager-1", Kind: "myriad-manager"},
	{Process: "nodes", Kind: "nodes"},
}

func TestPlannerIsRepeatableFromItsSeed(t *testing.T) {
	a, b := planner(7), planner(7)
	shuffled := append([]Target(nil), haTargets...)
	shuffled[0], shuffled[7] = shuffled[7], shuffled[0]
	for i := range 50 {
		fa, _ := a.Next(haTargets)
		fb, _ := b.Next(shuffled)
		if fa != fb || a.Gap() != b.Gap() {
			t.Fatalf("draw %d differs with the same seed: %+v vs %+v", i, fa, fb)
		}
	}
}

func TestPlannerHitsEveryKindLeadersAndBothSignals(t *testing.T) {
	p := planner(1)
	kinds, leaders, signals := map[string]int{}, 0, map[syscall.Signal]int{}
	for range 2000 {
		f, ok := p.Next(haTargets)
		if !ok {
			t.Fatal("no fault drawn")
		}
		kinds[f.Target.Kind]++
		if f.Target.Leader {
			leaders++
		}
		signals[f.Signal]++
		switch f.Signal {
		case syscall.SIGKILL:
			if f.Pause != 0 {
				t.Fatalf("a kill with a pause: %+v", f)
			}
		case syscall.SIGSTOP:
			if f.Pause < 5*time.Second || f.Pause >= 20*time.Second {
				t.Fatalf("pause %s outside [5s, 20s)", f.Pause)
			}
		default:
			t.Fatalf("unexpected signal %v", f.Signal)
		}
		if g := p.Gap(); g < 15*time.Second || g >= 45*time.Second {
			t.Fatalf("gap %s outside [15s, 45s)", g)
		}
	}
	for _, k := range []string{"etcd", "kube-apiserver", "myriad-manager", "nodes"} {
		// Each kind is drawn as often, however many instances it has.
		if kinds[k] < 400 || kinds[k] > 600 {
			t.Fatalf("kind %s hit %d times of 2000, want about 500: %v", k, kinds[k], kinds)
		}
	}
	// Half of the etcd and manager faults (about 500 of 1000) hit a leader.
	if leaders < 400 || leaders > 600 {
		t.Fatalf("leaders hit %d times, want about 500", leaders)
	}
	if k := signals[syscall.SIGKILL]; k < 1100 || k > 1300 {
		t.Fatalf("kills %d of 2000, want about 1200 (60%%)", k)
	}
}

func TestPlannerWithNothingToHit(t *testing.T) {
	if _, ok := planner(1).Next(nil); ok {
		t.Fatal("a fault drawn from no targets")
	}
}
