package cloneset

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/lab"
)

// csPod is a CloneSet pod as the simulated nodes report it.
func csPod(uid, image string, running, ready bool, gate corev1.ConditionStatus, restarts int32) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bench-" + uid, UID: types.UID(uid)}}
	if running {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: image, RestartCount: restarts}}
	} else {
		p.Status.Phase = corev1.PodPending
	}
	readyStatus := corev1.ConditionFalse
	if ready {
		readyStatus = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: readyStatus}}
	if gate != "" {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: pub.InPlaceUpdateReady, Status: gate})
	}
	return p
}

func csStatus(gen int64, replicas, updatedReady int32) StatusView {
	return StatusView{Generation: gen, ObservedGeneration: gen, Replicas: replicas, ReadyReplicas: replicas,
		UpdatedReplicas: updatedReady, UpdatedReady: updatedReady}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A phase is done at the event after which every pod is updated and the
// status of the phase's generation agrees, whichever comes last; in-place
// updates keep every pod and count the pods taken out of service, a
// recreate replaces them.
func TestCloneSetPodsFollowsThePhases(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	c := NewPods("app", clk)
	uids := []string{"a", "b", "c"}

	// Scale 0 → 3.
	if got := c.Begin("img:1", 3, 1); !got.Equal(start) {
		t.Fatalf("Begin returned %v, want %v", got, start)
	}
	for _, u := range uids {
		clk.Step(time.Second)
		c.Upsert(csPod(u, "img:1", false, false, corev1.ConditionTrue, 0))
	}
	for _, u := range uids {
		clk.Step(time.Second)
		c.Upsert(csPod(u, "img:1", true, true, corev1.ConditionTrue, 0))
	}
	if isClosed(c.Done()) {
		t.Fatal("done before the CloneSet's status agreed")
	}
	clk.Step(2 * time.Second)
	c.ObserveStatus(csStatus(1, 3, 3))
	if !isClosed(c.Done()) {
		t.Fatal("not done after the pods and the status agreed")
	}
	f := c.End()
	if got := f.PodsDoneAt.Sub(start); got != 6*time.Second {
		t.Errorf("pods done after %s, want 6s", got)
	}
	if got := f.DoneAt.Sub(start); got != 8*time.Second {
		t.Errorf("done after %s, want 8s (the status came last)", got)
	}
	if f.Created != 3 || f.Recreated != 0 || len(f.UpdatedSeconds) != 3 || f.UpdatedSeconds[0] != 4 {
		t.Errorf("scale figures %+v", f)
	}

	// In place to img:2: the old generation's status, though it says 3
	// updated, must not end the phase.
	clk.Step(time.Minute)
	c.Begin("img:2", 3, 2)
	c.ObserveStatus(csStatus(1, 3, 3))
	for i, u := range uids {
		clk.Step(time.Second)
		c.Upsert(csPod(u, "img:1", true, true, corev1.ConditionFalse, 0)) // gate closed
		if i == 1 {
			if got := c.Counts(); got.Available != 2 || got.Updated != 1 {
				t.Errorf("first pod updated, second one's gate closed: counts %+v", got)
			}
		}
		c.Upsert(csPod(u, "img:2", true, false, corev1.ConditionTrue, 1))
		c.Upsert(csPod(u, "img:2", true, true, corev1.ConditionTrue, 1))
	}
	c.ObserveStatus(csStatus(2, 3, 3))
	f = c.End()
	if f.DoneAt == nil || f.StatusDoneAt == nil {
		t.Fatalf("in-place phase not done: %+v", f)
	}
	if f.Recreated != 0 || f.Created != 0 || f.RestartedInPlace != 3 || f.MaxUnavailable != 1 {
		t.Errorf("in-place figures: recreated %d created %d restarted %d maxUnavailable %d, want 0 0 3 1",
			f.Recreated, f.Created, f.RestartedInPlace, f.MaxUnavailable)
	}

	// ReCreate to img:3: every pod deleted (terminating, then gone) and
	// replaced by a new one.
	c.Begin("img:3", 3, 3)
	for _, u := range uids {
		clk.Step(time.Second)
		old := csPod(u, "img:2", true, true, corev1.ConditionTrue, 1)
		old.DeletionTimestamp = &metav1.Time{Time: clk.Now()}
		c.Upsert(old)
		c.Delete(types.UID(u))
		c.Upsert(csPod(u+"2", "img:3", true, true, corev1.ConditionTrue, 0))
	}
	if c.Counts().Terminating != 0 || c.Counts().Live != 3 {
		t.Errorf("after the recreate: counts %+v", c.Counts())
	}
	c.ObserveStatus(csStatus(3, 3, 3))
	f = c.End()
	if f.DoneAt == nil || f.Recreated != 3 || f.Created != 3 || f.RestartedInPlace != 0 || f.MaxUnavailable != 1 {
		t.Errorf("recreate figures %+v", f)
	}
	if n := len(f.Series); n != 2 || f.Series[1].Updated != 3 {
		t.Errorf("series %+v, want the start and the end point", f.Series)
	}
}

// cloneSetRun is a finished 4-phase run of 100 pods: in place 20 s and
// 30 s, ReCreate 100 s.
func cloneSetRun(t *testing.T) Input {
	t.Helper()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	procs := map[string][]lab.ProcSample{}
	for i := 0; i <= 600; i += 5 {
		at := start.Add(time.Duration(i) * time.Second)
		procs["kube-apiserver"] = append(procs["kube-apiserver"], lab.ProcSample{At: at, PID: 1, RSSBytes: 1 << 30, CPUSeconds: float64(i) / 2})
		procs["myriad-manager"] = append(procs["myriad-manager"], lab.ProcSample{At: at, PID: 2, RSSBytes: 100 << 20, CPUSeconds: float64(i) / 10})
	}
	// The manager as named before `myriad up` returned: samples only then.
	procs["manager"] = []lab.ProcSample{{At: start, PID: 2, RSSBytes: 50 << 20}}
	info := lab.NewRunInfo("cloneset", lab.Machine{Cores: 2}, map[string]string{"pods": "100"}, start)
	info.SetProcesses(procs, start, start.Add(600*time.Second))
	in := Input{Info: info, Nodes: 10, Pods: 100, MaxUnavailable: "20%", MaxUnavailablePods: 20, ClusterSampled: true}
	at := start.Add(10 * time.Second)
	phase := func(kind string, secs float64, recreated int, kinds []lab.APIRequestCount) {
		from := at
		done := from.Add(time.Duration(secs * float64(time.Second)))
		f := PodFigures{DoneAt: &done, PodsDoneAt: &done, StatusDoneAt: &done, Recreated: recreated, MaxUnavailable: 20,
			Final: Counts{Live: 100, Running: 100, Available: 100, Updated: 100}}
		if kind == InPlace {
			f.RestartedInPlace = 100
		}
		for i := range 100 {
			f.UpdatedSeconds = append(f.UpdatedSeconds, secs*float64(i+1)/100)
		}
		api := &lab.APIRequestDelta{Kinds: kinds, Flows: []lab.APIFlowCount{{FlowSchema: "myriad-nodesim", Count: 900}, {FlowSchema: "myriad-manager", Count: 300}}}
		in.Phases = append(in.Phases, PhaseInput{Kind: kind, Image: "img", Want: 100, Start: from, End: done, Pods: f, API: api,
			Manager: map[string]float64{"pod inplace_update": 100, "reconciles": 7}})
		at = done.Add(10 * time.Second)
	}
	lease := lab.APIRequestCount{Verb: "PUT", Resource: "leases.coordination.k8s.io", Count: 500, Failed: 0}
	phase(Scale, 60, 0, []lab.APIRequestCount{{Verb: "POST", Resource: "pods", Count: 100, Failed: 0}, {Verb: "POST", Resource: "pods/binding", Count: 100, Failed: 0}, lease})
	phase(InPlace, 20, 0, []lab.APIRequestCount{{Verb: "PUT", Resource: "pods/status", Count: 300, Failed: 0}, {Verb: "PUT", Resource: "pods", Count: 100, Failed: 0}, lease, {Verb: "LIST", Resource: "pods", Count: 3, Failed: 0}})
	in.Phases[1].MachineCPUSeconds = lab.Some(20.0)
	phase(Recreate, 100, 100, []lab.APIRequestCount{{Verb: "DELETE", Resource: "pods", Count: 200, Failed: 0}, {Verb: "POST", Resource: "pods", Count: 100, Failed: 0}, {Verb: "POST", Resource: "pods/binding", Count: 100, Failed: 0}, {Verb: "POST", Resource: "events.events.k8s.io", Count: 100, Failed: 0}, lease})
	phase(InPlace, 30, 0, []lab.APIRequestCount{{Verb: "PUT", Resource: "pods/status", Count: 300, Failed: 0}, {Verb: "PUT", Resource: "pods", Count: 100, Failed: 0}, lease})
	return in
}

func TestCloneSetResultComparesInPlaceWithRecreate(t *testing.T) {
	r := Build(cloneSetRun(t))
	if !r.Verdict.Pass {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	c := r.Comparison
	if !near(*c.InPlaceMean, 25) || !near(*c.RecreateMean, 100) || !near(*c.RecreateOverInPlace, 4) || !near(*c.InPlaceFasterPercent, 75) {
		t.Errorf("comparison: in place %v, recreate %v, ratio %v, faster %v%%", *c.InPlaceMean, *c.RecreateMean, *c.RecreateOverInPlace, *c.InPlaceFasterPercent)
	}
	in, re := r.Phases[1], r.Phases[2]
	// Leases are node heartbeats and reads do not write: neither counts.
	if in.APIWrites != 400 || !near(*in.APIWritesPerPod, 4) || in.LeaseWrites != 500 || in.PodWrites != 400 {
		t.Errorf("in-place writes %v (%v per pod), leases %v, pod writes %v", in.APIWrites, *in.APIWritesPerPod, in.LeaseWrites, in.PodWrites)
	}
	if re.APIWrites != 500 || re.PodWrites != 400 || !near(*c.RecreateWritesPerPod, 5) {
		t.Errorf("recreate writes %v, pod writes %v, per pod %v", re.APIWrites, re.PodWrites, *c.RecreateWritesPerPod)
	}
	if !near(*in.ManagerRequestsPerPod, 3) || !near(*in.PodsPerSecond, 5) || !near(*in.UpdateLatency.P50, 10) {
		t.Errorf("manager requests per pod %v, pods/s %v, p50 %v", *in.ManagerRequestsPerPod, *in.PodsPerSecond, *in.UpdateLatency.P50)
	}
	// Phase 2 runs 80 s → 100 s: the API server's 0.5 core for 20 s.
	var api *lab.ProcSummary
	for i := range in.Processes {
		if in.Processes[i].Name == "kube-apiserver" {
			api = &in.Processes[i]
		}
	}
	if api == nil || !near(api.CPUSeconds, 10) || !near(*in.CPUSeconds, 12) || len(in.Processes) != 2 {
		t.Errorf("phase 2 processes %+v, CPU %v; want the API server and the manager, not a name without samples", in.Processes, in.CPUSeconds)
	}
	if in.OtherCPUSeconds == nil || !near(*in.OtherCPUSeconds, 8) || re.OtherCPUSeconds != nil {
		t.Errorf("other work: phase 2 %v (want 20 machine - 12 cluster = 8), phase 3 %v (want unknown)", in.OtherCPUSeconds, re.OtherCPUSeconds)
	}
	if w := strings.Join(r.Verdict.Warnings, "\n"); !strings.Contains(w, "phase 2 (in-place) shared the machine: other work used 0.4 cores") {
		t.Errorf("warnings %q lack the shared machine", w)
	}
	// On an existing cluster only the bench is sampled: no CPU totals.
	in2 := cloneSetRun(t)
	in2.ClusterSampled = false
	if r2 := Build(in2); r2.Phases[1].CPUSeconds != nil || r2.Phases[1].OtherCPUSeconds != nil || r2.Comparison.InPlaceCPUSeconds != nil {
		t.Error("CPU totals from an existing cluster, where only the bench was sampled")
	}
	if r.Phases[0].MaxUnavailable != nil {
		t.Error("a scale-up reports maxUnavailable; every pod is missing at its start")
	}
}

func TestCloneSetVerdictNamesWhatWentWrong(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Input)
		want   string
	}{
		{"in place recreated pods", func(in *Input) { in.Phases[1].Pods.Recreated = 2 }, "phase 2 (in-place) recreated 2 pods"},
		{"recreate kept pods", func(in *Input) { in.Phases[2].Pods.Recreated = 90 }, "phase 3 (recreate) recreated 90 of 100 pods"},
		{"maxUnavailable exceeded", func(in *Input) { in.Phases[3].Pods.MaxUnavailable = 21 }, "21 pods unavailable at once; maxUnavailable 20% allows 20"},
		{"timed out", func(in *Input) {
			p := &in.Phases[2]
			p.Pods.DoneAt, p.Pods.StatusDoneAt, p.Err = nil, nil, "not done within --phase-timeout 1m0s"
			p.Pods.Final = Counts{Live: 100, Available: 80, Updated: 42}
			in.Phases = in.Phases[:3]
			in.Skipped = []string{"phase 4 (in-place): phase 3 did not finish"}
		}, "phase 3 (recreate) stopped: not done within --phase-timeout 1m0s; reached 42 of 100 pods updated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := cloneSetRun(t)
			tc.change(&in)
			r := Build(in)
			if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), tc.want) {
				t.Errorf("verdict %+v, want a failure saying %q", r.Verdict, tc.want)
			}
		})
	}
}

func TestCloneSetReportRendersTheFigures(t *testing.T) {
	in := cloneSetRun(t)
	in.Phases[1].Pods.Series = []Point{{T: 0, PodCounts: Counts{Live: 100, Available: 100}}, {T: 20, PodCounts: Counts{Live: 100, Available: 100, Updated: 100}}}
	dir := t.TempDir()
	path, err := lab.Write(dir, Build(in))
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4.00×", "75%", "2 in-place", "3 recreate", "1 scale 0→100", "POST pods/binding", "pod inplace_update", "myriad-nodesim", "<polyline"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Phases) != 4 || back.Comparison.InPlaceFasterPercent == nil || !near(*back.Comparison.InPlaceFasterPercent, 75) {
		t.Errorf("result.json phases %d, comparison %+v", len(back.Phases), back.Comparison)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
