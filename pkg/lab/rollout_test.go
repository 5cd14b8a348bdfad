package lab

import (
	"strings"
	"testing"
	"time"
)

// A rollout that stopped says how far it got, and names the status that
// lagged behind the pods.
func TestRolloutOfSaysHowFarAStoppedPhaseGot(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	podsDone := start.Add(20 * time.Second)
	f := PodFigures{PodsDoneAt: &podsDone, Final: PodCounts{Updated: 10, Available: 9, Live: 10}}
	r := RolloutOf(f, start, start.Add(time.Minute), 10, "timed out", "the CloneSet's")
	if r.Done || r.Seconds != nil || r.PodsSeconds == nil || *r.PodsSeconds != 20 {
		t.Fatalf("rollout %+v", r)
	}
	for _, want := range []string{"10 of 10 pods updated (9 available, 10 live, 0 terminating) after 1m0s", "the CloneSet's status never said so"} {
		if !strings.Contains(r.Reached, want) {
			t.Errorf("reached %q does not say %q", r.Reached, want)
		}
	}
	done := start.Add(40 * time.Second)
	f.DoneAt = &done
	if r := RolloutOf(f, start, done, 10, "", "the CloneSet's"); !r.Done || r.Reached != "" || *r.PodsPerSecond != 0.25 {
		t.Errorf("finished rollout %+v", r)
	}
}

// In place keeps every pod, a recreation replaces every pod, and neither
// makes more pods unavailable than maxUnavailable allows.
func TestJudgeRolloutNamesWhatBrokeTheRules(t *testing.T) {
	l := RolloutLimits{MaxUnavailable: "10%", MaxUnavailablePods: 2, InPlaceChange: "an image-only change"}
	three, two := 3, 2
	if got := JudgeRollout("phase 2 (in-place)", RolloutInPlace, 20, 1, &three, l); len(got) != 2 ||
		!strings.Contains(got[0], "recreated 1 pods; an image-only change must keep every pod") ||
		!strings.Contains(got[1], "had 3 pods unavailable at once; maxUnavailable 10% allows 2") {
		t.Errorf("in place: %q", got)
	}
	if got := JudgeRollout("phase 3 (recreate)", RolloutRecreate, 20, 19, &two, l); len(got) != 1 || !strings.Contains(got[0], "recreated 19 of 20 pods") {
		t.Errorf("recreate: %q", got)
	}
	if got := JudgeRollout("phase 3 (recreate)", RolloutRecreate, 20, 20, &two, l); len(got) != 0 {
		t.Errorf("a good recreation fails: %q", got)
	}
}
