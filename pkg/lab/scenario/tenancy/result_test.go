package tenancy

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	tenancynames "github.com/myriad-dev/myriad/pkg/tenancy"
)

func outcome(n int, p99, total float64) Outcome {
	return Outcome{Created: n, Running: n, Latency: lab.Latencies{Count: n, P50: lab.Some(p99 / 2), P99: lab.Some(p99)},
		TotalSeconds: lab.Some(total), PodsPerSecond: lab.Some(float64(n) / total)}
}

func input(direct, tenant Outcome) Input {
	return Input{Info: lab.RunInfo{Parameters: map[string]string{"tenants": "4", "pods": "1000"}, Machine: lab.Machine{MemoryBytes: 24 << 30}},
		Direct: PhaseResult{Outcome: direct}, Tenant: PhaseResult{Outcome: tenant},
		IdlePSS: []TenantMemory{{Tenant: "a", APIServerPSS: 200 << 20, ControllerManagerPSS: 50 << 20}}}
}

func TestBuildJudgesTheTenantPhaseAgainstTheDirectOne(t *testing.T) {
	ok := Build(input(outcome(1000, 1.0, 20), outcome(1000, 1.05, 21)))
	if !ok.Verdict.Pass {
		t.Fatalf("5%% more is within 10%%: %v", ok.Verdict.Reasons)
	}
	if *ok.AddedP99 < 0.049 || *ok.AddedP99 > 0.051 {
		t.Errorf("added p99 %v", *ok.AddedP99)
	}
	if ok.TenantsFitMem == nil || *ok.TenantsFitMem != 78 {
		t.Errorf("tenants that fit: %v", ok.TenantsFitMem)
	}
	slow := Build(input(outcome(1000, 1.0, 20), outcome(1000, 1.5, 30)))
	if slow.Verdict.Pass || !strings.Contains(strings.Join(slow.Verdict.Reasons, "; "), "p99 is 50% above") {
		t.Errorf("50%% more must fail naming it: %v", slow.Verdict.Reasons)
	}
	lost := outcome(1000, 1.0, 20)
	lost.Running = 990
	if r := Build(input(outcome(1000, 1.0, 20), lost)); r.Verdict.Pass {
		t.Error("pods that never ran must fail the run")
	}
	in := input(outcome(1000, 1.0, 20), outcome(1000, 1.0, 20))
	in.Fairness = &FairnessResult{Greedy: outcome(500, 9, 30), Regular: outcome(15, 2.5, 5)}
	if r := Build(in); r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "; "), "regular tenants") {
		t.Errorf("a slow regular tenant must fail the run: %v", r.Verdict.Reasons)
	}
	if r := Build(Input{Info: lab.RunInfo{Parameters: map[string]string{}}}); r.Verdict.Pass {
		t.Error("a run that measured nothing passed")
	}
}

func TestPodClockMeasuresFromTheCreateToRunning(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	pc := newPodClock(clk, false)
	pc.created[podKey(0, "p-00000")] = clk.Now()
	pc.created[podKey(1, "p-00001")] = clk.Now().Add(time.Second)
	clk.Step(2 * time.Second)
	pc.sawRunning(podKey(0, "p-00000"))
	clk.Step(time.Second)
	pc.sawRunning(podKey(0, "p-00000")) // a later update changes nothing
	pc.sawRunning(podKey(1, "p-00001"))
	all := pc.outcome(func(int) bool { return true })
	if all.Running != 2 || *all.Latency.Max != 2 || *all.TotalSeconds != 3 {
		t.Errorf("%+v max %v total %v", all, *all.Latency.Max, *all.TotalSeconds)
	}
	first := pc.outcome(func(t int) bool { return t == 0 })
	if first.Created != 1 || *first.Latency.P50 != 2 {
		t.Errorf("one target's pods: %+v", first)
	}
}

func TestStagesSplitTheLatencyIntoLegs(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	pc := newPodClock(clk, true)
	k := podKey(0, "p-00000")
	unbound, bound := &corev1.Pod{}, &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}
	running := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	pc.created[k] = clk.Now()
	clk.Step(1 * time.Second)
	pc.stampCluster(k, unbound) // the copy appears: place 1 s
	clk.Step(2 * time.Second)
	pc.stampCluster(k, bound) // schedule 2 s
	clk.Step(3 * time.Second)
	pc.stampTenantBound(k)      // bind up 3 s
	pc.stampCluster(k, running) // start 3 s
	pc.stampCluster(k, unbound) // a later event moves no stamp
	clk.Step(4 * time.Second)
	pc.sawRunning(k)                             // status up 4 s
	pc.created[podKey(1, "p-00001")] = clk.Now() // never seen on the cluster: no leg
	o := pc.outcome(func(int) bool { return true })
	st := o.Stages
	if st == nil || st.BindUp == nil || st.StatusUp == nil {
		t.Fatalf("stages: %+v", st)
	}
	for name, got := range map[string]*float64{"place": st.Place.P50, "schedule": st.Schedule.P50, "start": st.Start.P50,
		"bind up": st.BindUp.P50, "status up": st.StatusUp.P50} {
		want := map[string]float64{"place": 1, "schedule": 2, "start": 3, "bind up": 3, "status up": 4}[name]
		if got == nil || *got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	if *o.Latency.P50 != 10 || st.Place.Count != 1 {
		t.Errorf("latency %v, place count %d", *o.Latency.P50, st.Place.Count)
	}
	direct := newPodClock(clk, false)
	direct.created[k] = clk.Now()
	direct.stampCluster(k, running)
	if d := direct.outcome(func(int) bool { return true }).Stages; d == nil || d.BindUp != nil || d.StatusUp != nil {
		t.Errorf("direct pods have no upward legs: %+v", d)
	}
}

func TestClusterPodsMapToTheirTarget(t *testing.T) {
	targets := []target{{Name: "a", Namespace: "bench"}, {Name: "b", Namespace: "bench"}}
	copyOf := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-00003", Namespace: "b-bench", Labels: map[string]string{tenancynames.LabelTenant: "b"}}}
	if k, ok := tenantKeys(targets)(copyOf); !ok || k != podKey(1, "p-00003") {
		t.Errorf("tenant copy: %q %v", k, ok)
	}
	copyOf.Labels[tenancynames.LabelTenant] = "c"
	if _, ok := tenantKeys(targets)(copyOf); ok {
		t.Error("another tenant's pod was taken for the run's")
	}
	direct := []target{{Name: "direct/x", Namespace: "x"}, {Name: "direct/y", Namespace: "y"}}
	if k, ok := directKeys(direct)(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-00001", Namespace: "y"}}); !ok || k != podKey(1, "p-00001") {
		t.Errorf("direct: %q %v", k, ok)
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	good := Options{Tenants: 4, Pods: 400, QPS: 50, Workers: 8, Greedy: 1, Burst: 300, RegularPods: 5, IdleWindow: 30 * time.Second, PhaseTimeout: time.Minute}
	good.Rig = rig.Defaults(20)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for flag, mod := range map[string]func(*Options){
		"--tenants": func(o *Options) { o.Tenants = 0 }, "--pods": func(o *Options) { o.Pods = 2 },
		"--greedy": func(o *Options) { o.Greedy = 4 }, "--nodes": func(o *Options) { o.Rig.Nodes = 2 },
		"--qps": func(o *Options) { o.QPS = 0 }, "--idle-window": func(o *Options) { o.IdleWindow = time.Second },
	} {
		o := good
		mod(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s: %v", flag, err)
		}
	}
}
