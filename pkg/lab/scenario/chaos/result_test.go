package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

var t0 = time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
func atp(s float64) *time.Time {
	t := at(s)
	return &t
}

// probes are ops every 0.25 s over [from, to), failing in [failFrom,
// failTo).
func probes(from, to, failFrom, failTo float64) []lab.TimedOp {
	var ops []lab.TimedOp
	for s := from; s < to; s += 0.25 {
		ops = append(ops, lab.TimedOp{At: at(s), Seconds: 0.01, Err: s >= failFrom && s < failTo})
	}
	return ops
}

func settled() PodCheck {
	return PodCheck{Settled: true, DeploymentReplicas: 10, DeploymentPods: 10, DeploymentRunning: 10, CloneSetReplicas: 10, CloneSetCreated: 10, CloneSetUpdated: 10,
		Scales: 5, Rollouts: 2}
}

func TestBuildJudgesOutagesAgainstTheBudgetExceptASinglePointsOwn(t *testing.T) {
	in := Input{Info: lab.RunInfo{Scenario: "chaos"}, FaultsFrom: t0, FaultsTo: at(100), MaxUnavailable: 5 * time.Second,
		Faults: []FaultInput{
			// The only API server killed: 8 s without answers, expected.
			{Process: "kube-apiserver", Kind: "kube-apiserver", Instances: 1, Signal: "KILL", At: at(10), BackAt: atp(18)},
			// A leader killed under HA; its standby led 0.6 s later.
			{Process: "myriad-manager-0", Kind: "myriad-manager", Leader: true, Instances: 2, Signal: "KILL", At: at(40), BackAt: atp(41.2), LeaderAt: atp(40.6)},
			// One of three etcd members paused: 7 s without answers, a violation.
			{Process: "etcd-1", Kind: "etcd", Leader: true, Instances: 3, Signal: "STOP", Pause: 10 * time.Second, At: at(60), ResumedAt: atp(70), BackAt: atp(70.3)},
		},
		Reads:  append(probes(0, 10, 0, 0), append(probes(10, 60, 10, 18), probes(60, 100, 60.5, 67.5)...)...),
		Writes: probes(0, 100, -1, -1),
		Acked:  500, Checked: true, Pods: settled(),
	}
	r := Build(in)
	if r.Violations != 1 {
		t.Fatalf("violations = %d, want 1 (the etcd pause's): %+v", r.Violations, r.Reads.Outages)
	}
	if len(r.Reads.Outages) != 2 || r.Reads.Outages[0].Fault != 0 || r.Reads.Outages[0].Violation || r.Reads.Outages[1].Fault != 2 || !r.Reads.Outages[1].Violation {
		t.Fatalf("read outages = %+v, want the API server's (no violation) and etcd's (a violation)", r.Reads.Outages)
	}
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "1 availability violations") {
		t.Fatalf("verdict = %+v, want a failure naming the violation", r.Verdict)
	}
	if !strings.Contains(strings.Join(r.Verdict.Warnings, "\n"), "expected without --ha") {
		t.Fatalf("warnings = %v, want the single API server's outage named", r.Verdict.Warnings)
	}
	f := r.Faults
	// An API server's service is back with the first read and write sent
	// after the fault that were answered: reads at 18 s.
	if f[0].Service == nil || *f[0].Service < 7.9 || *f[0].Service > 8.1 || !f[0].SinglePoint {
		t.Fatalf("API server fault = %+v, want service back after ~8 s, a single point", f[0])
	}
	if f[1].Service == nil || *f[1].Service < 0.59 || *f[1].Service > 0.61 {
		t.Fatalf("manager fault service = %v, want 0.6 s", f[1].Service)
	}
	var mgr Kind
	for _, k := range r.Kinds {
		if k.Kind == "myriad-manager" {
			mgr = k
		}
	}
	if mgr.KilledLeader.Count != 1 || mgr.Kills != 1 || mgr.Leaders != 1 {
		t.Fatalf("manager summary = %+v, want one killed leader", mgr)
	}
}

func TestBuildFailsOnLostWritesAndPods(t *testing.T) {
	pods := settled()
	pods.CloneSetCreated, pods.CloneSetDeleted = 11, 1 // one pod replaced
	pods.DeploymentPods = 9
	in := Input{FaultsFrom: t0, MaxUnavailable: 5 * time.Second, Checked: true, Acked: 10, Pods: pods,
		Faults: []FaultInput{{Process: "nodes", Kind: "nodes", Instances: 1, Signal: "KILL", At: at(1), BackAt: atp(2), LeaderAt: atp(3)}},
		Lost:   []string{"ack-0000003: created (acknowledged), missing at the end"}}
	r := Build(in)
	why := strings.Join(r.Verdict.Reasons, "\n")
	for _, want := range []string{"1 acknowledged writes lost", "1 pods created twice", "2 pods lost"} {
		if !strings.Contains(why, want) {
			t.Errorf("reasons %q lack %q", why, want)
		}
	}
}

func TestBuildWithoutFaultsOrChecksHasNoData(t *testing.T) {
	r := Build(Input{FaultsFrom: t0, MaxUnavailable: time.Second})
	why := strings.Join(r.Verdict.Reasons, "\n")
	if r.Verdict.Pass || !strings.Contains(why, "no data: faults") || !strings.Contains(why, "no data: lost writes and pods") {
		t.Fatalf("verdict = %+v, want no data for the faults and the checks", r.Verdict)
	}
	if rows := r.Rows(); rows[2][1] != "not checked" {
		t.Fatalf("lost writes row = %v, want not checked", rows[2])
	}
	if p := r.Page(); len(p.Tables) == 0 {
		t.Fatal("the page has no table")
	}
}

func TestBuildPassesAQuietRun(t *testing.T) {
	in := Input{FaultsFrom: t0, MaxUnavailable: 5 * time.Second, Checked: true, Acked: 100, Pods: settled(),
		Faults: []FaultInput{{Process: "kube-apiserver-1", Kind: "kube-apiserver", Instances: 3, Signal: "KILL", At: at(5), BackAt: atp(12)}},
		Reads:  probes(0, 20, 5, 5.3), Writes: probes(0, 20, -1, -1)}
	r := Build(in)
	if !r.Verdict.Pass {
		t.Fatalf("verdict = %+v, want a pass: a 0.3 s outage is within the budget", r.Verdict)
	}
	// Reads fail at 5.0 and 5.25 s; the next, at 5.5 s, is answered.
	if s := r.Faults[0].Service; s == nil || *s < 0.5 || *s > 0.52 {
		t.Fatalf("service back = %v, want 0.51 s", lab.FmtOpt(s, "%.2f"))
	}
}

func TestBuildJudgesStalledRequestsAgainstTheStallBudget(t *testing.T) {
	writes := probes(0, 30, -1, -1)
	writes = append(writes,
		lab.TimedOp{At: at(10.1), Seconds: 7, Err: true}, // held by etcd through a leader change: allowed
		lab.TimedOp{At: at(10.2), Seconds: 12},           // held longer than etcd itself would: a violation
	)
	in := Input{FaultsFrom: t0, MaxUnavailable: 5 * time.Second, MaxStall: 10 * time.Second, Checked: true, Acked: 100, Pods: settled(),
		Faults: []FaultInput{{Process: "etcd-0", Kind: "etcd", Leader: true, Instances: 3, Signal: "KILL", At: at(10), BackAt: atp(11.5)}},
		Reads:  probes(0, 30, -1, -1), Writes: writes}
	r := Build(in)
	if len(r.Writes.Stalls) != 2 || r.Violations != 1 || r.Writes.Stalls[0].Violation || !r.Writes.Stalls[1].Violation {
		t.Fatalf("stalls = %+v, violations %d; want two stalls, the 12 s one a violation", r.Writes.Stalls, r.Violations)
	}
	if r.Faults[0].Stalled != 2 {
		t.Fatalf("fault stalls = %d, want both put down to the etcd kill", r.Faults[0].Stalled)
	}
}

func TestBuildWithEveryRolloutRefusedHasNoData(t *testing.T) {
	pods := settled()
	pods.Rollouts, pods.RolloutFailures, pods.LastRolloutErr = 0, 40, "the server rejected our request due to an error in our request"
	r := Build(Input{FaultsFrom: t0, MaxUnavailable: 5 * time.Second, MaxStall: 10 * time.Second, Checked: true, Acked: 10, Pods: pods,
		Faults: []FaultInput{{Process: "nodes", Kind: "nodes", Instances: 1, Signal: "KILL", At: at(1), BackAt: atp(2), LeaderAt: atp(3)}}})
	why := strings.Join(r.Verdict.Reasons, "\n")
	if r.Verdict.Pass || !strings.Contains(why, "no data: the CloneSet's in-place updates (all 40 were refused (the server rejected") {
		t.Fatalf("verdict = %+v, want no data for the in-place updates", r.Verdict)
	}
}
