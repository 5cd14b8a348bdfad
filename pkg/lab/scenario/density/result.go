package density

import (
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Build turns what a run recorded into result.json's figures and the
// verdict; it reads no clock and no cluster.

// Density phases, in the order they run.
const (
	PhaseNodes   = "nodes"
	PhasePods    = "pods"
	PhaseObjects = "objects"
	PhaseHold    = "hold"
)

// Target is the size a run asks for.
type Target struct {
	Nodes       int     `json:"nodes"`
	Pods        int     `json:"pods"`
	Objects     int64   `json:"objects"`
	HoldSeconds float64 `json:"holdSeconds"`
}

// PhaseInput is one phase as the scenario ran it.
type PhaseInput struct {
	Name     string
	From, To time.Time
	// Err is why the phase stopped short of its target; nil if it got there.
	Err error
	// Reached says what it got to, e.g. "20000 of 20000 pods Running".
	Reached string
	// Start and End are the API snapshots at its boundaries; zero when
	// none was taken (the nodes phase of a cluster the bench started has
	// no start: the API server was not up yet).
	Start, End lab.APISnapshot
	// Grid are the boundary samples inside the phase, one per Window
	// boundary passed (see lab.APIRecorder.OpenWindows).
	Grid []lab.APISnapshot
}

// Input is everything a density result is built from.
type Input struct {
	// Run is the result's head, made when the run began (NewRunInfo), so
	// it carries the machine's load at the start.
	Run       lab.RunInfo
	StoppedAt time.Time
	Target    Target
	// Phases are in order; a phase that never began is absent.
	Phases []PhaseInput
	// Interrupted says the user stopped the run (Ctrl-C).
	Interrupted bool
	Pods        *lab.PodStartup
	Client      *lab.ClientTimings
	Counts      []lab.ObjectCount
	Procs       map[string][]lab.ProcSample
	// Ready is nil when node readiness was not tracked.
	Ready *lab.Readiness
	// ReadyNodes is how many nodes were Ready when the nodes phase ended.
	ReadyNodes int
	// ChartPoints are the API recorder's interval points.
	ChartPoints  []lab.APIPoint
	ScrapeErrors []string
	// Notes are facts the report must state (e.g. "etcd not reachable").
	Notes []string
	// StartupStep is the bucket width of startup latency over time.
	StartupStep time.Duration
	// Window is the width of the API latency windows.
	Window time.Duration
}

// Result is result.json of the density scenario. Latencies in
// seconds, sizes in bytes; a nil figure was not measured.
type Result struct {
	lab.RunInfo
	Target  Target  `json:"target"`
	Reached Reached `json:"reached"`
	// StoppedIn is the phase that did not reach its target ("" when every
	// phase did); RunInfo.StoppedEarly says why.
	StoppedIn string        `json:"stoppedIn,omitempty"`
	Phases    []PhaseResult `json:"phases"`
	// SLOs are each API class's worst window after the nodes phase, and
	// pod startup over the same time.
	SLOs       []lab.SLOVerdict      `json:"slos"`
	PodStartup lab.PodStartupSummary `json:"podStartup"`
	// Objects are the counts taken through the API, ObjectCountMethod how.
	Objects           []lab.ObjectCount      `json:"objectCounts"`
	ObjectCountMethod string                 `json:"objectCountMethod"`
	Etcd              Etcd                   `json:"etcd"`
	Readiness         *lab.ReadinessSummary  `json:"readiness,omitempty"`
	Client            []lab.ClientLatencyRow `json:"client"`
	Notes             []string               `json:"notes,omitempty"`
	ScrapeErrors      []string               `json:"scrapeErrors,omitempty"`
	Series            Series                 `json:"series"`
}

// Reached is how far the run got.
type Reached struct {
	Nodes int `json:"nodes"`
	// PodsRunning is the most of the scenario's pods Running at once.
	PodsRunning int `json:"podsRunning"`
	// Objects is the last count; nil when none was taken.
	Objects *int64 `json:"objects,omitempty"`
}

// PhaseResult is one phase's figures.
type PhaseResult struct {
	Name     string    `json:"name"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Seconds  float64   `json:"seconds"`
	Complete bool      `json:"complete"`
	Reached  string    `json:"reached"`
	Error    string    `json:"error,omitempty"`
	// API is every SLO pair the API server served in the phase; nil when
	// its metrics were not scraped at or before both ends.
	API []lab.APILatencyRow `json:"api,omitempty"`
	// Windows are the phase's API latency windows; SLOs hold each API
	// class's worst window.
	Windows []WindowResult   `json:"windows,omitempty"`
	SLOs    []lab.SLOVerdict `json:"slos,omitempty"`
	// PodStartup is over the pods that turned Running in the phase.
	PodStartup        lab.PodStartupSummary `json:"podStartup"`
	RequestsPerSecond *float64              `json:"requestsPerSecond,omitempty"`
	// APF is what API Priority and Fairness let through, refused and
	// queued per priority level; nil under the same condition as API.
	APF []lab.APFLevelFigures `json:"apf,omitempty"`
}

// Etcd is etcd's database size over the run.
type Etcd struct {
	DBStartBytes *float64 `json:"dbStartBytes,omitempty"`
	DBEndBytes   *float64 `json:"dbEndBytes,omitempty"`
	DBMaxBytes   *float64 `json:"dbMaxBytes,omitempty"`
}

// Series are the time series behind the charts (processes are in
// RunInfo).
type Series struct {
	Running []lab.RunningPoint `json:"running"`
	Startup []lab.StartupPoint `json:"startup"`
	API     []lab.APIPoint     `json:"api"`
	Ready   []lab.ReadyPoint   `json:"ready,omitempty"`
}

// Build summarizes a density run and judges it: it passes only if every
// phase reached its target, every API SLO held in every window with data
// in every window after the nodes phase, pod startup held where pods
// started, no node fell NotReady and no component restarted.
func Build(in Input) *Result {
	res := &Result{
		RunInfo: in.Run,
		Target:  in.Target, Objects: in.Counts, ObjectCountMethod: lab.ObjectCountMethod,
		Notes: in.Notes, ScrapeErrors: in.ScrapeErrors,
		Reached: Reached{Nodes: in.ReadyNodes},
	}
	var samples []lab.StartupSample
	if in.Pods != nil {
		samples = in.Pods.Samples()
		res.Series.Running = in.Pods.Points()
		for _, p := range res.Series.Running {
			res.Reached.PodsRunning = max(res.Reached.PodsRunning, p.Running)
		}
		res.Reached.PodsRunning = max(res.Reached.PodsRunning, in.Pods.Current().Running)
		res.Series.Startup = lab.StartupOverTime(samples, in.Run.StartedAt, in.StartupStep)
	}
	if n := len(in.Counts); n > 0 {
		res.Reached.Objects = &in.Counts[n-1].Total
	}
	// Everything after the cluster reached its node count.
	after := in.Run.StartedAt
	var judged []WindowResult
	label := func(w WindowResult) string {
		return mmss(w.From.Sub(in.Run.StartedAt).Seconds()) + "–" + mmss(w.To.Sub(in.Run.StartedAt).Seconds())
	}
	for _, p := range in.Phases {
		pr := PhaseResult{Name: p.Name, From: p.From, To: p.To, Seconds: p.To.Sub(p.From).Seconds(),
			Complete: p.Err == nil, Reached: p.Reached, PodStartup: lab.SummarizeStartup(samples, p.From, p.To)}
		if p.Err != nil {
			pr.Error = p.Err.Error()
			if res.StoppedIn == "" {
				res.StoppedIn, res.StoppedEarly = p.Name, fmt.Sprintf("in the %s phase: %s", p.Name, pr.Error)
			}
		}
		if p.Name == PhaseNodes {
			after = p.To
		}
		if p.Start.Latencies != nil && p.End.Latencies != nil {
			pr.API = apiRows(p.End.Latencies.Sub(p.Start.Latencies))
			pr.RequestsPerSecond = lab.RequestRate(p.Start, p.End)
		}
		if p.Start.APF != nil && p.End.APF != nil {
			pr.APF = p.End.APF.Since(p.Start.APF)
		}
		// A started cluster's API server was not up when the nodes phase
		// began: that phase has no window to judge.
		if !(p.Name == PhaseNodes && p.Start.At.IsZero()) {
			pr.Windows = windows(p, in.Window)
			pr.SLOs = worstWindows(pr.Windows, label)
			if p.Name != PhaseNodes {
				judged = append(judged, pr.Windows...)
			}
		}
		if pr.PodStartup.SLI.Count > 0 {
			pr.SLOs = append(pr.SLOs, lab.JudgePodStartup(pr.PodStartup.SLI))
		}
		res.Phases = append(res.Phases, pr)
	}
	if len(judged) > 0 {
		res.SLOs = worstWindows(judged, label)
	}
	res.PodStartup = lab.SummarizeStartup(samples, after, in.StoppedAt)
	if res.PodStartup.SLI.Count > 0 {
		res.SLOs = append(res.SLOs, lab.JudgePodStartup(res.PodStartup.SLI))
	}
	res.Series.API = in.ChartPoints
	res.Etcd = etcdOverRun(in.ChartPoints, in.Phases)
	res.Finish(in.StoppedAt, in.Procs)
	if in.Ready != nil {
		rs := in.Ready.Summarize(after, in.StoppedAt)
		res.Readiness = &rs
		res.Series.Ready = in.Ready.Points()
	}
	if in.Client != nil {
		res.Client = in.Client.Rows()
	}
	res.Judge(densityVerdict(in, res))
	return res
}

// etcdOverRun takes the DB size at the first and last points that have
// it, and the largest.
func etcdOverRun(points []lab.APIPoint, phases []PhaseInput) Etcd {
	var e Etcd
	consider := func(v *float64) {
		if v == nil {
			return
		}
		if e.DBStartBytes == nil {
			e.DBStartBytes = v
		}
		e.DBEndBytes = v
		if e.DBMaxBytes == nil || *v > *e.DBMaxBytes {
			e.DBMaxBytes = v
		}
	}
	for _, p := range phases {
		if p.Start.At.IsZero() {
			continue
		}
		consider(p.Start.EtcdDBBytes)
		break
	}
	for _, p := range points {
		consider(p.EtcdDBBytes)
	}
	if n := len(phases); n > 0 {
		consider(phases[n-1].End.EtcdDBBytes)
	}
	return e
}

// densityVerdict gives the reasons a run fails (besides stopping early,
// which judge adds) and the warnings.
func densityVerdict(in Input, res *Result) (reasons, warnings []string) {
	fail := func(format string, a ...any) { reasons = append(reasons, fmt.Sprintf(format, a...)) }
	warn := func(format string, a ...any) { warnings = append(warnings, fmt.Sprintf(format, a...)) }
	ran := map[string]bool{}
	for _, p := range res.Phases {
		ran[p.Name] = true
	}
	if res.StoppedIn == "" {
		if in.Interrupted {
			fail("interrupted")
		}
		for _, name := range []string{PhaseNodes, PhasePods, PhaseObjects, PhaseHold} {
			if !ran[name] && !in.Interrupted {
				fail("the %s phase never ran", name)
			}
		}
	}
	for _, p := range res.Phases {
		// The nodes phase is the cluster's start-up (or, attached, a
		// check of it): judged where it has data, never required to.
		required := p.Name != PhaseNodes
		for _, w := range p.Windows {
			where := fmt.Sprintf("%s phase, window %s", p.Name, windowLabel(res, w))
			if w.NoData != "" && required {
				reasons = append(reasons, lab.NoData(where+": API latency", w.NoData))
			}
			for _, s := range w.SLOs {
				if s.NoData && required {
					reasons = append(reasons, lab.NoData(fmt.Sprintf("%s: API latency of %s calls", where, s.Class), "no such requests in the window, though the bench's probe makes them every probe interval"))
				}
			}
		}
		for _, s := range p.SLOs {
			if s.WindowsMissed > 0 || (s.Class == lab.SLOPodStartup && !s.Pass) {
				fail("%s phase: %s SLO missed: %s", p.Name, s.Class, s)
			}
		}
	}
	if r := res.Readiness; r != nil && r.FalseNotReady > 0 {
		first := r.Examples[0]
		fail("%d node(s) went NotReady after the cluster reached its size; first %s at %s (%s %s)",
			r.Nodes, first.Node, first.At.Format(time.TimeOnly), first.To, first.Reason)
	}
	for _, p := range res.Processes {
		if p.Restarts > 0 {
			fail("%s restarted %d time(s)", p.Name, p.Restarts)
		}
	}
	if res.PodStartup.SLI.Count == 0 && ran[PhasePods] {
		reasons = append(reasons, lab.NoData("pod startup latency", "the pod watch saw none of the run's pods turn Running"))
	}
	if c := res.Objects; len(c) > 0 && len(c[len(c)-1].Uncounted) > 0 {
		warn("%d resource type(s) could not be counted; the object count is a lower bound", len(c[len(c)-1].Uncounted))
	}
	if len(res.ScrapeErrors) > 0 {
		warn("%d distinct scrape error(s), see scrapeErrors", len(res.ScrapeErrors))
	}
	return reasons, warnings
}

func windowLabel(r *Result, w WindowResult) string {
	return mmss(w.From.Sub(r.StartedAt).Seconds()) + "–" + mmss(w.To.Sub(r.StartedAt).Seconds())
}

// apiRows are the phase's SLO pairs, for the report's tables.
func apiRows(lat lab.APILatencies) []lab.APILatencyRow {
	rows, _ := lab.JudgeAPILatency(lat)
	return rows
}
