package daemonset

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// This file reduces the phases to the comparison (an agent image
// rolled across every node in place, by recreating, and by the upstream
// DaemonSet) and judges the run.

// managerFlowSchema is the flow schema `myriad up` gives myriad-manager.
const managerFlowSchema = "myriad-manager"

// PhaseInput is one phase as the bench ran it.
type PhaseInput struct {
	Kind, Image string
	// Want is the nodes owed an agent at the phase's start.
	Want int
	// Start is just before the write, End when the phase was done or
	// given up.
	Start, End time.Time
	Pods       lab.PodFigures
	Coverage   CoverageFigures
	// NotUpdated and Uncovered name agents and nodes the phase still
	// waited for when it stopped.
	NotUpdated, Uncovered []string
	Err                   string
	Meter                 rig.PhaseMeter
}

// Input is everything a result is built from. Info carries the process
// series each phase's figures are cut from.
type Input struct {
	Info           lab.RunInfo
	MaxUnavailable string
	Images         []string
	StartupSeconds *float64
	// ClusterSampled says the process series are the cluster's.
	ClusterSampled bool
	// HandOverSeconds is the Advanced DaemonSet's deletion until its
	// agents were gone, before the upstream phases (not timed).
	HandOverSeconds *float64
	Phases          []PhaseInput
	Skipped         []string
	Notes           []string
	ScrapeErrors    []string
}

// Result is result.json of `myriad bench daemonset`.
type Result struct {
	lab.RunInfo
	Nodes           int        `json:"nodes"`
	MaxUnavailable  string     `json:"maxUnavailable"`
	Images          []string   `json:"images"`
	StartupSeconds  *float64   `json:"startupSeconds,omitempty"`
	HandOverSeconds *float64   `json:"handOverSeconds,omitempty"`
	Phases          []Phase    `json:"phases"`
	Comparison      Comparison `json:"comparison"`
	Skipped         []string   `json:"skipped,omitempty"`
	Notes           []string   `json:"notes,omitempty"`
	ScrapeErrors    []string   `json:"scrapeErrors,omitempty"`
}

// Cost is what a phase cost the cluster.
type Cost struct {
	// APIWrites are every write but Leases (node heartbeats go on
	// whatever the agents do), per node too; WriteKinds the same by verb
	// and resource, most first; PodWrites those on pods.
	APIWrites        float64               `json:"apiWrites"`
	APIWritesPerNode *float64              `json:"apiWritesPerNode,omitempty"`
	PodWrites        float64               `json:"podWrites"`
	WriteKinds       []lab.APIRequestCount `json:"writeKinds,omitempty"`
	APIRequests      []lab.APIRequestCount `json:"apiRequests,omitempty"`
	APIFlows         []lab.APIFlowCount    `json:"apiFlows,omitempty"`
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

// Phase is one phase's figures. Seconds are from the phase's write.
type Phase struct {
	Order int       `json:"order"`
	Kind  string    `json:"kind"`
	Image string    `json:"image"`
	Want  int       `json:"nodes"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Done  bool      `json:"done"`
	// Seconds is write → done (agents and status); PodsSeconds → every
	// node's agent updated as the pod watch saw it; StatusSeconds → the
	// DaemonSet's status saying so.
	Seconds       *float64      `json:"seconds,omitempty"`
	PodsSeconds   *float64      `json:"podsSeconds,omitempty"`
	StatusSeconds *float64      `json:"statusSeconds,omitempty"`
	PodsPerSecond *float64      `json:"podsPerSecond,omitempty"`
	UpdateLatency lab.Latencies `json:"updateLatency"`
	// Budget is maxUnavailable in nodes (rollouts only).
	Budget *int `json:"maxUnavailableNodes,omitempty"`
	// MaxWithout is the most nodes without a ready agent at once, first
	// reached MaxWithoutAtSeconds after the write; WithoutAtEnd at the end.
	MaxWithout          int     `json:"maxNodesWithoutReadyAgent"`
	MaxWithoutAtSeconds float64 `json:"maxNodesWithoutReadyAgentAtSeconds"`
	WithoutAtEnd        int     `json:"nodesWithoutReadyAgentAtEnd"`
	// Recreated counts agents live at the start that were deleted (UID
	// gone), UIDsKept those still live at the end, Created agents first
	// seen during the phase.
	Recreated        int            `json:"recreated"`
	UIDsKept         int            `json:"uidsKept"`
	Created          int            `json:"created"`
	RestartedInPlace int            `json:"restartedInPlace"`
	Final            lab.PodCounts  `json:"final"`
	Reached          string         `json:"reached,omitempty"`
	NotUpdated       []string       `json:"notUpdated,omitempty"`
	Uncovered        []string       `json:"nodesWithoutReadyAgentExamples,omitempty"`
	Err              string         `json:"error,omitempty"`
	Series           []lab.PodPoint `json:"series"`
	// Coverage is the nodes without a ready agent, per second.
	Coverage []CoveragePoint `json:"nodesWithoutReadyAgent"`
	Cost
}

// Comparison is the comparison: the same image rollout three ways.
type Comparison struct {
	InPlaceSeconds      *float64 `json:"inPlaceSeconds,omitempty"`
	RecreateSeconds     *float64 `json:"recreateSeconds,omitempty"`
	UpstreamSeconds     *float64 `json:"upstreamSeconds,omitempty"`
	RecreateOverInPlace *float64 `json:"recreateOverInPlace,omitempty"`
	UpstreamOverInPlace *float64 `json:"upstreamOverInPlace,omitempty"`
	// WritesPerNode are each rollout's API writes (all but Leases) per
	// node; MaxWithout the most nodes without a ready agent at once.
	InPlaceWritesPerNode  *float64 `json:"inPlaceWritesPerNode,omitempty"`
	RecreateWritesPerNode *float64 `json:"recreateWritesPerNode,omitempty"`
	UpstreamWritesPerNode *float64 `json:"upstreamWritesPerNode,omitempty"`
	InPlaceMaxWithout     *int     `json:"inPlaceMaxNodesWithoutReadyAgent,omitempty"`
	RecreateMaxWithout    *int     `json:"recreateMaxNodesWithoutReadyAgent,omitempty"`
	UpstreamMaxWithout    *int     `json:"upstreamMaxNodesWithoutReadyAgent,omitempty"`
}

// Build reduces the phases and judges the run: it passes when every phase
// was done, no rollout left more nodes without a ready agent than
// maxUnavailable allows, the in-place rollout kept every agent (UIDs) and
// the recreating ones replaced every agent.
func Build(in Input) *Result {
	r := &Result{RunInfo: in.Info, MaxUnavailable: in.MaxUnavailable, Images: in.Images, StartupSeconds: in.StartupSeconds,
		HandOverSeconds: in.HandOverSeconds, Skipped: in.Skipped, Notes: in.Notes, ScrapeErrors: in.ScrapeErrors}
	var reasons, warnings []string
	for i, p := range in.Phases {
		ph := buildPhase(i+1, p, in)
		r.Phases = append(r.Phases, ph)
		r.Nodes = max(r.Nodes, ph.Want)
		reasons = append(reasons, judge(ph, in.MaxUnavailable)...)
		if w, ok := lab.SharedMachine(phaseName(ph), ph.OtherCPUSeconds, ph.End.Sub(ph.Start).Seconds()); ok {
			warnings = append(warnings, w)
		}
	}
	warnings = append(warnings, lab.RunWarnings(in.Skipped, len(in.ScrapeErrors))...)
	r.Comparison = compare(r)
	r.Judge(reasons, warnings)
	return r
}

// judge says why phase ph fails the run.
func judge(ph Phase, maxUnavailable string) []string {
	name := phaseName(ph)
	var out []string
	if !ph.Done {
		out = append(out, fmt.Sprintf("%s stopped: %s; reached %s", name, ph.Err, ph.Reached))
	}
	if ph.Budget != nil && ph.MaxWithout > *ph.Budget {
		out = append(out, fmt.Sprintf("%s left %d nodes without a ready agent at once (%.1fs after the write); maxUnavailable %s allows %d",
			name, ph.MaxWithout, ph.MaxWithoutAtSeconds, maxUnavailable, *ph.Budget))
	}
	switch {
	case ph.Kind == InPlace && ph.Recreated > 0:
		out = append(out, lab.JudgeRollout(name, lab.RolloutInPlace, ph.Want, ph.Recreated, nil, lab.RolloutLimits{InPlaceChange: "an image-only change"})...)
	case ph.Done && (ph.Kind == Recreate || ph.Kind == Upstream):
		out = append(out, lab.JudgeRollout(name, lab.RolloutRecreate, ph.Want, ph.Recreated, nil, lab.RolloutLimits{})...)
	}
	return out
}

func phaseName(ph Phase) string { return fmt.Sprintf("phase %d (%s)", ph.Order, ph.Kind) }

func buildPhase(order int, p PhaseInput, in Input) Phase {
	f, c := p.Pods, p.Coverage
	ph := Phase{Order: order, Kind: p.Kind, Image: p.Image, Want: p.Want, Start: p.Start, End: p.End,
		MaxWithout: c.MaxWithout, MaxWithoutAtSeconds: c.MaxAtSeconds, WithoutAtEnd: c.Final, Coverage: c.Series,
		Recreated: f.Recreated, Created: f.Created, RestartedInPlace: f.RestartedInPlace, Final: f.Final,
		NotUpdated: p.NotUpdated, Uncovered: p.Uncovered, Err: p.Err, Series: f.Series,
		UpdateLatency: lab.SummarizeLatencies(append([]float64(nil), f.UpdatedSeconds...))}
	if len(f.Series) > 0 {
		// The first point is the agents when the phase began.
		ph.UIDsKept = max(0, f.Series[0].Live-f.Recreated)
	}
	ro := lab.RolloutOf(f, p.Start, p.End, p.Want, p.Err, "the DaemonSet's")
	ph.Seconds, ph.PodsSeconds, ph.StatusSeconds, ph.PodsPerSecond = ro.Seconds, ro.PodsSeconds, ro.StatusSeconds, ro.PodsPerSecond
	ph.Done, ph.Reached = ro.Done, ro.Reached
	if !ph.Done && c.Final > 0 {
		ph.Reached += fmt.Sprintf("; %d nodes without a ready agent", c.Final)
	}
	if rollout(p.Kind) && p.Want > 0 {
		if b, err := Budget(intstr.Parse(in.MaxUnavailable), p.Want); err == nil {
			ph.Budget = &b
		}
	}
	ph.Cost = buildCost(p.Meter, p.Want, p.Start, p.End, in)
	return ph
}

func buildCost(m rig.PhaseMeter, nodes int, from, to time.Time, in Input) Cost {
	c := Cost{Manager: m.Manager}
	if m.API != nil {
		c.APIRequests, c.APIFlows = m.API.Kinds, m.API.Flows
		w := m.API.WriteCounts()
		c.APIWrites, c.PodWrites = w.All, w.Pods
		for _, k := range m.API.Kinds {
			if k.Writes() && !strings.HasPrefix(k.Resource, "leases.") {
				c.WriteKinds = append(c.WriteKinds, k)
			}
		}
		sort.SliceStable(c.WriteKinds, func(i, j int) bool { return c.WriteKinds[i].Count > c.WriteKinds[j].Count })
		if nodes > 0 {
			c.APIWritesPerNode = lab.Some(w.All / float64(nodes))
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

func compare(r *Result) Comparison {
	var c Comparison
	for _, p := range r.Phases {
		if !p.Done {
			continue
		}
		without := lab.Some(p.MaxWithout)
		switch p.Kind {
		case InPlace:
			c.InPlaceSeconds, c.InPlaceWritesPerNode, c.InPlaceMaxWithout = p.Seconds, p.APIWritesPerNode, without
		case Recreate:
			c.RecreateSeconds, c.RecreateWritesPerNode, c.RecreateMaxWithout = p.Seconds, p.APIWritesPerNode, without
		case Upstream:
			c.UpstreamSeconds, c.UpstreamWritesPerNode, c.UpstreamMaxWithout = p.Seconds, p.APIWritesPerNode, without
		}
	}
	c.RecreateOverInPlace = lab.Ratio(c.RecreateSeconds, c.InPlaceSeconds)
	c.UpstreamOverInPlace = lab.Ratio(c.UpstreamSeconds, c.InPlaceSeconds)
	return c
}
