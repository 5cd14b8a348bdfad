package sidecarset

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab"
)

func upgradePod(uid, image, specImage string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-" + uid, UID: types.UID(uid)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: appName, Image: "app"}, {Name: sidecarName, Image: specImage}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: appName, Image: "app"}, {Name: sidecarName, Image: image}}},
	}
}

func setStatus(gen, observed int64, matched, updated, updatedReady int32) *v1beta1.SidecarSet {
	return &v1beta1.SidecarSet{ObjectMeta: metav1.ObjectMeta{Generation: gen},
		Status: v1beta1.SidecarSetStatus{ObservedGeneration: observed, MatchedPods: matched, ReadyPods: matched, UpdatedPods: updated, UpdatedReadyPods: updatedReady}}
}

// An in-place sidecar upgrade is done only when every pod's sidecar runs
// the new image in its spec and its status, Ready, and the SidecarSet's
// status for the new generation says all pods are updated and ready.
func TestInPlaceUpgradeIsDoneWhenPodsAndStatusAgree(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	pods := lab.NewWorkloadPods(sidecarName, clk)
	uids := []string{"a", "b", "c"}
	for _, u := range uids {
		pods.Upsert(upgradePod(u, "img:1", "img:1", true))
	}
	pods.ObserveStatus(statusView(setStatus(1, 1, 3, 3, 3)))
	start := pods.Begin("img:2", 3, 2)
	// Until they update, the phase can name the pods it waits for.
	if nu := pods.NotUpdated(2); len(nu) != 2 || !strings.HasPrefix(nu[0], `bench-a (sidecar image "img:1" in spec, "img:1" in status`) {
		t.Errorf("NotUpdated(2) = %q, want bench-a and bench-b with their sidecar images", nu)
	}
	for _, u := range uids {
		clk.Step(time.Second)
		pods.Upsert(upgradePod(u, "img:1", "img:2", true)) // spec changed, container not yet restarted
		if got := pods.Counts().Updated; got != 0 && u == "a" {
			t.Fatalf("a pod whose status still reports the old image counts as updated (%d)", got)
		}
		pods.Upsert(upgradePod(u, "img:2", "img:2", false))
		pods.Upsert(upgradePod(u, "img:2", "img:2", true))
	}
	// The old generation's status, though it says 3 updated, must not end
	// the phase.
	pods.ObserveStatus(statusView(setStatus(2, 1, 3, 3, 3)))
	if isClosed(pods.Done()) {
		t.Fatal("done on a status of the old generation")
	}
	clk.Step(time.Second)
	pods.ObserveStatus(statusView(setStatus(2, 2, 3, 3, 3)))
	if !isClosed(pods.Done()) {
		t.Fatal("not done once pods and status agreed")
	}
	f := pods.End()
	if f.Recreated != 0 || f.MaxUnavailable != 1 || f.DoneAt.Sub(start) != 4*time.Second {
		t.Errorf("figures: recreated %d, max unavailable %d, done after %s", f.Recreated, f.MaxUnavailable, f.DoneAt.Sub(start))
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// The recreate phase changes the SidecarSet to NotUpdate with the new
// image, waits until new pods would get it, then rolls the Deployment.
func TestRecreateWriteTurnsOffInPlaceThenRollsTheDeployment(t *testing.T) {
	x, _ := testRun(t, smallOptions(), admission)
	ctx := context.Background()
	x.pods = lab.NewWorkloadPods(sidecarName, x.env.Clock)
	ss := x.sidecarSet(x.setName(upgradeSetName), roleUpgrade, "", sidecarName, Images[1], v1beta1.RollingUpdateSidecarSetStrategyType)
	if err := x.c.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	if _, err := x.cs.AppsV1().Deployments(x.ns).Create(ctx, x.deployment(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.upgradeWrite(ctx, Recreate, Images[3]); err != nil {
		t.Fatal(err)
	}
	got := &v1beta1.SidecarSet{}
	if err := x.c.Get(ctx, client.ObjectKey{Name: ss.Name}, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.UpdateStrategy.Type != v1beta1.NotUpdateSidecarSetStrategyType || got.Spec.Containers[0].Image != Images[3] {
		t.Errorf("SidecarSet after the write: %+v, image %s", got.Spec.UpdateStrategy, got.Spec.Containers[0].Image)
	}
	d, err := x.cs.AppsV1().Deployments(x.ns).Get(ctx, deploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Template.Annotations[restartAnno] == "" || ru.MaxUnavailable.String() != "10%" || ru.MaxSurge.IntValue() != 0 {
		t.Errorf("Deployment not rolled with maxUnavailable 10%% and no surge: %+v %+v", d.Spec.Template.Annotations, ru)
	}
}

// upgradeRun is a finished run of 100 pods: creation at 200, 190 and 50
// pods/s, in place 20 s, recreate 80 s.
func upgradeRun(t *testing.T) Input {
	t.Helper()
	info := lab.NewRunInfo("sidecarset", lab.Machine{Cores: 2}, map[string]string{"pods": "100"}, t0)
	in := Input{Info: info, Nodes: 10, Pods: 100, SidecarSets: 100, Concurrency: 32, MaxUnavailable: "10%", MaxUnavailablePods: 10, ClusterSampled: true}
	at := t0
	for i, pps := range []float64{200, 190, 50} {
		secs := 100 / pps
		var lat []float64
		for j := range 100 {
			lat = append(lat, float64(j+1)/1000*float64(i+1))
		}
		in.Create = append(in.Create, CreateInput{SidecarSets: []int{0, 1, 100}[i], Want: 100, Start: at, End: at.Add(time.Duration(secs * float64(time.Second))),
			LatencySeconds: lat, Created: 100,
			Meter: Meter{API: &lab.APIRequestDelta{Kinds: []lab.APIRequestCount{{Verb: "POST", Resource: "pods", Count: 100}}}}})
		at = at.Add(time.Minute)
	}
	for _, u := range []struct {
		kind      string
		secs      float64
		recreated int
		writes    float64
	}{{Deploy, 30, 0, 400}, {InPlace, 20, 0, 200}, {Recreate, 80, 100, 500}} {
		done := at.Add(time.Duration(u.secs * float64(time.Second)))
		f := lab.PodFigures{DoneAt: &done, PodsDoneAt: &done, StatusDoneAt: &done, Recreated: u.recreated, MaxUnavailable: 10,
			Final: lab.PodCounts{Live: 100, Running: 100, Available: 100, Updated: 100}}
		in.Upgrades = append(in.Upgrades, UpgradeInput{Kind: u.kind, Image: "img", Want: 100, Start: at, End: done, Pods: f,
			Meter: Meter{API: &lab.APIRequestDelta{Kinds: []lab.APIRequestCount{{Verb: "PATCH", Resource: "pods", Count: u.writes}}}}})
		at = done.Add(10 * time.Second)
	}
	return in
}

func TestResultComparesCreationAndTheTwoUpgrades(t *testing.T) {
	r := Build(upgradeRun(t))
	if !r.Verdict.Pass {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	c := r.Comparison
	if !near(*c.RecreateOverInPlace, 4) || !near(*c.InPlaceFasterPercent, 75) || !near(*c.InPlaceWritesPerPod, 2) || !near(*c.RecreateWritesPerPod, 5) {
		t.Errorf("upgrade comparison %+v", c)
	}
	if !near(*c.ThroughputVsNone[2], 0.25) || !near(*c.P99VsNone[2], 3) || !near(*r.Create[2].Latency.P99, 0.297) {
		t.Errorf("creation: throughput vs none %v, p99 vs none %v, p99 %v", *c.ThroughputVsNone[2], *c.P99VsNone[2], *r.Create[2].Latency.P99)
	}
}

func TestVerdictNamesWhatWentWrong(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Input)
		want   string
	}{
		{"in place recreated pods", func(in *Input) { in.Upgrades[1].Pods.Recreated = 3 }, "phase 5 (in-place) recreated 3 pods"},
		{"recreate kept pods", func(in *Input) { in.Upgrades[2].Pods.Recreated = 60 }, "phase 6 (recreate) recreated 60 of 100 pods"},
		{"maxUnavailable exceeded", func(in *Input) { in.Upgrades[1].Pods.MaxUnavailable = 11 }, "11 pods unavailable at once; maxUnavailable 10% allows 10"},
		{"create errors", func(in *Input) {
			in.Create[1].Errors, in.Create[1].ErrorExamples = 2, []string{"create-000003: refused"}
		}, "phase 2 (create with 1 SidecarSet): 2 of 100 pod creates failed, e.g. create-000003: refused"},
		{"in place not done", func(in *Input) {
			p := &in.Upgrades[1]
			p.Pods.DoneAt, p.Pods.StatusDoneAt, p.Pods.PodsDoneAt = nil, nil, nil
			p.Err = "not done within --phase-timeout 3m0s; pods not updated, e.g. bench-1 (sidecar image \"img:1\" in spec, \"img:1\" in status)"
			p.Pods.Final = lab.PodCounts{Live: 100, Available: 100}
		}, "phase 5 (in-place) stopped: not done within --phase-timeout 3m0s; pods not updated, e.g. bench-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := upgradeRun(t)
			tc.change(&in)
			r := Build(in)
			if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), tc.want) {
				t.Errorf("verdict %+v, want a failure saying %q", r.Verdict, tc.want)
			}
		})
	}
}

func TestReportRendersTheFigures(t *testing.T) {
	in := upgradeRun(t)
	in.Upgrades[1].Pods.Series = []lab.PodPoint{{T: 0, PodCounts: lab.PodCounts{Live: 100, Available: 100}}, {T: 20, PodCounts: lab.PodCounts{Live: 100, Available: 100, Updated: 100}}}
	dir := t.TempDir()
	path, err := lab.Write(dir, Build(in))
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4.00×", "3 create, 100 SidecarSets", "5 in-place", "6 recreate", "0.25×", "POST pods", "<polyline"} {
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
	if len(back.Create) != 3 || len(back.Upgrades) != 3 || back.Comparison.RecreateOverInPlace == nil {
		t.Errorf("result.json: %d creation phases, %d upgrades, comparison %+v", len(back.Create), len(back.Upgrades), back.Comparison)
	}
	if rows := Build(in).Rows(); len(rows) < 10 || !strings.Contains(fmt.Sprint(rows), "recreate / in place") {
		t.Errorf("rows %v", rows)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
