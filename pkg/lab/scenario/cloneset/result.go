package cloneset

import (
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// The CloneSet scenario (`myriad bench cloneset`) scales one CloneSet from
// 0 to P pods, then rolls out image changes on it: in place, by
// recreating every pod, and (to cancel drift) in place again, all in one
// run on one cluster. Each phase is timed from the write that starts it to
// the pod-watch event after which every pod runs the phase's image and is
// available, with the CloneSet's status agreeing. This file reduces the
// phases to the seed's comparison ("in-place update is up to 80% faster")
// and judges the run; pods.go follows the pods.

// Phase kinds of the CloneSet scenario.
const (
	Scale    = "scale"
	InPlace  = lab.RolloutInPlace
	Recreate = lab.RolloutRecreate
)

// managerFlowSchema is the flow schema `myriad up` gives myriad-manager.
const managerFlowSchema = "myriad-manager"

// PhaseInput is one phase as the bench ran it.
type PhaseInput struct {
	Kind  string
	Image string
	Want  int
	// Start is when the write was sent, End when the phase was done or
	// given up.
	Start, End time.Time
	// WriteSeconds is how long the write itself took.
	WriteSeconds float64
	// ProcFrom and ProcTo bound the process samples that belong to the
	// phase: one was taken just before the write, one just after the end.
	// Zero means Start and End.
	ProcFrom, ProcTo time.Time
	// MachineCPUSeconds is what every core of the machine spent busy over
	// the same window (ReadMachineCPU); nil when unknown.
	MachineCPUSeconds *float64
	Err               string
	Pods              PodFigures
	// API is what the API server(s) served during the phase; nil when a
	// scrape failed.
	API *lab.APIRequestDelta
	// Manager is ManagerCounters over the phase; nil when not scraped.
	Manager map[string]float64
}

// Input is everything a CloneSet result is built from. Its
// Info carries the process series (SetProcesses) that each phase's figures
// are cut from.
type Input struct {
	Info  lab.RunInfo
	Nodes int
	Pods  int
	// MaxUnavailable is the flag as given, MaxUnavailablePods resolved.
	MaxUnavailable     string
	MaxUnavailablePods int
	StartupSeconds     *float64
	// ClusterSampled says the process series are the cluster's (one the
	// bench started); on an existing cluster only the bench is sampled,
	// and phases get no CPU totals.
	ClusterSampled bool
	Phases         []PhaseInput
	// Skipped names the phases that never started, and why.
	Skipped []string
	// Notes are said in the report as they are (how the run was set up).
	Notes        []string
	ScrapeErrors []string
}

// Result is result.json of the CloneSet scenario.
type Result struct {
	lab.RunInfo
	Nodes              int        `json:"nodes"`
	Pods               int        `json:"pods"`
	MaxUnavailable     string     `json:"maxUnavailable"`
	MaxUnavailablePods int        `json:"maxUnavailablePods"`
	StartupSeconds     *float64   `json:"startupSeconds,omitempty"`
	Phases             []Phase    `json:"phases"`
	Comparison         Comparison `json:"comparison"`
	Skipped            []string   `json:"skipped,omitempty"`
	Notes              []string   `json:"notes,omitempty"`
	ScrapeErrors       []string   `json:"scrapeErrors,omitempty"`
}

// Phase is one phase's figures.
type Phase struct {
	Order int       `json:"order"`
	Kind  string    `json:"kind"`
	Image string    `json:"image"`
	Want  int       `json:"want"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Done  bool      `json:"done"`
	// Seconds is write → done (pods and status); PodsSeconds write → every
	// pod updated as the pod watch saw it; StatusSeconds write → the
	// CloneSet's status saying so.
	Seconds       *float64 `json:"seconds,omitempty"`
	PodsSeconds   *float64 `json:"podsSeconds,omitempty"`
	StatusSeconds *float64 `json:"statusSeconds,omitempty"`
	WriteSeconds  float64  `json:"writeSeconds"`
	PodsPerSecond *float64 `json:"podsPerSecond,omitempty"`
	// UpdateLatency is per pod, write → first seen updated.
	UpdateLatency    lab.Latencies `json:"updateLatency"`
	Recreated        int           `json:"recreated"`
	Created          int           `json:"created"`
	RestartedInPlace int           `json:"restartedInPlace"`
	// MaxUnavailable is the most pods below Want ever unavailable (rollouts
	// only: a scale-up starts with every pod missing).
	MaxUnavailable *int   `json:"maxUnavailable,omitempty"`
	Final          Counts `json:"final"`
	// Reached says how far a phase that was not done got.
	Reached string `json:"reached,omitempty"`
	Err     string `json:"error,omitempty"`
	// APIWrites are every write the API server(s) served in the phase
	// except Leases (node heartbeats, which go on whatever the workload
	// does); PodWrites those on pods and their subresources.
	APIWrites       float64               `json:"apiWrites"`
	APIWritesPerPod *float64              `json:"apiWritesPerPod,omitempty"`
	PodWrites       float64               `json:"podWrites"`
	PodWritesPerPod *float64              `json:"podWritesPerPod,omitempty"`
	LeaseWrites     float64               `json:"leaseWrites"`
	APIRequests     []lab.APIRequestCount `json:"apiRequests,omitempty"`
	// APIFlows are the requests by API priority flow schema: who made them.
	APIFlows []lab.APIFlowCount `json:"apiFlows,omitempty"`
	// ManagerRequests are the requests of the myriad-manager flow schema
	// (the CloneSet controller's, reads included); nil when the API
	// server did not count it.
	ManagerRequests       *float64           `json:"managerRequests,omitempty"`
	ManagerRequestsPerPod *float64           `json:"managerRequestsPerPod,omitempty"`
	Manager               map[string]float64 `json:"manager,omitempty"`
	Processes             []lab.ProcSummary  `json:"processes,omitempty"`
	// CPUSeconds is every sampled process's CPU over the phase;
	// OtherCPUSeconds what the rest of the machine used meanwhile (other
	// work on a shared machine), MachineCPUSeconds both.
	CPUSeconds        *float64 `json:"cpuSeconds,omitempty"`
	OtherCPUSeconds   *float64 `json:"otherCPUSeconds,omitempty"`
	MachineCPUSeconds *float64 `json:"machineCPUSeconds,omitempty"`
	Series            []Point  `json:"series"`
}

// Comparison is in place against ReCreate, same run, same pods.
type Comparison struct {
	InPlaceSeconds  []float64 `json:"inPlaceSeconds"`
	RecreateSeconds []float64 `json:"recreateSeconds"`
	// InPlaceMean and RecreateMean are over the finished phases of each
	// kind; the ratio is RecreateMean / InPlaceMean, and in place is
	// InPlaceFasterPercent = (1 - InPlaceMean/RecreateMean) * 100 faster.
	InPlaceMean          *float64 `json:"inPlaceMeanSeconds,omitempty"`
	RecreateMean         *float64 `json:"recreateMeanSeconds,omitempty"`
	RecreateOverInPlace  *float64 `json:"recreateOverInPlace,omitempty"`
	InPlaceFasterPercent *float64 `json:"inPlaceFasterPercent,omitempty"`
	// Writes per pod and CPU seconds (all processes), means per kind.
	InPlaceWritesPerPod  *float64 `json:"inPlaceWritesPerPod,omitempty"`
	RecreateWritesPerPod *float64 `json:"recreateWritesPerPod,omitempty"`
	InPlaceCPUSeconds    *float64 `json:"inPlaceCPUSeconds,omitempty"`
	RecreateCPUSeconds   *float64 `json:"recreateCPUSeconds,omitempty"`
}

// Build reduces the phases and judges the run: it
// passes when every phase was done, no pod was recreated by an in-place
// rollout, every pod was recreated by the ReCreate one, and no rollout
// made more pods unavailable than maxUnavailable allows.
func Build(in Input) *Result {
	r := &Result{RunInfo: in.Info, Nodes: in.Nodes, Pods: in.Pods, MaxUnavailable: in.MaxUnavailable,
		MaxUnavailablePods: in.MaxUnavailablePods, StartupSeconds: in.StartupSeconds, Skipped: in.Skipped, Notes: in.Notes,
		ScrapeErrors: in.ScrapeErrors}
	var reasons, warnings []string
	limits := lab.RolloutLimits{MaxUnavailable: in.MaxUnavailable, MaxUnavailablePods: in.MaxUnavailablePods, InPlaceChange: "an image-only change"}
	for i, p := range in.Phases {
		ph := buildPhase(i+1, p, in.Info.ProcessSeries, in.ClusterSampled)
		r.Phases = append(r.Phases, ph)
		name := fmt.Sprintf("phase %d (%s)", ph.Order, ph.Kind)
		if !ph.Done {
			why := ph.Err
			if why == "" {
				why = "not done"
			}
			reasons = append(reasons, fmt.Sprintf("%s stopped: %s; reached %s", name, why, ph.Reached))
			continue
		}
		reasons = append(reasons, lab.JudgeRollout(name, ph.Kind, ph.Want, ph.Recreated, ph.MaxUnavailable, limits)...)
		if w, ok := lab.SharedMachine(name, ph.OtherCPUSeconds, ph.End.Sub(ph.Start).Seconds()); ok {
			warnings = append(warnings, w)
		}
	}
	warnings = append(warnings, lab.RunWarnings(in.Skipped, len(in.ScrapeErrors))...)
	r.Comparison = comparePhases(r.Phases)
	r.Judge(reasons, warnings)
	return r
}

func buildPhase(order int, p PhaseInput, procs map[string][]lab.ProcSample, clusterSampled bool) Phase {
	f := p.Pods
	ph := Phase{Order: order, Kind: p.Kind, Image: p.Image, Want: p.Want, Start: p.Start, End: p.End,
		WriteSeconds: p.WriteSeconds, Recreated: f.Recreated, Created: f.Created, RestartedInPlace: f.RestartedInPlace,
		Final: f.Final, Err: p.Err, Series: f.Series, UpdateLatency: lab.SummarizeLatencies(append([]float64(nil), f.UpdatedSeconds...)),
		Manager: p.Manager}
	ro := lab.RolloutOf(f, p.Start, p.End, p.Want, p.Err, "the CloneSet's")
	ph.Seconds, ph.PodsSeconds, ph.StatusSeconds, ph.PodsPerSecond = ro.Seconds, ro.PodsSeconds, ro.StatusSeconds, ro.PodsPerSecond
	ph.Done, ph.Reached = ro.Done, ro.Reached
	if p.Kind != Scale {
		ph.MaxUnavailable = lab.Some(f.MaxUnavailable)
	}
	perPod := func(v float64) *float64 {
		if p.Want == 0 {
			return nil
		}
		return lab.Some(v / float64(p.Want))
	}
	if p.API != nil {
		ph.APIRequests, ph.APIFlows = p.API.Kinds, p.API.Flows
		w := p.API.WriteCounts()
		ph.APIWrites, ph.PodWrites, ph.LeaseWrites = w.All, w.Pods, w.Leases
		ph.APIWritesPerPod, ph.PodWritesPerPod = perPod(ph.APIWrites), perPod(ph.PodWrites)
		if n := p.API.FlowCount(managerFlowSchema); n != nil {
			ph.ManagerRequests, ph.ManagerRequestsPerPod = n, perPod(*n)
		}
	}
	from, to := p.ProcFrom, p.ProcTo
	if from.IsZero() {
		from = p.Start
	}
	if to.IsZero() {
		to = p.End
	}
	cpu := lab.PhaseProcesses(procs, from, to, clusterSampled, p.MachineCPUSeconds)
	ph.Processes, ph.CPUSeconds, ph.OtherCPUSeconds, ph.MachineCPUSeconds = cpu.Processes, cpu.CPUSeconds, cpu.OtherCPUSeconds, cpu.MachineCPUSeconds
	return ph
}

func comparePhases(phases []Phase) Comparison {
	var c Comparison
	var inWrites, reWrites, inCPU, reCPU []float64
	for _, p := range phases {
		if !p.Done || p.Seconds == nil {
			continue
		}
		switch p.Kind {
		case InPlace:
			c.InPlaceSeconds = append(c.InPlaceSeconds, *p.Seconds)
			inWrites, inCPU = appendIfSet(inWrites, p.APIWritesPerPod), appendIfSet(inCPU, p.CPUSeconds)
		case Recreate:
			c.RecreateSeconds = append(c.RecreateSeconds, *p.Seconds)
			reWrites, reCPU = appendIfSet(reWrites, p.APIWritesPerPod), appendIfSet(reCPU, p.CPUSeconds)
		}
	}
	c.InPlaceMean, c.RecreateMean = lab.MeanOf(c.InPlaceSeconds), lab.MeanOf(c.RecreateSeconds)
	c.RecreateOverInPlace = lab.Ratio(c.RecreateMean, c.InPlaceMean)
	if q := lab.Ratio(c.InPlaceMean, c.RecreateMean); q != nil {
		c.InPlaceFasterPercent = lab.Some((1 - *q) * 100)
	}
	c.InPlaceWritesPerPod, c.RecreateWritesPerPod = lab.MeanOf(inWrites), lab.MeanOf(reWrites)
	c.InPlaceCPUSeconds, c.RecreateCPUSeconds = lab.MeanOf(inCPU), lab.MeanOf(reCPU)
	return c
}

func appendIfSet(s []float64, v *float64) []float64 {
	if v == nil {
		return s
	}
	return append(s, *v)
}
