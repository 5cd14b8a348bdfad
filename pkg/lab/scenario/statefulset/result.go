package statefulset

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// This file reduces the phases to the comparison (a StatefulSet's
// image rolled in place, by recreating, and by the upstream StatefulSet)
// and judges the run.

// managerFlowSchema is the flow schema `myriad up` gives myriad-manager.
const managerFlowSchema = "myriad-manager"

// PhaseInput is one phase as the bench ran it.
type PhaseInput struct {
	Kind, Image string
	// Want is the replicas.
	Want int
	// Start is just before the write, End when the phase was done or
	// given up.
	Start, End time.Time
	Pods       lab.PodFigures
	// Coverage is the ordinals without a ready pod.
	Coverage lab.CoverageFigures
	// NotUpdated and Unavailable name pods and ordinals the phase still
	// waited for when it stopped.
	NotUpdated, Unavailable []string
	Err                     string
	Meter                   rig.PhaseMeter
}

// Input is everything a result is built from. Info carries the process
// series each phase's figures are cut from.
type Input struct {
	Info           lab.RunInfo
	MaxUnavailable string
	// UpstreamMaxUnavailable is the upstream StatefulSet's maxUnavailable
	// as the API server kept it: "1" when it dropped the field; empty
	// when the upstream phases did not run.
	UpstreamMaxUnavailable string
	Images                 []string
	StartupSeconds         *float64
	// ClusterSampled says the process series are the cluster's.
	ClusterSampled bool
	// HandOverSeconds is the Advanced StatefulSet's deletion until its
	// pods were gone, before the upstream phases (not timed).
	HandOverSeconds *float64
	Phases          []PhaseInput
	Skipped         []string
	Notes           []string
	ScrapeErrors    []string
}

// Result is result.json of `myriad bench statefulset`.
type Result struct {
	lab.RunInfo
	Replicas       int    `json:"replicas"`
	MaxUnavailable string `json:"maxUnavailable"`
	// UpstreamMaxUnavailable is what the upstream StatefulSet was rolled
	// with (see Input).
	UpstreamMaxUnavailable string     `json:"upstreamMaxUnavailable,omitempty"`
	Images                 []string   `json:"images"`
	StartupSeconds         *float64   `json:"startupSeconds,omitempty"`
	HandOverSeconds        *float64   `json:"handOverSeconds,omitempty"`
	Phases                 []Phase    `json:"phases"`
	Comparison             Comparison `json:"comparison"`
	Skipped                []string   `json:"skipped,omitempty"`
	Notes                  []string   `json:"notes,omitempty"`
	ScrapeErrors           []string   `json:"scrapeErrors,omitempty"`
}

// Cost is what a phase cost the cluster: the API writes (all but
// Leases) per pod besides the figures every workload phase has.
type Cost struct {
	rig.PhaseCost
	APIWritesPerPod *float64 `json:"apiWritesPerPod,omitempty"`
}

// Phase is one phase's figures. Seconds are from the phase's write.
type Phase struct {
	lab.RolloutPhase
	Want int `json:"replicas"`
	// Budget is maxUnavailable in pods (rollouts only); Judged says the
	// run fails when it is exceeded (the Advanced StatefulSet's).
	Budget *int `json:"maxUnavailablePods,omitempty"`
	Judged bool `json:"budgetJudged,omitempty"`
	// MaxUnavailable is the most ordinals without a ready pod at once
	// (not Ready, terminating, InPlaceUpdateReady False or missing), first
	// reached MaxUnavailableAtSeconds after the write; UnavailableAtEnd
	// at the end; Unavailable names some at the end of a phase that
	// stopped.
	MaxUnavailable          int      `json:"maxPodsUnavailable"`
	MaxUnavailableAtSeconds float64  `json:"maxPodsUnavailableAtSeconds"`
	UnavailableAtEnd        int      `json:"podsUnavailableAtEnd"`
	Unavailable             []string `json:"podsUnavailableExamples,omitempty"`
	// NamesKept is the ordinals with a ready pod of their name at the end.
	NamesKept int `json:"namesKept"`
	// UnavailableSeries is the ordinals without a ready pod, per second.
	UnavailableSeries []lab.CoveragePoint `json:"podsUnavailable"`
	Cost
}

// Comparison is the comparison: the same image rollout three ways.
type Comparison struct {
	lab.RolloutTimes
	// WritesPerPod are each rollout's API writes (all but Leases) per
	// pod; MaxUnavailable the most pods unavailable at once.
	InPlaceWritesPerPod    *float64 `json:"inPlaceWritesPerPod,omitempty"`
	RecreateWritesPerPod   *float64 `json:"recreateWritesPerPod,omitempty"`
	UpstreamWritesPerPod   *float64 `json:"upstreamWritesPerPod,omitempty"`
	InPlaceMaxUnavailable  *int     `json:"inPlaceMaxPodsUnavailable,omitempty"`
	RecreateMaxUnavailable *int     `json:"recreateMaxPodsUnavailable,omitempty"`
	UpstreamMaxUnavailable *int     `json:"upstreamMaxPodsUnavailable,omitempty"`
}

// Build reduces the phases and judges the run: it passes when every phase
// was done, no Advanced StatefulSet rollout had more pods unavailable at
// once than maxUnavailable allows, the in-place rollout kept every pod
// (UIDs) and the recreating ones (the Advanced StatefulSet's ReCreate and
// the upstream one) replaced every pod.
func Build(in Input) *Result {
	r := &Result{RunInfo: in.Info, MaxUnavailable: in.MaxUnavailable, UpstreamMaxUnavailable: in.UpstreamMaxUnavailable,
		Images: in.Images, StartupSeconds: in.StartupSeconds, HandOverSeconds: in.HandOverSeconds, Skipped: in.Skipped,
		Notes: in.Notes, ScrapeErrors: in.ScrapeErrors}
	var reasons, warnings []string
	for i, p := range in.Phases {
		ph := buildPhase(i+1, p, in)
		r.Phases = append(r.Phases, ph)
		r.Replicas = max(r.Replicas, ph.Want)
		reasons = append(reasons, judge(ph, in.MaxUnavailable)...)
		if w, ok := lab.SharedMachine(ph.Name(), ph.OtherCPUSeconds, ph.End.Sub(ph.Start).Seconds()); ok {
			warnings = append(warnings, w)
		}
	}
	r.Notes = append(r.Notes, upstreamNotes(r)...)
	warnings = append(warnings, lab.RunWarnings(in.Skipped, len(in.ScrapeErrors))...)
	r.Comparison = compare(r)
	r.Judge(reasons, warnings)
	return r
}

// judge says why phase ph fails the run.
func judge(ph Phase, maxUnavailable string) []string {
	out := ph.Judge(ph.Want)
	if ph.Judged && ph.Budget != nil && ph.MaxUnavailable > *ph.Budget {
		out = append(out, fmt.Sprintf("%s had %d pods unavailable at once (%.1fs after the write); maxUnavailable %s allows %d",
			ph.Name(), ph.MaxUnavailable, ph.MaxUnavailableAtSeconds, maxUnavailable, *ph.Budget))
	}
	return out
}

func buildPhase(order int, p PhaseInput, in Input) Phase {
	c := p.Coverage
	ph := Phase{RolloutPhase: lab.NewRolloutPhase(order, p.Kind, p.Image, p.Want, p.Start, p.End, p.Pods, p.NotUpdated, p.Err, "the StatefulSet's"),
		Want: p.Want, MaxUnavailable: c.MaxWithout, MaxUnavailableAtSeconds: c.MaxAtSeconds, UnavailableAtEnd: c.Final,
		Unavailable: p.Unavailable, NamesKept: c.Slots - c.Final, UnavailableSeries: c.Series}
	if !ph.Done && c.Final > 0 {
		ph.Reached += fmt.Sprintf("; %d pods unavailable", c.Final)
	}
	mu := in.MaxUnavailable
	if lab.IsUpstream(p.Kind) && in.UpstreamMaxUnavailable != "" {
		mu = in.UpstreamMaxUnavailable
	}
	if rollout(p.Kind) && p.Want > 0 {
		if b, err := Budget(intstr.Parse(mu), p.Want); err == nil {
			ph.Budget, ph.Judged = &b, !lab.IsUpstream(p.Kind)
		}
	}
	ph.Cost = Cost{PhaseCost: rig.CostOf(p.Meter, p.Start, p.End, in.Info.ProcessSeries, in.ClusterSampled, managerFlowSchema)}
	if p.Meter.API != nil && p.Want > 0 {
		ph.APIWritesPerPod = lab.Some(ph.APIWrites / float64(p.Want))
	}
	return ph
}

// upstreamNotes say what the upstream rollout was compared under: the
// maxUnavailable the API server kept (feature gate
// MaxUnavailableStatefulSet), and whether kube-controller-manager used it.
func upstreamNotes(r *Result) []string {
	if r.UpstreamMaxUnavailable == "" {
		return nil
	}
	var out []string
	if r.UpstreamMaxUnavailable != r.MaxUnavailable {
		out = append(out, fmt.Sprintf("Unequal budgets: the API server dropped the upstream StatefulSet's rollingUpdate.maxUnavailable %s "+
			"(feature gate MaxUnavailableStatefulSet off), so kube-controller-manager rolled it one pod at a time (maxUnavailable %s) "+
			"while the Advanced StatefulSet rolled %s at a time.", r.MaxUnavailable, r.UpstreamMaxUnavailable, r.MaxUnavailable))
	} else {
		out = append(out, fmt.Sprintf("Same budget: the upstream StatefulSet kept rollingUpdate.maxUnavailable %s (feature gate MaxUnavailableStatefulSet, "+
			"beta and on by default since Kubernetes 1.37; myriad up sets no feature gates on kube-apiserver or kube-controller-manager).", r.MaxUnavailable))
	}
	for _, p := range r.Phases {
		if p.Kind == Upstream && p.Done && p.Budget != nil && *p.Budget > 1 && p.MaxUnavailable <= 1 {
			out = append(out, fmt.Sprintf("The upstream rollout never had more than %d pod unavailable at once although maxUnavailable allowed %d: "+
				"kube-controller-manager rolled one pod at a time, as without feature gate MaxUnavailableStatefulSet.", p.MaxUnavailable, *p.Budget))
		}
	}
	return out
}

func compare(r *Result) Comparison {
	var c Comparison
	phases := make([]lab.RolloutPhase, len(r.Phases))
	for i, p := range r.Phases {
		phases[i] = p.RolloutPhase
	}
	c.RolloutTimes = lab.CompareRollouts(phases, func(i int) {
		p := r.Phases[i]
		most := lab.Some(p.MaxUnavailable)
		switch p.Kind {
		case InPlace:
			c.InPlaceWritesPerPod, c.InPlaceMaxUnavailable = p.APIWritesPerPod, most
		case Recreate:
			c.RecreateWritesPerPod, c.RecreateMaxUnavailable = p.APIWritesPerPod, most
		case Upstream:
			c.UpstreamWritesPerPod, c.UpstreamMaxUnavailable = p.APIWritesPerPod, most
		}
	})
	return c
}
