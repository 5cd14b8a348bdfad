package scheduler

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestPlacementQuality(t *testing.T) {
	nodes := []NodeAlloc{
		{Name: "a", CPUMilli: 1000, MemBytes: 1 << 30, Pods: 10},
		{Name: "b", CPUMilli: 1000, MemBytes: 1 << 30, Pods: 10},
		{Name: "c", CPUMilli: 1000, MemBytes: 1 << 30, Pods: 2},
		{Name: "d", CPUMilli: 1000, MemBytes: 1 << 30, Pods: 10},
	}
	pod := func(node string, cpu int64) Placement {
		return Placement{Node: node, CPUMilli: cpu, MemBytes: 128 << 20}
	}
	for _, tc := range []struct {
		name         string
		pods         []Placement
		feasible     float64
		stddev, span float64
		used         int
	}{
		{"perfectly spread", []Placement{pod("a", 500), pod("b", 500), pod("c", 500), pod("d", 500)}, 1, 0, 0, 4},
		// a: 1.0, b,c,d: 0 → mean .25, variance (.75²+3·.25²)/4 = .1875
		{"all on one node, fits", []Placement{pod("a", 500), pod("a", 500)}, 1, math.Sqrt(0.1875), 1, 1},
		{"cpu over-committed", []Placement{pod("a", 600), pod("a", 600), pod("b", 100), pod("b", 100)}, 0.5, 0, 0, 2},
		{"pod count over", []Placement{pod("c", 1), pod("c", 1), pod("c", 1), pod("d", 1)}, 0.25, 0, 0, 2},
		{"unknown node", []Placement{pod("zz", 1), pod("a", 1)}, 0.5, 0, 0, 2},
		{"memory over", []Placement{{Node: "a", MemBytes: 2 << 30}}, 0, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := ComputePlacementQuality(nodes, tc.pods)
			if !near(q.FeasibleFraction, tc.feasible) {
				t.Errorf("feasible = %v, want %v", q.FeasibleFraction, tc.feasible)
			}
			if q.NodesUsed != tc.used {
				t.Errorf("nodes used = %d, want %d", q.NodesUsed, tc.used)
			}
			if tc.name == "perfectly spread" || tc.name == "all on one node, fits" {
				if !near(q.UtilizationStddev, tc.stddev) || !near(q.UtilizationRange, tc.span) {
					t.Errorf("spread = stddev %v range %v, want %v %v", q.UtilizationStddev, q.UtilizationRange, tc.stddev, tc.span)
				}
			}
		})
	}
}

func TestSummarizeBinds(t *testing.T) {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// 100 pods: the first bound 2 s after start (informer warm-up), then one
	// every 10 ms, the last at 2.99 s; given out of order.
	var binds []time.Time
	for i := 99; i >= 0; i-- {
		binds = append(binds, at(2+float64(i)*0.01))
	}
	s := SummarizeBinds(t0, binds, 100, time.Time{})
	check := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || math.Abs(*got-want) > 1e-6 {
			t.Errorf("%s = %v, want %v", name, deref(got), want)
		}
	}
	check("pods/s", s.PodsPerSecond, 100/2.99)
	check("pods/s after first bind", s.PodsPerSecondAfterFirstBind, 99/0.99)
	check("first", s.FirstBindSeconds, 2)
	check("last", s.LastBindSeconds, 2.99)
	check("p50", s.LatencyP50, 2.49)
	check("p99", s.LatencyP99, 2.98)
	if s.Bound != 100 || len(s.Timeline) < 2 || s.Timeline[len(s.Timeline)-1].Bound != 100 || s.Timeline[0].Bound != 0 {
		t.Errorf("bound %d, timeline %v", s.Bound, s.Timeline)
	}

	// Writes that returned after the last bind end the phase later.
	late := SummarizeBinds(t0, binds, 100, at(4))
	check("pods/s to the last write", late.PodsPerSecond, 100.0/4)
	check("pods/s after first bind to the last write", late.PodsPerSecondAfterFirstBind, 99.0/2)
	check("last bind is still the last bind", late.LastBindSeconds, 2.99)

	partial := SummarizeBinds(t0, binds[:10], 100, time.Time{})
	if partial.PodsPerSecond != nil || partial.PodsPerSecondAfterFirstBind != nil {
		t.Error("a phase that did not bind every pod has no rate")
	}
	if partial.Bound != 10 || partial.LatencyP50 == nil {
		t.Errorf("partial phase still reports what it saw: %+v", partial)
	}
	if e := SummarizeBinds(t0, nil, 100, time.Time{}); e.Bound != 0 || e.LatencyP99 != nil || e.Timeline != nil {
		t.Errorf("no binds: %+v", e)
	}

	var many []time.Time
	for i := range 5000 {
		many = append(many, at(float64(i)*0.001))
	}
	if n := len(SummarizeBinds(t0, many, 5000, time.Time{}).Timeline); n > maxTimelinePoints+2 {
		t.Errorf("timeline has %d points, want at most ~%d", n, maxTimelinePoints)
	}
}

var workloadHigh = []FlowCount{{Flow{"kube-scheduler", "workload-high"}, 200}}

// phase is n pods bound evenly over secs seconds.
func phase(kind string, order int, secs, cpu float64, err string) PhaseInput {
	var binds []time.Time
	for i := 1; i <= 100; i++ {
		binds = append(binds, t0.Add(time.Duration(float64(i)/100*secs*float64(time.Second))))
	}
	p := PhaseInput{Kind: kind, Order: order, Pods: 100, Start: t0, Binds: binds, Err: err, Flows: workloadHigh,
		Nodes: []NodeAlloc{{Name: "n", CPUMilli: 100000, MemBytes: 1 << 40, Pods: 110}}}
	for range 100 {
		p.Placements = append(p.Placements, Placement{Node: "n", CPUMilli: 100})
	}
	if kind == Ceiling {
		p.Ceiling = &CeilingInput{Binds: 100, EventWrites: 100, Flows: workloadHigh}
	} else {
		rss := int64(order) << 20
		p.CPUSeconds, p.RSSMaxBytes = &cpu, &rss
	}
	return p
}

func input(phases ...PhaseInput) Input {
	return Input{Info: lab.NewRunInfo("scheduler", lab.Machine{Cores: 2}, map[string]string{"nodes": "1", "pods": "100 per phase"}, t0),
		Binders: 64, CeilingEvents: true, IdentityFlow: &workloadHigh[0], Phases: phases, FinishedAt: t0.Add(time.Minute)}
}

func TestBuildMeansAndRatios(t *testing.T) {
	r := Build(input(
		phase(Kube, 1, 1, 0.4, ""),      // 100 pods/s, 4 s CPU per 1000
		phase(Myriad, 2, 0.5, 0.1, ""),  // 200 pods/s, 1 s per 1000
		phase(Ceiling, 3, 0.25, 0, ""),  // 400 binds/s
		phase(Myriad, 4, 0.25, 0.1, ""), // 400 pods/s
		phase(Kube, 5, 0.5, 0.4, ""),    // 200 pods/s
	))
	if !r.Verdict.Pass {
		t.Fatalf("verdict: %+v", r.Verdict)
	}
	want := func(name string, got *float64, w float64) {
		t.Helper()
		if got == nil || math.Abs(*got-w) > 1e-6 {
			t.Errorf("%s = %v, want %v", name, deref(got), w)
		}
	}
	want("kube pods/s", r.Kube.PodsPerSecond, 150)
	want("myriad pods/s", r.Myriad.PodsPerSecond, 300)
	want("ceiling", r.Ceiling.BindsPerSecond, 400)
	want("myriad/kube", r.Ratios.MyriadOverKubePodsPerSecond, 2)
	want("myriad/ceiling", r.Ratios.MyriadOverCeiling, 0.75)
	want("kube/myriad cpu", r.Ratios.KubeOverMyriadCPUPerPod, 4)
	want("myriad cpu/1000", r.Myriad.CPUSecondsPer1000Pods, 1)
	if r.Kube.RSSMaxBytes == nil || *r.Kube.RSSMaxBytes != 5<<20 {
		t.Errorf("kube RSS max = %v, want the largest run's", r.Kube.RSSMaxBytes)
	}
	want("feasible", r.Myriad.FeasibleFraction, 1)
	if len(r.Kube.Runs) != 2 || len(r.Myriad.Runs) != 2 || len(r.Ceiling.Runs) != 1 {
		t.Errorf("runs: kube %d myriad %d ceiling %d", len(r.Kube.Runs), len(r.Myriad.Runs), len(r.Ceiling.Runs))
	}
	if r.Kube.WritesPriorityLevel != "workload-high" || r.Ceiling.WritesPriorityLevel != "workload-high" {
		t.Errorf("priority levels kube %q ceiling %q", r.Kube.WritesPriorityLevel, r.Ceiling.WritesPriorityLevel)
	}

	dir := t.TempDir()
	path, err := lab.Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	for _, s := range []string{"<svg", "ceiling (bench binder)", "2.00×", "#5 kube", "system:kube-scheduler", "workload-high", "pending at the last binding"} {
		if !strings.Contains(string(html), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if strings.Contains(string(html), "<script") || strings.Contains(string(html), `src="http`) {
		t.Error("report must be self-contained")
	}
	js, _ := os.ReadFile(filepath.Join(dir, "result.json"))
	for _, k := range []string{`"feasible_fraction"`, `"pods_per_second"`, `"binds_per_second"`, `"events": true`, `"writes_priority_level"`, `"events_pending_at_last_binding"`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("result.json lacks %s", k)
		}
	}
}

func TestBuildFailsAFailedOrSkippedPhase(t *testing.T) {
	in := input(phase(Kube, 1, 1, 0.4, "only 10 of 100 pods bound"), phase(Myriad, 2, 1, 0.1, ""))
	in.Skipped = []string{"phase 3 (kube): interrupted"}
	r := Build(in)
	if r.Verdict.Pass || len(r.Verdict.Reasons) != 2 || r.Kube.PodsPerSecond != nil || r.Ratios.MyriadOverKubePodsPerSecond != nil {
		t.Errorf("a failed phase is excluded from means and fails the run: %+v %+v", r.Verdict, r.Ratios)
	}
}

// A ceiling that wrote in another priority level than the schedulers (the
// admin's exempt one) is not their ceiling: the run fails.
func TestCeilingInAnotherPriorityLevelFails(t *testing.T) {
	c := phase(Ceiling, 2, 0.25, 0, "")
	c.Ceiling.Flows = []FlowCount{{Flow{"exempt", "exempt"}, 200}}
	r := Build(input(phase(Myriad, 1, 1, 0.1, ""), c))
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), `"exempt"`) {
		t.Errorf("verdict %+v, want a failure naming the ceiling's exempt level", r.Verdict)
	}
}

// Where the ceiling's writes waited is a figure its comparison rests on:
// without it the run fails as no data.
func TestCeilingWithoutItsPriorityLevelIsNoData(t *testing.T) {
	c := phase(Ceiling, 1, 0.25, 0, "")
	c.Ceiling.Flows = nil
	r := Build(input(c))
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "no data") {
		t.Errorf("verdict %+v, want no data", r.Verdict)
	}
}

// A ceiling whose event writes failed did fewer writes than the schedulers.
func TestCeilingWithFailedEventWritesFails(t *testing.T) {
	c := phase(Ceiling, 1, 0.25, 0, "")
	c.Ceiling.EventWrites, c.Ceiling.EventErrors, c.Ceiling.FirstErr = 90, 10, "events is forbidden"
	r := Build(input(c))
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "10 of 100 Scheduled event writes failed") {
		t.Errorf("verdict %+v", r.Verdict)
	}
}

// A scheduler's level is its identity's flow only when that flow carried
// at least its bindings; otherwise the report says it is unknown.
func TestSchedulerPriorityLevelNeedsItsIdentitysRequests(t *testing.T) {
	p := phase(Kube, 1, 1, 0.4, "")
	p.Flows = []FlowCount{{Flow{"kube-scheduler", "workload-high"}, 10}, {Flow{"exempt", "exempt"}, 300}}
	r := Build(input(p))
	if r.Kube.WritesPriorityLevel != "" || len(r.Verdict.Warnings) == 0 {
		t.Errorf("level %q, warnings %v: want unknown, with a warning", r.Kube.WritesPriorityLevel, r.Verdict.Warnings)
	}
}

func TestOptionsNameTheFlag(t *testing.T) {
	ok := Options{Pods: 10, PhaseTimeout: time.Minute, CreateWorkers: 4, Binders: 4, Order: "kube,myriad,ceiling"}
	ok.Rig.Nodes, ok.Rig.APIServers, ok.Rig.NodeMonitorGracePeriod, ok.Rig.ReadyTimeout = 5, 1, time.Minute, time.Minute
	ok.Rig.SampleInterval, ok.Rig.ScrapeInterval = time.Second, time.Second
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for flag, mod := range map[string]func(*Options){
		"--pods":           func(o *Options) { o.Pods = 0 },
		"--nodes":          func(o *Options) { o.Rig.Nodes = 0 },
		"--order":          func(o *Options) { o.Order = "kube,default" },
		"--binders":        func(o *Options) { o.Binders = 0 },
		"--create-workers": func(o *Options) { o.CreateWorkers = 2000 },
		"--phase-timeout":  func(o *Options) { o.PhaseTimeout = 0 },
	} {
		o := ok
		mod(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s: %v", flag, err)
		}
	}
}
