package tenancy

import (
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
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
	pc := newPodClock(clk)
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
