package sidecarset

import (
	"fmt"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// This file reduces the phases to the two comparisons (pod
// creation with 0, 1 and S SidecarSets; a sidecar upgrade in place vs by
// recreating the pods) and judges the run.

// managerFlowSchema is the flow schema `myriad up` gives myriad-manager.
const managerFlowSchema = "myriad-manager"

// Meter is what a phase measured besides its own figures; Manager is the
// SidecarSet controller's counters.
type Meter = rig.PhaseMeter

// CreateInput is one creation phase as the bench ran it.
type CreateInput struct {
	SidecarSets int
	Want        int
	// PolicyWaitSeconds is how long the policies took to be in force
	// after the SidecarSets were written (not part of the phase).
	PolicyWaitSeconds float64
	// Start is the first create, End after the last answer.
	Start, End time.Time
	// LatencySeconds is per created pod, request to answer.
	LatencySeconds []float64
	Created        int
	// Errors are creates that failed, Wrong pods created with other
	// sidecars than they should have; examples name a few.
	Errors, Wrong                int
	ErrorExamples, WrongExamples []string
	// DeleteSeconds is the deletion of the phase's pods (after the phase).
	DeleteSeconds float64
	Err           string
	Meter
}

// UpgradeInput is one upgrade phase as the bench ran it.
type UpgradeInput struct {
	Kind  string
	Image string
	Want  int
	// Start is when the write was sent, End when the phase was done or
	// given up.
	Start, End   time.Time
	WriteSeconds float64
	Pods         lab.PodFigures
	// NotUpdated names pods the phase still waited for when it stopped.
	NotUpdated []string
	Err        string
	Meter
}

// Input is everything a result is built from. Info carries the process
// series each phase's figures are cut from.
type Input struct {
	Info               lab.RunInfo
	Nodes, Pods        int
	SidecarSets        int
	Concurrency        int
	MaxUnavailable     string
	MaxUnavailablePods int
	StartupSeconds     *float64
	// ClusterSampled says the process series are the cluster's.
	ClusterSampled bool
	Create         []CreateInput
	Upgrades       []UpgradeInput
	Skipped        []string
	Notes          []string
	ScrapeErrors   []string
}

// Result is result.json of the SidecarSet scenario.
type Result struct {
	lab.RunInfo
	Nodes              int            `json:"nodes"`
	Pods               int            `json:"pods"`
	SidecarSets        int            `json:"sidecarSets"`
	Concurrency        int            `json:"concurrency"`
	MaxUnavailable     string         `json:"maxUnavailable"`
	MaxUnavailablePods int            `json:"maxUnavailablePods"`
	StartupSeconds     *float64       `json:"startupSeconds,omitempty"`
	Create             []CreatePhase  `json:"create"`
	Upgrades           []UpgradePhase `json:"upgrades"`
	Comparison         Comparison     `json:"comparison"`
	Skipped            []string       `json:"skipped,omitempty"`
	Notes              []string       `json:"notes,omitempty"`
	ScrapeErrors       []string       `json:"scrapeErrors,omitempty"`
}

// Cost is what a phase cost the cluster.
type Cost struct {
	// APIWrites are every write but Leases (node heartbeats); PodWrites
	// those on pods and their subresources.
	APIWrites       float64               `json:"apiWrites"`
	APIWritesPerPod *float64              `json:"apiWritesPerPod,omitempty"`
	PodWrites       float64               `json:"podWrites"`
	LeaseWrites     float64               `json:"leaseWrites"`
	APIRequests     []lab.APIRequestCount `json:"apiRequests,omitempty"`
	APIFlows        []lab.APIFlowCount    `json:"apiFlows,omitempty"`
	// ManagerRequests are the myriad-manager flow schema's requests.
	ManagerRequests *float64           `json:"managerRequests,omitempty"`
	Manager         map[string]float64 `json:"manager,omitempty"`
	Processes       []lab.ProcSummary  `json:"processes,omitempty"`
	// CPUSeconds is every sampled process; OtherCPUSeconds the rest of
	// the machine meanwhile.
	CPUSeconds        *float64 `json:"cpuSeconds,omitempty"`
	OtherCPUSeconds   *float64 `json:"otherCPUSeconds,omitempty"`
	MachineCPUSeconds *float64 `json:"machineCPUSeconds,omitempty"`
}

// CreatePhase is one creation phase's figures.
type CreatePhase struct {
	Order       int       `json:"order"`
	SidecarSets int       `json:"sidecarSets"`
	Want        int       `json:"want"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Done        bool      `json:"done"`
	// Seconds is the first create to the last answer; PodsPerSecond the
	// pods created over it.
	Seconds       float64       `json:"seconds"`
	PodsPerSecond *float64      `json:"podsPerSecond,omitempty"`
	Latency       lab.Latencies `json:"createLatency"`
	Created       int           `json:"created"`
	Errors        int           `json:"errors"`
	ErrorExamples []string      `json:"errorExamples,omitempty"`
	// Wrong counts created pods whose sidecars were not exactly what the
	// phase's SidecarSets give them (a pod without its sidecar among them).
	Wrong             int      `json:"wrongSidecars"`
	WrongExamples     []string `json:"wrongExamples,omitempty"`
	PolicyWaitSeconds float64  `json:"policyWaitSeconds"`
	DeleteSeconds     float64  `json:"deleteSeconds"`
	Err               string   `json:"error,omitempty"`
	Cost
}

// UpgradePhase is one upgrade phase's figures.
type UpgradePhase struct {
	Order int       `json:"order"`
	Kind  string    `json:"kind"`
	Image string    `json:"image"`
	Want  int       `json:"want"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Done  bool      `json:"done"`
	// Seconds is write → done (pods and status); PodsSeconds → every pod
	// updated as the pod watch saw it; StatusSeconds → the SidecarSet's
	// status saying so.
	Seconds          *float64      `json:"seconds,omitempty"`
	PodsSeconds      *float64      `json:"podsSeconds,omitempty"`
	StatusSeconds    *float64      `json:"statusSeconds,omitempty"`
	WriteSeconds     float64       `json:"writeSeconds"`
	PodsPerSecond    *float64      `json:"podsPerSecond,omitempty"`
	UpdateLatency    lab.Latencies `json:"updateLatency"`
	Recreated        int           `json:"recreated"`
	Created          int           `json:"created"`
	RestartedInPlace int           `json:"restartedInPlace"`
	// MaxUnavailable is the most pods below Want unavailable at once
	// (rollouts only).
	MaxUnavailable *int           `json:"maxUnavailable,omitempty"`
	Final          lab.PodCounts  `json:"final"`
	Reached        string         `json:"reached,omitempty"`
	NotUpdated     []string       `json:"notUpdated,omitempty"`
	Err            string         `json:"error,omitempty"`
	Series         []lab.PodPoint `json:"series"`
	Cost
}

// Comparison is the two comparisons.
type Comparison struct {
	// PodsPerSecond and P99Seconds are per creation phase (0, 1, S
	// SidecarSets); the ratios are each against no SidecarSet.
	CreatePodsPerSecond []*float64 `json:"createPodsPerSecond"`
	CreateP99Seconds    []*float64 `json:"createP99Seconds"`
	ThroughputVsNone    []*float64 `json:"throughputVsNone"`
	P99VsNone           []*float64 `json:"p99VsNone"`
	// InPlaceSeconds and RecreateSeconds are the upgrade's two ways;
	// RecreateOverInPlace their ratio.
	InPlaceSeconds       *float64 `json:"inPlaceSeconds,omitempty"`
	RecreateSeconds      *float64 `json:"recreateSeconds,omitempty"`
	RecreateOverInPlace  *float64 `json:"recreateOverInPlace,omitempty"`
	InPlaceFasterPercent *float64 `json:"inPlaceFasterPercent,omitempty"`
	InPlaceWritesPerPod  *float64 `json:"inPlaceWritesPerPod,omitempty"`
	RecreateWritesPerPod *float64 `json:"recreateWritesPerPod,omitempty"`
}

// Build reduces the phases and judges the run: it passes when every phase
// was done, every pod was created with exactly its sidecars, the in-place
// upgrade kept every pod, the recreation replaced every one, and no
// rollout made more pods unavailable than maxUnavailable allows.
func Build(in Input) *Result {
	r := &Result{RunInfo: in.Info, Nodes: in.Nodes, Pods: in.Pods, SidecarSets: in.SidecarSets, Concurrency: in.Concurrency,
		MaxUnavailable: in.MaxUnavailable, MaxUnavailablePods: in.MaxUnavailablePods, StartupSeconds: in.StartupSeconds,
		Skipped: in.Skipped, Notes: in.Notes, ScrapeErrors: in.ScrapeErrors}
	var reasons, warnings []string
	shared := func(name string, c Cost, secs float64) {
		if w, ok := lab.SharedMachine(name, c.OtherCPUSeconds, secs); ok {
			warnings = append(warnings, w)
		}
	}
	limits := lab.RolloutLimits{MaxUnavailable: in.MaxUnavailable, MaxUnavailablePods: in.MaxUnavailablePods, InPlaceChange: "an image-only sidecar change"}
	for i, p := range in.Create {
		ph := buildCreate(i+1, p, in)
		r.Create = append(r.Create, ph)
		name := fmt.Sprintf("phase %d (create with %s)", ph.Order, setsN(ph.SidecarSets))
		if !ph.Done {
			reasons = append(reasons, fmt.Sprintf("%s stopped: %s", name, ph.Err))
		}
		if ph.Errors > 0 {
			reasons = append(reasons, fmt.Sprintf("%s: %d of %d pod creates failed, e.g. %s", name, ph.Errors, ph.Want, strings.Join(ph.ErrorExamples, "; ")))
		}
		if ph.Wrong > 0 {
			reasons = append(reasons, fmt.Sprintf("%s: %d pods were created without exactly their sidecars, e.g. %s", name, ph.Wrong, strings.Join(ph.WrongExamples, "; ")))
		}
		shared(name, ph.Cost, ph.Seconds)
	}
	for i, p := range in.Upgrades {
		ph := buildUpgrade(len(in.Create)+i+1, p, in)
		r.Upgrades = append(r.Upgrades, ph)
		name := fmt.Sprintf("phase %d (%s)", ph.Order, ph.Kind)
		if !ph.Done {
			reasons = append(reasons, fmt.Sprintf("%s stopped: %s; reached %s", name, ph.Err, ph.Reached))
			continue
		}
		reasons = append(reasons, lab.JudgeRollout(name, ph.Kind, ph.Want, ph.Recreated, ph.MaxUnavailable, limits)...)
		shared(name, ph.Cost, ph.End.Sub(ph.Start).Seconds())
	}
	warnings = append(warnings, lab.RunWarnings(in.Skipped, len(in.ScrapeErrors))...)
	r.Comparison = compare(r)
	r.Judge(reasons, warnings)
	return r
}

func buildCost(m Meter, want int, from, to time.Time, in Input) Cost {
	c := Cost{Manager: m.Manager}
	if m.API != nil {
		c.APIRequests, c.APIFlows = m.API.Kinds, m.API.Flows
		w := m.API.WriteCounts()
		c.APIWrites, c.PodWrites, c.LeaseWrites = w.All, w.Pods, w.Leases
		if want > 0 {
			c.APIWritesPerPod = lab.Some(w.All / float64(want))
		}
		c.ManagerRequests = m.API.FlowCount(managerFlowSchema)
	}
	if !m.ProcFrom.IsZero() {
		from = m.ProcFrom
	}
	if !m.ProcTo.IsZero() {
		to = m.ProcTo
	}
	cpu := lab.PhaseProcesses(in.Info.ProcessSeries, from, to, in.ClusterSampled, m.MachineCPUSeconds)
	c.Processes, c.CPUSeconds, c.OtherCPUSeconds, c.MachineCPUSeconds = cpu.Processes, cpu.CPUSeconds, cpu.OtherCPUSeconds, cpu.MachineCPUSeconds
	return c
}

func buildCreate(order int, p CreateInput, in Input) CreatePhase {
	ph := CreatePhase{Order: order, SidecarSets: p.SidecarSets, Want: p.Want, Start: p.Start, End: p.End,
		Created: p.Created, Errors: p.Errors, ErrorExamples: p.ErrorExamples, Wrong: p.Wrong, WrongExamples: p.WrongExamples,
		PolicyWaitSeconds: p.PolicyWaitSeconds, DeleteSeconds: p.DeleteSeconds, Err: p.Err,
		Latency: lab.SummarizeLatencies(append([]float64(nil), p.LatencySeconds...))}
	ph.Done = p.Err == "" && !p.End.IsZero()
	if !p.End.IsZero() {
		ph.Seconds = p.End.Sub(p.Start).Seconds()
		if ph.Seconds > 0 && p.Created > 0 {
			ph.PodsPerSecond = lab.Some(float64(p.Created) / ph.Seconds)
		}
	}
	ph.Cost = buildCost(p.Meter, p.Want, p.Start, p.End, in)
	return ph
}

func buildUpgrade(order int, p UpgradeInput, in Input) UpgradePhase {
	f := p.Pods
	ph := UpgradePhase{Order: order, Kind: p.Kind, Image: p.Image, Want: p.Want, Start: p.Start, End: p.End,
		WriteSeconds: p.WriteSeconds, Recreated: f.Recreated, Created: f.Created, RestartedInPlace: f.RestartedInPlace,
		Final: f.Final, Err: p.Err, NotUpdated: p.NotUpdated, Series: f.Series,
		UpdateLatency: lab.SummarizeLatencies(append([]float64(nil), f.UpdatedSeconds...))}
	ro := lab.RolloutOf(f, p.Start, p.End, p.Want, p.Err, "the SidecarSet's")
	ph.Seconds, ph.PodsSeconds, ph.StatusSeconds, ph.PodsPerSecond = ro.Seconds, ro.PodsSeconds, ro.StatusSeconds, ro.PodsPerSecond
	ph.Done, ph.Reached = ro.Done, ro.Reached
	if p.Kind != Deploy {
		ph.MaxUnavailable = lab.Some(f.MaxUnavailable)
	}
	ph.Cost = buildCost(p.Meter, p.Want, p.Start, p.End, in)
	return ph
}

func compare(r *Result) Comparison {
	var c Comparison
	var none *CreatePhase
	for i := range r.Create {
		p := &r.Create[i]
		if p.SidecarSets == 0 && p.Done {
			none = p
		}
	}
	for _, p := range r.Create {
		pps, p99 := p.PodsPerSecond, p.Latency.P99
		if !p.Done {
			pps, p99 = nil, nil
		}
		c.CreatePodsPerSecond, c.CreateP99Seconds = append(c.CreatePodsPerSecond, pps), append(c.CreateP99Seconds, p99)
		var tv, lv *float64
		if none != nil {
			tv, lv = lab.Ratio(pps, none.PodsPerSecond), lab.Ratio(p99, none.Latency.P99)
		}
		c.ThroughputVsNone, c.P99VsNone = append(c.ThroughputVsNone, tv), append(c.P99VsNone, lv)
	}
	for _, p := range r.Upgrades {
		if !p.Done {
			continue
		}
		switch p.Kind {
		case InPlace:
			c.InPlaceSeconds, c.InPlaceWritesPerPod = p.Seconds, p.APIWritesPerPod
		case Recreate:
			c.RecreateSeconds, c.RecreateWritesPerPod = p.Seconds, p.APIWritesPerPod
		}
	}
	c.RecreateOverInPlace = lab.Ratio(c.RecreateSeconds, c.InPlaceSeconds)
	if q := lab.Ratio(c.InPlaceSeconds, c.RecreateSeconds); q != nil {
		c.InPlaceFasterPercent = lab.Some((1 - *q) * 100)
	}
	return c
}
