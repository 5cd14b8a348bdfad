package lab

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func failoverRoundAt(t0 time.Time, round int, killed bool, lease, work, running float64) FailoverRoundInput {
	at := func(s float64) *time.Time {
		if s < 0 {
			return nil
		}
		t := t0.Add(time.Duration(s * float64(time.Second)))
		return &t
	}
	r := FailoverRoundInput{Round: round, Killed: killed, Start: t0, ScaledAt: t0.Add(20 * time.Millisecond), OldHolder: "old", Replicas: 20,
		FirstWork: at(work), FirstPod: at(work + 0.1), FirstBound: at(work + 0.2), AllRunning: at(running)}
	if killed {
		r.Restarted, r.LeaseTaken, r.LeaseAcquireTime, r.NewHolder = at(1), at(lease), at(lease-0.1), "new"
	}
	return r
}

func TestFailoverTimesFromTheKill(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	lease := 15.0
	in := FailoverInput{Info: RunInfo{Scenario: "failover", StartedAt: t0, Parameters: map[string]string{}}, Component: "kube-controller-manager",
		Lease: "kube-system/kube-controller-manager", LeaseDurationSeconds: &lease,
		Rounds: []FailoverRoundInput{
			failoverRoundAt(t0, 0, false, -1, 0.05, 1.0),
			failoverRoundAt(t0.Add(time.Minute), 1, true, 17, 18, 19),
			failoverRoundAt(t0.Add(2*time.Minute), 2, true, 15, 16, 21),
		}}
	r := BuildFailoverResult(in)
	if !r.Verdict.Pass {
		t.Fatalf("verdict %+v; want pass", r.Verdict)
	}
	if r.Control == nil || deref(r.Control.AllRunning) != 1.0 || r.Control.LeaseTaken != nil {
		t.Fatalf("control %+v; want all Running at 1s and no new leader", r.Control)
	}
	if len(r.Rounds) != 2 || deref(r.Rounds[0].LeaseTaken) != 17.0 || deref(r.Rounds[1].FirstWork) != 16.0 || r.Rounds[0].NewHolder != "new" {
		t.Errorf("rounds %+v", r.Rounds)
	}
	if deref(r.FirstWork.Mean) != 17.0 || deref(r.AllRunning.Max) != 21.0 || deref(r.ExtraSeconds) != 19.0 {
		t.Errorf("first work mean %v, all running max %v, extra %v; want 17, 21, 19", deref(r.FirstWork.Mean), deref(r.AllRunning.Max), deref(r.ExtraSeconds))
	}
	path, err := WriteFailoverReport(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	for _, want := range []string{"control", "17.0 s", "kube-system/kube-controller-manager", "15 s", "<svg"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestFailoverFailsWhenWorkNeverResumed(t *testing.T) {
	t0 := time.Now()
	stuck := failoverRoundAt(t0, 1, true, -1, -1, -1)
	stuck.Err = "0 of 20 pods Running after 3m0s: context deadline exceeded"
	r := BuildFailoverResult(FailoverInput{Info: RunInfo{StoppedEarly: "round 1: 0 of 20 pods Running"},
		Rounds: []FailoverRoundInput{failoverRoundAt(t0, 0, false, -1, 0.1, 1), stuck}})
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, ";"), "round 1: 0 of 20 pods Running after 3m0s") {
		t.Errorf("verdict %+v; want the stuck round named", r.Verdict)
	}
	if r.FirstWork.Count != 0 || r.ExtraSeconds != nil {
		t.Errorf("figures from a round that never resumed: %+v, extra %v", r.FirstWork, r.ExtraSeconds)
	}
}
