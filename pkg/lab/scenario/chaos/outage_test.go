package chaos

import (
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

func TestOutagesRunFromTheFirstFailureToTheNextAnswer(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ops := []lab.TimedOp{
		{At: at(0), Seconds: 0.01},
		{At: at(250), Seconds: 2, Err: true},    // the server paused
		{At: at(500), Seconds: 2, Err: true},    // still
		{At: at(400), Seconds: 3.5},             // sent before the failure began? no: after; but too slow
		{At: at(200), Seconds: 0.5},             // sent before the outage began: says nothing
		{At: at(2750), Seconds: 0.05},           // back
		{At: at(3000), Seconds: 0.01},           // fine
		{At: at(9000), Seconds: 0.5, Err: true}, // a new outage, never closed
	}
	got := Outages(ops)
	if len(got) != 2 {
		t.Fatalf("got %d outages, want 2: %+v", len(got), got)
	}
	first := got[0]
	if !first.Start.Equal(at(250)) || !first.End.Equal(at(2800)) || first.Failed != 2 || first.Open {
		t.Fatalf("first outage = %+v, want 250ms → 2800ms, 2 failed, closed", first)
	}
	if !got[1].Open || got[1].Failed != 1 || !got[1].End.Equal(at(9500)) {
		t.Fatalf("second outage = %+v, want open, 1 failed, ending at its answer", got[1])
	}
	if v := Violations(got, 2*time.Second); len(v) != 1 || !v[0].Start.Equal(at(250)) {
		t.Fatalf("violations over 2s = %+v, want the first outage only", v)
	}
}

func TestNoFailuresNoOutage(t *testing.T) {
	t0 := time.Now()
	ops := []lab.TimedOp{{At: t0, Seconds: 0.1}, {At: t0.Add(time.Second), Seconds: 0.1}}
	if got := Outages(ops); len(got) != 0 {
		t.Fatalf("outages = %+v, want none", got)
	}
}

func TestStallsAreSlowProbesAnsweredOrNot(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	ops := []lab.TimedOp{
		{At: t0.Add(2 * time.Second), Seconds: 6},            // held, then answered
		{At: t0, Seconds: 0.1},                               // fine
		{At: t0.Add(time.Second), Seconds: 10, Err: true},    // timed out
		{At: t0.Add(3 * time.Second), Seconds: 5, Err: true}, // exactly the budget: not a stall
	}
	got := Stalls(ops, 5*time.Second)
	if len(got) != 2 || !got[0].Start.Equal(t0.Add(time.Second)) || got[0].Failed != 1 || got[1].Seconds() != 6 || got[1].Failed != 0 {
		t.Fatalf("stalls = %+v, want the timed-out probe then the held one", got)
	}
}
