package failover

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// roundAt is a round seconds after t0 (negative: not seen).
func roundAt(start time.Time, n int, killed bool, lease, work, running float64) RoundInput {
	at := func(s float64) *time.Time {
		if s < 0 {
			return nil
		}
		t := start.Add(time.Duration(s * float64(time.Second)))
		return &t
	}
	r := RoundInput{Round: n, Killed: killed, Start: start, ScaledAt: start.Add(20 * time.Millisecond), OldHolder: "old", Replicas: 20,
		FirstWork: at(work), FirstPod: at(work + 0.1), FirstBound: at(work + 0.2), AllRunning: at(running)}
	if killed {
		r.Leader, r.NewLeader = "myriad-scheduler", "myriad-scheduler-standby"
		r.Restarted, r.LeaseTaken, r.LeaseAcquireTime, r.NewHolder = at(1), at(lease), at(lease-0.1), "new"
	}
	return r
}

func info() lab.RunInfo {
	return lab.RunInfo{Scenario: "failover", StartedAt: t0, Parameters: map[string]string{}}
}

// Each component gets its own figures from the kill: new leader, first
// work, all Running, and what the failover cost against its control.
func TestBuildTimesEachComponentFromTheKill(t *testing.T) {
	lease := 15.0
	in := Input{Info: info(), Components: []ComponentInput{
		{Component: "kube-controller-manager", Lease: "kube-system/kube-controller-manager", Work: "the ReplicaSet scaled", Standby: "kube-controller-manager-standby",
			LeaseDurationSeconds: &lease, Rounds: []RoundInput{
				roundAt(t0, 0, false, -1, 0.05, 1.0),
				roundAt(t0.Add(time.Minute), 1, true, 17, 18, 19),
				roundAt(t0.Add(2*time.Minute), 2, true, 15, 16, 21),
			}},
		{Component: "myriad-scheduler", Lease: "kube-system/myriad-scheduler", Work: "the first pod bound", Standby: "myriad-scheduler-standby",
			LeaseDurationSeconds: &lease, Rounds: []RoundInput{
				roundAt(t0, 0, false, -1, 0.5, 1.0),
				roundAt(t0.Add(3*time.Minute), 1, true, 14, 14.2, 15),
			}},
	}}
	r := Build(in)
	if !r.Verdict.Pass {
		t.Fatalf("verdict %+v; want pass", r.Verdict)
	}
	kcm, sched := r.Components[0], r.Components[1]
	if kcm.Control == nil || *kcm.Control.AllRunning != 1.0 || kcm.Control.LeaseTaken != nil {
		t.Fatalf("control %+v; want all Running at 1s and no new leader", kcm.Control)
	}
	if len(kcm.Rounds) != 2 || *kcm.Rounds[0].LeaseTaken != 17 || *kcm.Rounds[1].FirstWork != 16 || kcm.Rounds[0].NewHolder != "new" {
		t.Errorf("rounds %+v", kcm.Rounds)
	}
	if m := kcm.Expired; m == nil || *m.FirstWork.Mean != 17 || *m.AllRunning.Max != 21 || *m.ExtraSeconds != 19 || m.FirstWork.Count != 2 || kcm.HandedOver != nil {
		t.Errorf("lease expired %+v, handed over %+v", kcm.Expired, kcm.HandedOver)
	}
	if !sched.Measured || sched.Expired.FirstWork.Count != 1 || *sched.Expired.LeaseTaken.Mean != 14 || sched.Rounds[0].NewLeader != "myriad-scheduler-standby" {
		t.Errorf("scheduler %+v", sched)
	}
	rows := r.Rows()
	if len(rows) != 3 || rows[1][0] != "kube-controller-manager" || !strings.Contains(rows[2][6], "14.2 s") || rows[1][3] != "15 s" {
		t.Errorf("rows %q", rows)
	}
	dir := t.TempDir()
	path, err := lab.Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	for _, want := range []string{"control", "17.0 s", "kube-system/kube-controller-manager", "myriad-scheduler-standby", "<svg"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	js, _ := os.ReadFile(filepath.Join(dir, "result.json"))
	for _, want := range []string{`"components"`, `"firstWork"`, `"count": 2`, `"measured": true`, `"leaseDurationSeconds": 15`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("result.json lacks %s", want)
		}
	}
}

// A component that could not be measured fails the run with the reason,
// beside the figures of the others.
func TestBuildFailsForAComponentNotMeasured(t *testing.T) {
	r := Build(Input{Info: info(), Components: []ComponentInput{
		{Component: "myriad-manager", NotMeasured: "the cluster is attached (--kubeconfig)"},
		{Component: "myriad-scheduler", Rounds: []RoundInput{roundAt(t0, 0, false, -1, 0.5, 1), roundAt(t0, 1, true, 14, 15, 16)}},
	}})
	if r.Verdict.Pass || !strings.Contains(r.Verdict.Reasons[0], "no data: myriad-manager failover (the cluster is attached") {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	if r.Components[0].Measured || r.Components[1].Expired.FirstWork.Count != 1 {
		t.Errorf("components %+v", r.Components)
	}
	if rows := r.Rows(); !strings.Contains(rows[1][1], "not measured: the cluster is attached") {
		t.Errorf("rows %q", rows)
	}
}

// A killed round whose Lease never changed hands, or whose work was never
// seen, is no data, not a pass; a stuck round is named.
func TestBuildNeverPassesWithoutTheFigures(t *testing.T) {
	noLeader := roundAt(t0, 1, true, -1, 3, 4)
	noLeader.LeaseTaken = nil
	noWork := roundAt(t0, 2, true, 14, -1, 16)
	stuck := roundAt(t0, 3, true, -1, -1, -1)
	stuck.Err = "0 of 20 pods Running after 3m0s: context deadline exceeded"
	r := Build(Input{Info: info(), Components: []ComponentInput{{Component: "myriad-manager", Work: "the first pod the CloneSet created",
		Rounds: []RoundInput{roundAt(t0, 0, false, -1, 0.1, 1), noLeader, noWork, stuck}}}})
	all := strings.Join(r.Verdict.Reasons, "\n")
	for _, want := range []string{
		"no data: myriad-manager round 1: kill → new leader (the Lease's holder never changed)",
		"no data: myriad-manager round 2: first work (the first pod the CloneSet created was never seen)",
		"myriad-manager round 3: 0 of 20 pods Running after 3m0s",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("reasons lack %q:\n%s", want, all)
		}
	}
	if r.Verdict.Pass || r.Components[0].Expired.FirstWork.Count != 1 {
		t.Errorf("verdict %+v, first work %+v", r.Verdict, r.Components[0].Expired.FirstWork)
	}
	if !strings.Contains(strings.Join(r.Verdict.Warnings, ";"), "Lease's duration was not read") {
		t.Errorf("warnings %q", r.Verdict.Warnings)
	}
}

// Rounds with the handover are summed up apart from those where the Lease
// expired, and judged against the component's recovery target.
func TestBuildSeparatesHandedOverRoundsAndJudgesTheTarget(t *testing.T) {
	handed := func(r RoundInput) RoundInput { r.Handover = true; return r }
	in := Input{Info: info(), Components: []ComponentInput{
		{Component: "myriad-manager", Lease: "kube-system/myriad-manager", Work: "the first pod", Standby: "myriad-manager-standby", Rounds: []RoundInput{
			roundAt(t0, 0, false, -1, 0.5, 1.0),
			roundAt(t0.Add(time.Minute), 1, true, 16, 16.5, 17),
			handed(roundAt(t0.Add(2*time.Minute), 2, true, 1.2, 1.4, 2.0)),
			handed(roundAt(t0.Add(3*time.Minute), 3, true, 0.4, 0.6, 1.5)),
		}},
		{Component: "kube-controller-manager", Lease: "kube-system/kube-controller-manager", Work: "the ReplicaSet scaled", Standby: "kube-controller-manager-standby", Rounds: []RoundInput{
			roundAt(t0, 0, false, -1, 0.5, 1.0),
			handed(roundAt(t0.Add(time.Minute), 1, true, 5.5, 6, 7)),
		}},
	}}
	r := Build(in)
	m := r.Components[0]
	if m.Expired == nil || m.Expired.Rounds != 1 || m.HandedOver == nil || m.HandedOver.Rounds != 2 || *m.HandedOver.FirstWork.Mean != 1.0 || m.TargetSeconds != 2 {
		t.Fatalf("expired %+v, handed over %+v, target %v", m.Expired, m.HandedOver, m.TargetSeconds)
	}
	if r.Components[1].TargetSeconds != 5 || r.Verdict.Pass {
		t.Fatalf("kube-controller-manager target %v, verdict %+v; want 5 s and a failed verdict (6 s > 5 s)", r.Components[1].TargetSeconds, r.Verdict)
	}
	if !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "kube-controller-manager: kill → first work with the handover took 6.0 s") {
		t.Errorf("reasons %q; want the missed target named", r.Verdict.Reasons)
	}
	rows := r.Rows()
	if len(rows) != 4 || rows[1][1] != "expires (upstream)" || rows[2][1] != "handed over by the supervisor" || rows[2][7] != "≤ 2 s" {
		t.Errorf("rows %q", rows)
	}
}
