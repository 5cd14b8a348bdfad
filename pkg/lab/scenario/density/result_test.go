package density

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// syntheticDensity is a run of 100 nodes, 1,000 pods and 5,000 objects:
// nodes for 30s, pods for 60s, objects for 30s, a 60s hold. slowPatch
// makes pod status patches take 3s in the pods phase.
func syntheticDensity(t *testing.T, slowPatch bool, stopObjects error) Input {
	t.Helper()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	clk := clocktesting.NewFakeClock(t0)
	pods := lab.NewPodStartup(clk)
	ready := lab.NewReadiness(clk)
	for i := range 100 {
		ready.Observe(simNode("n"+string(rune('a'+i%26))+string(rune('a'+i/26)), corev1.ConditionTrue))
	}
	// 1,000 pods, created over the pods phase, each Running 1.5s later.
	for i := range 1000 {
		created := at(30 + i*60/1000)
		clk.SetTime(created)
		pods.Observe(trackedPod(i, created, "", corev1.PodPending))
		clk.SetTime(created.Add(1500 * time.Millisecond))
		pods.Observe(trackedPod(i, created, "n1", corev1.PodRunning))
		pods.Sample()
	}
	patch := lab.APIKey{Verb: "PATCH", Resource: "pods", Subresource: "status", Scope: "resource"}
	post := lab.APIKey{Verb: "POST", Resource: "configmaps", Scope: "resource"}
	get := lab.APIKey{Verb: "GET", Resource: "configmaps", Scope: "resource"}
	// The probe's calls, one of each a second: every class has requests.
	probePatch := lab.APIKey{Verb: "PATCH", Resource: "configmaps", Scope: "resource"}
	probeList := lab.APIKey{Verb: "LIST", Resource: "configmaps", Scope: "namespace"}
	probeNS := lab.APIKey{Verb: "LIST", Resource: "namespaces", Scope: "cluster"}
	snap := func(s int, patches, posts int) lab.APISnapshot {
		p := many(patches, 0.02)
		if slowPatch && patches > 0 {
			p = append(many(patches*97/100, 0.02), many(patches-patches*97/100, 3)...)
		}
		apf := lab.APFLevels{"myriad-node-high": {Dispatched: float64(10 * s), Seats: 42}, "workload-high": {Dispatched: float64(posts), Rejected: float64(posts / 100), Seats: 42}}
		return lab.APISnapshot{At: at(s), Requests: lab.Some(float64(patches + posts)), EtcdDBBytes: lab.Some(float64(10+s) * (1 << 20)), APF: apf,
			Latencies: lab.APILatencies{patch: observed(p...), post: observed(many(posts, 0.04)...), get: observed(many(s, 0.004)...),
				probePatch: observed(many(s, 0.01)...), probeList: observed(many(s, 0.01)...), probeNS: observed(many(s, 0.01)...)}}
	}
	s30, s90, s120, s180 := snap(30, 0, 0), snap(90, 1000, 0), snap(120, 1000, 4000), snap(180, 1000, 4000)
	in := Input{
		Run: lab.RunInfo{Scenario: "density", Machine: lab.Machine{Cores: 2, MemoryBytes: 24 << 30, GoVersion: "go1.26", KubernetesVersion: "v1.37.2"},
			Parameters: map[string]string{"nodes": "100", "pods": "1000", "objects": "5000"}, StartedAt: t0},
		StoppedAt: at(180),
		Target:    Target{Nodes: 100, Pods: 1000, Objects: 5000, HoldSeconds: 60},
		Phases: []PhaseInput{
			{Name: PhaseNodes, From: t0, To: at(30), Reached: "100 of 100 nodes Ready", End: s30},
			{Name: PhasePods, From: at(30), To: at(90), Reached: "1000 of 1000 pods Running", Start: s30, End: s90},
			{Name: PhaseObjects, From: at(90), To: at(120), Reached: "5012 objects", Start: s90, End: s120, Err: stopObjects},
		},
		Pods: pods, Ready: ready, ReadyNodes: 100, Client: &lab.ClientTimings{},
		Counts: []lab.ObjectCount{{At: at(90), Phase: PhasePods, Total: 2100, ByResource: map[string]int64{"pods": 1000, "events": 1000, "nodes": 100}},
			{At: at(120), Phase: PhaseObjects, Total: 5012, ByResource: map[string]int64{"pods": 1000, "events": 1000, "nodes": 100, "configmaps": 2912}}},
		Procs: map[string][]lab.ProcSample{"kube-apiserver": {
			{At: at(0), PID: 7, RSSBytes: 300 << 20, CPUSeconds: 1}, {At: at(180), PID: 7, RSSBytes: 900 << 20, CPUSeconds: 91}}},
		ChartPoints: []lab.APIPoint{{At: at(60), VerbP99: map[string]float64{"PATCH": 0.05}, Objects: lab.Some(2000.0), EtcdDBBytes: lab.Some(float64(50 << 20))}},
		StartupStep: 10 * time.Second,
	}
	in.Client.SetPhase(PhaseObjects)
	in.Client.Observe("POST configmaps", 40*time.Millisecond, nil)
	in.Client.Observe("POST configmaps", 0, errors.New("conflict"))
	if stopObjects == nil {
		in.Phases = append(in.Phases, PhaseInput{Name: PhaseHold, From: at(120), To: at(180), Reached: "held 1m0s", Start: s120, End: s180})
	}
	return in
}

func TestDensityResultPasses(t *testing.T) {
	res := Build(syntheticDensity(t, false, nil))
	if !res.Verdict.Pass {
		t.Fatalf("verdict = %+v, want pass", res.Verdict)
	}
	if res.Reached.PodsRunning != 1000 || *res.Reached.Objects != 5012 || res.Reached.Nodes != 100 {
		t.Errorf("reached = %+v", res.Reached)
	}
	// Pods ran 1.5s after a whole-second creationTimestamp.
	if s := res.PodStartup.SLI; s.Count != 1000 || *s.P99 != 1.5 {
		t.Errorf("pod startup = %+v, want 1000 pods at 1.5s", s)
	}
	if len(res.Phases) != 4 || res.Phases[0].API != nil || res.Phases[1].API == nil {
		t.Fatalf("phases = %+v, want 4 with API figures after the nodes phase", res.Phases)
	}
	pods := res.Phases[1]
	// The 16 pods created in the last second turn Running after the phase ends.
	if pods.PodStartup.SLI.Count != 984 || pods.RequestsPerSecond == nil || *pods.RequestsPerSecond != 1000.0/60 {
		t.Errorf("pods phase = %+v", pods)
	}
	if e := res.Etcd; *e.DBStartBytes != 40<<20 || *e.DBEndBytes != 190<<20 || *e.DBMaxBytes != 190<<20 {
		t.Errorf("etcd = start %g end %g max %g", *e.DBStartBytes, *e.DBEndBytes, *e.DBMaxBytes)
	}
	if len(res.Client) != 1 || res.Client[0].Errors != 1 || res.Client[0].Count != 1 {
		t.Errorf("client rows = %+v", res.Client)
	}
}

func TestDensityResultFailsOnSLOAndStop(t *testing.T) {
	res := Build(syntheticDensity(t, true, errors.New("stalled: 40 pods waiting")))
	if res.Verdict.Pass {
		t.Fatal("a run with a blown SLO that stopped early passed")
	}
	if res.StoppedIn != PhaseObjects || !strings.Contains(res.StoppedEarly, "stalled") {
		t.Errorf("stopped in %q (%q), want the objects phase, stalled", res.StoppedIn, res.StoppedEarly)
	}
	all := strings.Join(res.Verdict.Reasons, "\n")
	for _, want := range []string{"stopped early", "pods phase: mutating SLO missed", "PATCH pods/status"} {
		if !strings.Contains(all, want) {
			t.Errorf("reasons %q lack %q", all, want)
		}
	}
}

func TestDensityReportHasTheFigures(t *testing.T) {
	res := Build(syntheticDensity(t, true, nil))
	dir := t.TempDir()
	path, err := lab.Write(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, want := range []string{
		"Myriad density: 100 nodes, 1000 pods, 5000 objects",
		"1.50 s",                       // pod startup p99
		"✗ 2.67 s (PATCH pods/status)", // the blown mutating SLO, with its pair
		"5012",                         // objects reached
		"configmaps",                   // object count by type
		"API call latency, pods phase (server side)",
		"API latency windows", // every window judged, listed
		"worst of 1 windows",  // per class: the worst window and how many
		"0:30–1:30",           // the pods phase's one window
		"<polyline",           // charts drawn
		"pods</text>",         // phase marks on the charts
		"API Priority and Fairness, objects phase",
		`<th>myriad-node-high</th><td class="n">42</td><td class="n">300</td><td class="n">0</td>`, // 10 heartbeats a second for 30 s
		`<th>workload-high</th><td class="n">42</td><td class="n">4000</td><td class="n">40</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	var back map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back["scenario"] != "density" || back["stoppedIn"] != nil {
		t.Errorf("result.json scenario %v stoppedIn %v", back["scenario"], back["stoppedIn"])
	}
}

// A phase whose boundary scrape failed has no API latency: the run fails
// with "no data", it does not pass on the figures of another phase.
func TestPhaseWithoutBoundaryScrapeIsNoData(t *testing.T) {
	in := syntheticDensity(t, false, nil)
	in.Phases[3].End.Latencies = nil // the hold phase's end scrape timed out
	res := Build(in)
	if res.Verdict.Pass {
		t.Fatal("a run whose hold phase was never measured passed")
	}
	all := strings.Join(res.Verdict.Reasons, "\n")
	if !strings.Contains(all, "no data: hold phase, window 2:00–3:00: API latency") || !strings.Contains(all, "scraped at or before the window's end") {
		t.Errorf("reasons %q, want the hold phase's missing end scrape", all)
	}
	if h := res.Phases[3]; h.API != nil || len(h.Windows) != 1 || h.Windows[0].NoData == "" {
		t.Errorf("hold phase = %+v, want no API rows and the reason in its window", h)
	}
}

// A window in which the API server served no request of a class proves
// nothing about that class: no data, a failed run.
func TestEmptyWindowIsNoDataNotAPass(t *testing.T) {
	in := syntheticDensity(t, false, nil)
	in.Phases[3].End = in.Phases[3].Start // nothing was served during the hold
	in.Phases[3].End.At = in.Phases[3].To
	res := Build(in)
	if res.Verdict.Pass {
		t.Fatal("an empty hold window passed every SLO")
	}
	all := strings.Join(res.Verdict.Reasons, "\n")
	for _, class := range []string{lab.SLOMutating, lab.SLOReadResource, lab.SLOReadNamespace, lab.SLOReadCluster} {
		if !strings.Contains(all, "no data: hold phase, window 2:00–3:00: API latency of "+class+" calls") {
			t.Errorf("reasons %q lack no data for %s", all, class)
		}
	}
}

// A 13-minute hold is judged in 5-minute windows: one bad window fails the
// run although the phase as a whole would pass, and the report names it.
func TestAPILatencyIsJudgedInFiveMinuteWindows(t *testing.T) {
	in := syntheticDensity(t, false, nil)
	in.Window = 5 * time.Minute
	hold := &in.Phases[3]
	t0 := hold.From
	get := lab.APIKey{Verb: "GET", Resource: "configmaps", Scope: "resource"}
	patch := lab.APIKey{Verb: "PATCH", Resource: "configmaps", Scope: "resource"}
	list := lab.APIKey{Verb: "LIST", Resource: "configmaps", Scope: "namespace"}
	ns := lab.APIKey{Verb: "LIST", Resource: "namespaces", Scope: "cluster"}
	// Cumulative histograms at 0, 5, 10 and 13 minutes: 1,000 fast calls
	// of each class per window, except 20 slow PATCHes (3 s) between 5
	// and 10 minutes: 2% of that window, 0.7% of the phase.
	at := func(fast, slow int) lab.APISnapshot {
		return lab.APISnapshot{Latencies: lab.APILatencies{
			get: observed(many(fast, 0.01)...), list: observed(many(fast, 0.01)...), ns: observed(many(fast, 0.01)...),
			patch: observed(append(many(fast, 0.01), many(slow, 3)...)...)}}
	}
	hold.Start, hold.End = at(0, 0), at(3000, 20)
	hold.Start.At, hold.End.At = t0, t0.Add(13*time.Minute)
	hold.To = t0.Add(13 * time.Minute)
	g1, g2 := at(1000, 0), at(2000, 20)
	g1.At, g2.At = t0.Add(5*time.Minute-3*time.Second), t0.Add(10*time.Minute-7*time.Second)
	hold.Grid = []lab.APISnapshot{g1, g2}
	in.StoppedAt = hold.To
	res := Build(in)

	h := res.Phases[3]
	if len(h.Windows) != 3 {
		t.Fatalf("%d windows, want 3 (0–5, 5–10, 10–13 minutes)", len(h.Windows))
	}
	// Over the whole phase the PATCH p99 is fast; in the second window not.
	whole, _ := lab.JudgeAPILatency(hold.End.Latencies.Sub(hold.Start.Latencies))
	for _, r := range whole {
		if r.Class == lab.SLOMutating && r.OverSLO {
			t.Fatalf("the test needs a phase that passes as one window: %+v", r)
		}
	}
	if res.Verdict.Pass {
		t.Fatal("one 5-minute window over the mutating SLO passed")
	}
	var mut lab.SLOVerdict
	for _, v := range h.SLOs {
		if v.Class == lab.SLOMutating {
			mut = v
		}
	}
	if mut.Windows != 3 || mut.WindowsMissed != 1 || mut.Window != "7:00–12:00" || mut.Pass {
		t.Errorf("mutating verdict = %+v, want the worst of 3 windows, 1 missed, 7:00–12:00", mut)
	}
	all := strings.Join(res.Verdict.Reasons, "\n")
	if !strings.Contains(all, "hold phase: mutating SLO missed") || !strings.Contains(all, "worst of 3 (1 over)") {
		t.Errorf("reasons %q, want the hold phase's missed window", all)
	}
	// A phase shorter than a window is one window.
	if n := len(res.Phases[1].Windows); n != 1 {
		t.Errorf("the 60s pods phase has %d windows, want 1", n)
	}
}

func TestWindowsSplitAPhaseAtFiveMinutes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		long time.Duration
		want int
	}{{4 * time.Minute, 1}, {5 * time.Minute, 1}, {7 * time.Minute, 1}, {8 * time.Minute, 2}, {12 * time.Minute, 2}, {13 * time.Minute, 3}} {
		p := PhaseInput{Name: PhaseHold, From: t0, To: t0.Add(c.long)}
		for range int(c.long / (5 * time.Minute)) {
			p.Grid = append(p.Grid, lab.APISnapshot{})
		}
		if got := len(windows(p, 5*time.Minute)); got != c.want {
			t.Errorf("a %s phase: %d windows, want %d", c.long, got, c.want)
		}
	}
}
