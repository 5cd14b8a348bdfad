package lab

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
)

// The scenarios that compare one image rollout three ways on one cluster
// (`myriad bench daemonset`, `statefulset`: Myriad's workload in place,
// then recreating, then the upstream workload of kube-controller-manager)
// share their phases, their per-phase figures and their judgement; this
// file holds them once. A scenario adds its own unit (nodes, pods), its
// unavailability and its words.

// Phase kinds of a compared rollout, in order.
const (
	// PhaseCreate is Myriad's workload's creation.
	PhaseCreate = "create"
	// PhaseUpstreamCreate and PhaseUpstream are the upstream workload's
	// creation and image rollout (with --compare).
	PhaseUpstreamCreate = "upstream create"
	PhaseUpstream       = "upstream"
)

// ComparedKinds are the phases run, in order: create, in-place, recreate,
// and with compare the upstream ones.
func ComparedKinds(compare bool) []string {
	k := []string{PhaseCreate, RolloutInPlace, RolloutRecreate}
	if compare {
		k = append(k, PhaseUpstreamCreate, PhaseUpstream)
	}
	return k
}

// ComparedImage is the image after phase kind, of images (created, in
// place, recreated): the upstream workload is created with the first and
// rolled to the second.
func ComparedImage(images []string, kind string) string {
	switch kind {
	case RolloutInPlace, PhaseUpstream:
		return images[1]
	case RolloutRecreate:
		return images[2]
	}
	return images[0]
}

// IsRollout says whether kind changes running pods (and so is held to
// maxUnavailable), rather than creating them.
func IsRollout(kind string) bool {
	return kind == RolloutInPlace || kind == RolloutRecreate || kind == PhaseUpstream
}

// IsUpstream says whether kind is the upstream workload's.
func IsUpstream(kind string) bool { return kind == PhaseUpstreamCreate || kind == PhaseUpstream }

// RolloutPhase is what every compared-rollout phase states alike in
// result.json. Seconds are from the phase's write.
type RolloutPhase struct {
	Order int       `json:"order"`
	Kind  string    `json:"kind"`
	Image string    `json:"image"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Done  bool      `json:"done"`
	// Seconds is write → done (pods and status); PodsSeconds → every pod
	// updated as the pod watch saw it; StatusSeconds → the workload's
	// status saying so.
	Seconds       *float64  `json:"seconds,omitempty"`
	PodsSeconds   *float64  `json:"podsSeconds,omitempty"`
	StatusSeconds *float64  `json:"statusSeconds,omitempty"`
	PodsPerSecond *float64  `json:"podsPerSecond,omitempty"`
	UpdateLatency Latencies `json:"updateLatency"`
	// Recreated counts pods live at the start that were deleted (UID
	// gone), UIDsKept those still live at the end, Created pods first
	// seen during the phase.
	Recreated        int        `json:"recreated"`
	UIDsKept         int        `json:"uidsKept"`
	Created          int        `json:"created"`
	RestartedInPlace int        `json:"restartedInPlace"`
	Final            PodCounts  `json:"final"`
	Reached          string     `json:"reached,omitempty"`
	NotUpdated       []string   `json:"notUpdated,omitempty"`
	Err              string     `json:"error,omitempty"`
	Series           []PodPoint `json:"series"`
}

// NewRolloutPhase reads phase order of kind to image, which ran from start
// to end for want pods with pod figures f and ended with err (empty when
// none; notUpdated names the pods it waited for); whose names the
// workload in Reached ("the StatefulSet's").
func NewRolloutPhase(order int, kind, image string, want int, start, end time.Time, f PodFigures, notUpdated []string, err, whose string) RolloutPhase {
	p := RolloutPhase{Order: order, Kind: kind, Image: image, Start: start, End: end, Recreated: f.Recreated, Created: f.Created,
		RestartedInPlace: f.RestartedInPlace, Final: f.Final, NotUpdated: notUpdated, Err: err, Series: f.Series,
		UpdateLatency: SummarizeLatencies(append([]float64(nil), f.UpdatedSeconds...))}
	if len(f.Series) > 0 {
		// The first point is the pods when the phase began.
		p.UIDsKept = max(0, f.Series[0].Live-f.Recreated)
	}
	ro := RolloutOf(f, start, end, want, err, whose)
	p.Seconds, p.PodsSeconds, p.StatusSeconds, p.PodsPerSecond = ro.Seconds, ro.PodsSeconds, ro.StatusSeconds, ro.PodsPerSecond
	p.Done, p.Reached = ro.Done, ro.Reached
	return p
}

// Name is how the verdict names the phase: "phase 2 (in-place)".
func (p RolloutPhase) Name() string { return fmt.Sprintf("phase %d (%s)", p.Order, p.Kind) }

// Column is the phase's column in tables and its name in charts.
func (p RolloutPhase) Column() string { return fmt.Sprintf("%d %s", p.Order, p.Kind) }

// Judge says why the phase of want pods fails the run, budgets aside: it
// stopped, an in-place rollout recreated pods, or a recreating one
// (Myriad's or upstream) did not replace every pod.
func (p RolloutPhase) Judge(want int) []string {
	var out []string
	if !p.Done {
		out = append(out, fmt.Sprintf("%s stopped: %s; reached %s", p.Name(), p.Err, p.Reached))
	}
	switch {
	case p.Kind == RolloutInPlace && p.Recreated > 0:
		out = append(out, JudgeRollout(p.Name(), RolloutInPlace, want, p.Recreated, nil, RolloutLimits{InPlaceChange: "an image-only change"})...)
	case p.Done && (p.Kind == RolloutRecreate || p.Kind == PhaseUpstream):
		out = append(out, JudgeRollout(p.Name(), RolloutRecreate, want, p.Recreated, nil, RolloutLimits{})...)
	}
	return out
}

// RolloutTimes are the three rollouts' times side by side.
type RolloutTimes struct {
	InPlaceSeconds      *float64 `json:"inPlaceSeconds,omitempty"`
	RecreateSeconds     *float64 `json:"recreateSeconds,omitempty"`
	UpstreamSeconds     *float64 `json:"upstreamSeconds,omitempty"`
	RecreateOverInPlace *float64 `json:"recreateOverInPlace,omitempty"`
	UpstreamOverInPlace *float64 `json:"upstreamOverInPlace,omitempty"`
}

// CompareRollouts puts the finished rollouts of phases side by side, and
// calls each(i) for every finished rollout phase i, for a scenario's own
// figures.
func CompareRollouts(phases []RolloutPhase, each func(i int)) RolloutTimes {
	var t RolloutTimes
	for i, p := range phases {
		if !p.Done || !IsRollout(p.Kind) {
			continue
		}
		switch p.Kind {
		case RolloutInPlace:
			t.InPlaceSeconds = p.Seconds
		case RolloutRecreate:
			t.RecreateSeconds = p.Seconds
		case PhaseUpstream:
			t.UpstreamSeconds = p.Seconds
		}
		each(i)
	}
	t.RecreateOverInPlace = Ratio(t.RecreateSeconds, t.InPlaceSeconds)
	t.UpstreamOverInPlace = Ratio(t.UpstreamSeconds, t.InPlaceSeconds)
	return t
}

// RolloutBars are the bar charts of the rollout phases: write → done
// (what says what was rolled, "Image rollout") and writes per unit
// (writes[i] of phase i; unit "pod", "node").
func RolloutBars(what, unit string, phases []RolloutPhase, writes []*float64) []BarChart {
	colors := map[string]string{RolloutInPlace: "#1f77b4", RolloutRecreate: "#d62728", PhaseUpstream: "#7f7f7f"}
	var secs, perUnit []BarInput
	for i, ph := range phases {
		if !IsRollout(ph.Kind) {
			continue
		}
		v := ph.Seconds
		if !ph.Done {
			v = nil
		}
		secs = append(secs, BarInput{Label: ph.Column(), Value: v, Color: colors[ph.Kind], Text: FmtOpt(v, "%.1f s")})
		perUnit = append(perUnit, BarInput{Label: ph.Column(), Value: writes[i], Color: colors[ph.Kind], Text: FmtOpt(writes[i], "%.2f")})
	}
	if len(secs) == 0 {
		return nil
	}
	return []BarChart{NewBarChart(what+", write → every "+unit+"'s pod updated", "s", secs),
		NewBarChart("API writes per "+unit+" during the rollout (Leases left out)", "writes", perUnit)}
}

// RolloutRows are the table rows every compared-rollout phase has: its
// times, pods per second and per-pod latency (row builds one row from a
// cell per phase).
func RolloutRows(row func(name string, cell func(RolloutPhase) string) []string) [][]string {
	sec := func(v *float64) string { return FmtOpt(v, "%.1f s") }
	return [][]string{
		row("… every pod updated, as the pod watch saw it", func(p RolloutPhase) string { return sec(p.PodsSeconds) }),
		row("… the workload's status said so", func(p RolloutPhase) string { return sec(p.StatusSeconds) }),
		row("pods per second", func(p RolloutPhase) string { return FmtOpt(p.PodsPerSecond, "%.1f") }),
		row("per pod, write → updated: p50 / p90 / p99 / max", func(p RolloutPhase) string {
			l := p.UpdateLatency
			return FmtOpt(l.P50, "%.1f") + " / " + FmtOpt(l.P90, "%.1f") + " / " + FmtOpt(l.P99, "%.1f") + " / " + FmtOpt(l.Max, "%.1f s")
		}),
	}
}

// SkipFrom names the phases of kinds from index from (0-based) on as not
// run, and why.
func SkipFrom(kinds []string, from int, why string) []string {
	var out []string
	for j := from; j < len(kinds); j++ {
		out = append(out, fmt.Sprintf("phase %d (%s): %s", j+1, kinds[j], why))
	}
	return out
}

// ComparedSteps are a compared-rollout scenario's parts of its phase loop.
type ComparedSteps struct {
	Kinds []string
	// HandOver deletes Myriad's workload and waits until its pods are
	// gone, before the upstream phases; Gone says what did not go
	// ("the Advanced DaemonSet's agents").
	HandOver func(ctx context.Context) error
	Gone     string
	// Phase runs phase order of total, of kind, and records it.
	Phase func(ctx context.Context, order, total int, kind string) error
	// Settle waits until the pods the phase of kind deleted are gone.
	Settle func(ctx context.Context, kind string)
}

// RunCompared runs the phases in order and returns those not run, and
// why. An in-place phase that did not finish does not stop the run: the
// recreating rollout replaces every pod whatever it left, so its figures
// are still measured (the verdict says the in-place phase did not
// finish). Any other phase that did not finish stops it.
func RunCompared(ctx context.Context, con *Console, s ComparedSteps) ([]string, error) {
	for i, kind := range s.Kinds {
		if kind == PhaseUpstreamCreate {
			if err := s.HandOver(ctx); err != nil {
				return SkipFrom(s.Kinds, i, s.Gone+" were not gone"), err
			}
		}
		err := s.Phase(ctx, i+1, len(s.Kinds), kind)
		switch {
		case err != nil && kind == RolloutInPlace && ctx.Err() == nil:
			con.Printf("  %s; going on with the recreating rollout", OneLine(err.Error(), 200))
		case err != nil:
			return SkipFrom(s.Kinds, i+1, fmt.Sprintf("phase %d (%s) did not finish", i+1, kind)), fmt.Errorf("phase %d (%s): %w", i+1, kind, err)
		}
		s.Settle(ctx, kind)
	}
	return nil, nil
}

// UpdateBegun makes a rollout's write with update (a get, a change and an
// update of the workload, retried on conflict): update calls began with
// the generation it read just before it updates, and the first such call
// begins the phase (begin is given the next generation: generation only
// grows, so any status of at least it has seen this change). It returns
// when the phase began, now when update never got that far.
func UpdateBegun(clk clock.PassiveClock, begin func(gen int64) time.Time, update func(began func(gen int64)) error) (time.Time, error) {
	var start time.Time
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		return update(func(gen int64) {
			if start.IsZero() {
				start = begin(gen + 1)
			}
		})
	})
	if start.IsZero() {
		start = clk.Now()
	}
	return start, err
}
