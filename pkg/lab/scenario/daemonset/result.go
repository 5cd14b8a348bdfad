package daemonset

import (
	"fmt"
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
	Coverage   lab.CoverageFigures
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

// Cost is what a phase cost the cluster: the API writes (all but
// Leases) per node besides the figures every workload phase has.
type Cost struct {
	rig.PhaseCost
	APIWritesPerNode *float64 `json:"apiWritesPerNode,omitempty"`
}

// Phase is one phase's figures. Seconds are from the phase's write.
type Phase struct {
	lab.RolloutPhase
	Want int `json:"nodes"`
	// Budget is maxUnavailable in nodes (rollouts only).
	Budget *int `json:"maxUnavailableNodes,omitempty"`
	// MaxWithout is the most nodes without a ready agent at once, first
	// reached MaxWithoutAtSeconds after the write; WithoutAtEnd at the end.
	MaxWithout          int      `json:"maxNodesWithoutReadyAgent"`
	MaxWithoutAtSeconds float64  `json:"maxNodesWithoutReadyAgentAtSeconds"`
	WithoutAtEnd        int      `json:"nodesWithoutReadyAgentAtEnd"`
	Uncovered           []string `json:"nodesWithoutReadyAgentExamples,omitempty"`
	// Coverage is the nodes without a ready agent, per second.
	Coverage []lab.CoveragePoint `json:"nodesWithoutReadyAgent"`
	Cost
}

// Comparison is the comparison: the same image rollout three ways.
type Comparison struct {
	lab.RolloutTimes
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
		if w, ok := lab.SharedMachine(ph.Name(), ph.OtherCPUSeconds, ph.End.Sub(ph.Start).Seconds()); ok {
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
	out := ph.Judge(ph.Want)
	if ph.Budget != nil && ph.MaxWithout > *ph.Budget {
		out = append(out, fmt.Sprintf("%s left %d nodes without a ready agent at once (%.1fs after the write); maxUnavailable %s allows %d",
			ph.Name(), ph.MaxWithout, ph.MaxWithoutAtSeconds, maxUnavailable, *ph.Budget))
	}
	return out
}

func buildPhase(order int, p PhaseInput, in Input) Phase {
	c := p.Coverage
	ph := Phase{RolloutPhase: lab.NewRolloutPhase(order, p.Kind, p.Image, p.Want, p.Start, p.End, p.Pods, p.NotUpdated, p.Err, "the DaemonSet's"),
		Want: p.Want, MaxWithout: c.MaxWithout, MaxWithoutAtSeconds: c.MaxAtSeconds, WithoutAtEnd: c.Final, Coverage: c.Series, Uncovered: p.Uncovered}
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
	c := Cost{PhaseCost: rig.CostOf(m, from, to, in.Info.ProcessSeries, in.ClusterSampled, managerFlowSchema)}
	if m.API != nil && nodes > 0 {
		c.APIWritesPerNode = lab.Some(c.APIWrites / float64(nodes))
	}
	return c
}

func compare(r *Result) Comparison {
	var c Comparison
	phases := make([]lab.RolloutPhase, len(r.Phases))
	for i, p := range r.Phases {
		phases[i] = p.RolloutPhase
	}
	c.RolloutTimes = lab.CompareRollouts(phases, func(i int) {
		p := r.Phases[i]
		without := lab.Some(p.MaxWithout)
		switch p.Kind {
		case InPlace:
			c.InPlaceWritesPerNode, c.InPlaceMaxWithout = p.APIWritesPerNode, without
		case Recreate:
			c.RecreateWritesPerNode, c.RecreateMaxWithout = p.APIWritesPerNode, without
		case Upstream:
			c.UpstreamWritesPerNode, c.UpstreamMaxWithout = p.APIWritesPerNode, without
		}
	})
	return c
}
