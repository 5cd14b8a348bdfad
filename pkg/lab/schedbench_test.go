package lab

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

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
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	// 100 pods: the first bound 2 s after start (informer warm-up), then one
	// every 10 ms, the last at 2.99 s; given out of order.
	var binds []time.Time
	for i := 99; i >= 0; i-- {
		binds = append(binds, at(2+float64(i)*0.01))
	}
	s := SummarizeBinds(start, binds, 100)
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

	partial := SummarizeBinds(start, binds[:10], 100)
	if partial.PodsPerSecond != nil || partial.PodsPerSecondAfterFirstBind != nil {
		t.Error("a phase that did not bind every pod has no rate")
	}
	if partial.Bound != 10 || partial.LatencyP50 == nil {
		t.Errorf("partial phase still reports what it saw: %+v", partial)
	}
	if e := SummarizeBinds(start, nil, 100); e.Bound != 0 || e.LatencyP99 != nil || e.Timeline != nil {
		t.Errorf("no binds: %+v", e)
	}

	var many []time.Time
	for i := range 5000 {
		many = append(many, at(float64(i)*0.001))
	}
	if n := len(SummarizeBinds(start, many, 5000).Timeline); n > maxTimelinePoints+2 {
		t.Errorf("timeline has %d points, want at most ~%d", n, maxTimelinePoints)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestBuildSchedBenchResultMeansAndRatios(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// n pods bound evenly over secs seconds.
	phase := func(kind string, order int, secs, cpu float64, err string) SchedPhaseInput {
		var binds []time.Time
		for i := 1; i <= 100; i++ {
			binds = append(binds, start.Add(time.Duration(float64(i)/100*secs*float64(time.Second))))
		}
		p := SchedPhaseInput{Kind: kind, Order: order, Pods: 100, Start: start, Binds: binds, Err: err,
			Nodes: []NodeAlloc{{Name: "n", CPUMilli: 100000, MemBytes: 1 << 40, Pods: 110}}}
		for range 100 {
			p.Placements = append(p.Placements, Placement{Node: "n", CPUMilli: 100})
		}
		if kind != SchedCeiling {
			rss := int64(order) << 20
			p.CPUSeconds, p.RSSMaxBytes = &cpu, &rss
		}
		return p
	}
	r := BuildSchedBenchResult(SchedBenchInput{Binders: 64, Phases: []SchedPhaseInput{
		phase(SchedKube, 1, 1, 0.4, ""),      // 100 pods/s, 4 s CPU per 1000
		phase(SchedMyriad, 2, 0.5, 0.1, ""),  // 200 pods/s, 1 s per 1000
		phase(SchedCeiling, 3, 0.25, 0, ""),  // 400 binds/s
		phase(SchedMyriad, 4, 0.25, 0.1, ""), // 400 pods/s
		phase(SchedKube, 5, 0.5, 0.4, ""),    // 200 pods/s
	}})
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

	var html bytes.Buffer
	if err := RenderSchedBenchHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<svg", "ceiling (bench binder)", "2.00×", "#5 kube"} {
		if !strings.Contains(html.String(), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if strings.Contains(html.String(), "<script") || strings.Contains(html.String(), `src="http`) {
		t.Error("report must be self-contained")
	}

	failed := BuildSchedBenchResult(SchedBenchInput{Phases: []SchedPhaseInput{
		phase(SchedKube, 1, 1, 0.4, "only 10 of 100 pods bound"),
		phase(SchedMyriad, 2, 1, 0.1, ""),
	}, Skipped: []string{"phase 3 (kube): interrupted"}})
	if failed.Verdict.Pass || len(failed.Verdict.Reasons) != 2 || failed.Kube.PodsPerSecond != nil || failed.Ratios.MyriadOverKubePodsPerSecond != nil {
		t.Errorf("a failed phase is excluded from means and fails the run: %+v %+v", failed.Verdict, failed.Ratios)
	}
	var fhtml bytes.Buffer
	if err := RenderSchedBenchHTML(&fhtml, failed); err != nil || !strings.Contains(fhtml.String(), "INCOMPLETE") {
		t.Errorf("failed report: %v", err)
	}
}
