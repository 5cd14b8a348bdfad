package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Input is everything the result is built from.
type Input struct {
	Info           lab.RunInfo
	StartupSeconds float64
	Binders        int
	// CeilingEvents: the ceiling also recorded a Scheduled event per pod.
	CeilingEvents bool
	// IdentityFlow is where a Scheduled event write of the schedulers'
	// identity lands in APF (a dry-run probe); nil if not measured.
	IdentityFlow *FlowCount
	Phases       []PhaseInput
	// Skipped are phases not run, with why.
	Skipped    []string
	Processes  map[string][]lab.ProcSample
	FinishedAt time.Time
}

// PhaseInput is what one phase observed.
type PhaseInput struct {
	Kind  string
	Order int // 1-based position in the run
	Pods  int
	// Start is when the scheduler process (or the ceiling's binders)
	// started; every pod existed before it.
	Start time.Time
	// Binds are the times the bench's watch saw each pod bound.
	Binds []time.Time
	// WritesDone is when the ceiling's last write returned; zero for the
	// schedulers.
	WritesDone time.Time
	// CPUSeconds is the scheduler process's utime+stime when the last pod
	// was bound (or the phase ended); nil for the ceiling or if unreadable.
	CPUSeconds *float64
	// CPUAt is when CPUSeconds was read.
	CPUAt       time.Time
	RSSMaxBytes *int64
	// IdleCPUCores is the scheduler's CPU rate over --idle-window after
	// its last binding; nil if not measured, IdleErr says why if it failed.
	IdleCPUCores *float64
	IdleErr      error
	// Components are CPU seconds other processes used during the phase.
	Components map[string]float64
	Nodes      []NodeAlloc
	Placements []Placement
	// Ceiling is what the ceiling's writes did; nil for the schedulers.
	Ceiling *CeilingInput
	// Flows are the requests APF dispatched during the phase, by flow
	// (all API servers); nil if not scraped, FlowsErr says why.
	Flows    []FlowCount
	FlowsErr string
	// CPUProfile is the scheduler process's CPU profile (start to stop),
	// relative to the bench's output; "" if not asked for.
	CPUProfile string
	// Err is why the phase did not finish; "" if it did.
	Err string
}

// CeilingInput is what the ceiling's writes did in one phase.
type CeilingInput struct {
	Binds, EventWrites, EventErrors int
	FirstErr                        string
	// PendingAtLastBind are event writes that had not returned when the
	// last binding returned at BindsDone; the last returned at EventsDone.
	PendingAtLastBind     int
	BindsDone, EventsDone time.Time
	// Flows are the ceiling's own requests by the APF flow the API server
	// named in each response.
	Flows []FlowCount
}

// Result is result.json of `myriad bench scheduler`.
type Result struct {
	lab.RunInfo
	// StartupSeconds is how long the cluster took to have every node Ready.
	StartupSeconds float64        `json:"startup_seconds"`
	Kube           SchedSummary   `json:"kube"`
	Myriad         SchedSummary   `json:"myriad"`
	Ceiling        CeilingSummary `json:"ceiling"`
	Ratios         Ratios         `json:"ratios"`
	// IdentityFlow is where a Scheduled event write of the schedulers'
	// identity lands in APF (a dry-run probe at the start).
	IdentityFlow *FlowCount `json:"identity_flow,omitempty"`
}

// Run is one phase's figures in result.json.
type Run struct {
	Scheduler string    `json:"scheduler"`
	Order     int       `json:"order"`
	Pods      int       `json:"pods"`
	StartedAt time.Time `json:"started_at"`
	BindSummary
	CPUSeconds            *float64 `json:"cpu_seconds,omitempty"`
	CPUSecondsPer1000Pods *float64 `json:"cpu_seconds_per_1000_pods,omitempty"`
	// IdleCPUCores is the scheduler's CPU rate, in cores, over the idle
	// window after its last binding: following the cluster with nothing
	// to schedule. CPUSecondsPer1000PodsAboveIdle takes that rate times
	// the phase's length off its CPU: what the pods cost beyond it.
	IdleCPUCores                   *float64 `json:"idle_cpu_cores,omitempty"`
	CPUSecondsPer1000PodsAboveIdle *float64 `json:"cpu_seconds_per_1000_pods_above_idle,omitempty"`
	IdleError                      string   `json:"idle_error,omitempty"`
	RSSMaxBytes                    *int64   `json:"rss_max_bytes,omitempty"`
	// ComponentCPUSeconds are other processes' CPU seconds in the phase,
	// to show what the machine spent its cores on.
	ComponentCPUSeconds map[string]float64 `json:"component_cpu_seconds,omitempty"`
	Quality             *PlacementQuality  `json:"quality,omitempty"`
	// WritesPriorityLevel is the APF priority level the phase's bindings
	// and events waited in; "" if not measured.
	WritesPriorityLevel string `json:"writes_priority_level,omitempty"`
	// APFDispatched are every flow's requests during the phase.
	APFDispatched []FlowCount    `json:"apf_dispatched,omitempty"`
	CeilingWrites *CeilingWrites `json:"ceiling_writes,omitempty"`
	// CPUProfile is the scheduler process's Go CPU profile from start to
	// stop, relative to the bench's output (`go tool pprof` reads it).
	CPUProfile string `json:"cpu_profile,omitempty"`
	Error      string `json:"error,omitempty"`
}

// CeilingWrites are one ceiling phase's writes.
type CeilingWrites struct {
	Identity    string `json:"identity"`
	Bindings    int    `json:"bindings"`
	EventWrites int    `json:"event_writes"`
	EventErrors int    `json:"event_errors"`
	FirstError  string `json:"first_error,omitempty"`
	// EventsPendingAtLastBinding are event writes still out when the last
	// binding returned; EventsDrainSeconds is how long they took to return
	// after it. The phase (and its rate) ends when they have.
	EventsPendingAtLastBinding int      `json:"events_pending_at_last_binding"`
	EventsDrainSeconds         *float64 `json:"events_drain_seconds,omitempty"`
	// WritesDoneSeconds is from the start to the last write's return.
	WritesDoneSeconds *float64 `json:"writes_done_seconds,omitempty"`
	// Flows are its requests by the APF flow each response named.
	Flows []FlowCount `json:"flows,omitempty"`
}

// SchedSummary is one scheduler over its runs: the mean of the runs'
// figures, except rss_max_bytes (the largest) and feasible_fraction (the
// smallest). Only finished runs count.
type SchedSummary struct {
	PodsPerSecond                  *float64 `json:"pods_per_second,omitempty"`
	PodsPerSecondAfterFirstBind    *float64 `json:"pods_per_second_after_first_bind,omitempty"`
	LatencyP50                     *float64 `json:"latency_p50_seconds,omitempty"`
	LatencyP99                     *float64 `json:"latency_p99_seconds,omitempty"`
	CPUSecondsPer1000Pods          *float64 `json:"cpu_seconds_per_1000_pods,omitempty"`
	IdleCPUCores                   *float64 `json:"idle_cpu_cores,omitempty"`
	CPUSecondsPer1000PodsAboveIdle *float64 `json:"cpu_seconds_per_1000_pods_above_idle,omitempty"`
	RSSMaxBytes                    *int64   `json:"rss_max_bytes,omitempty"`
	FeasibleFraction               *float64 `json:"feasible_fraction,omitempty"`
	UtilizationStddev              *float64 `json:"utilization_stddev,omitempty"`
	UtilizationRange               *float64 `json:"utilization_range,omitempty"`
	WritesPriorityLevel            string   `json:"writes_priority_level,omitempty"`
	Runs                           []Run    `json:"runs"`
}

// CeilingSummary is the bench's own binder: how many bindings per second
// this API server accepts from the schedulers' identity, with (Events) or
// without the Scheduled event per pod that both schedulers record.
type CeilingSummary struct {
	// BindsPerSecond runs to the last of the ceiling's writes, events
	// included.
	BindsPerSecond               *float64 `json:"binds_per_second,omitempty"`
	BindsPerSecondAfterFirstBind *float64 `json:"binds_per_second_after_first_bind,omitempty"`
	Binders                      int      `json:"binders"`
	Events                       bool     `json:"events"`
	Identity                     string   `json:"identity"`
	WritesPriorityLevel          string   `json:"writes_priority_level,omitempty"`
	// EventsPendingAtLastBinding and EventsDrainSeconds are the largest
	// over the runs.
	EventsPendingAtLastBinding *int     `json:"events_pending_at_last_binding,omitempty"`
	EventsDrainSeconds         *float64 `json:"events_drain_seconds,omitempty"`
	Runs                       []Run    `json:"runs"`
}

// Ratios compare the schedulers with each other and the ceiling.
type Ratios struct {
	MyriadOverKubePodsPerSecond *float64 `json:"myriad_over_kube_pods_per_second,omitempty"`
	// The *AfterFirstBind ratio excludes both schedulers' start-up.
	MyriadOverKubeAfterFirstBind   *float64 `json:"myriad_over_kube_pods_per_second_after_first_bind,omitempty"`
	MyriadOverCeiling              *float64 `json:"myriad_over_ceiling,omitempty"`
	MyriadOverCeilingAfterFirstBnd *float64 `json:"myriad_over_ceiling_after_first_bind,omitempty"`
	KubeOverCeiling                *float64 `json:"kube_over_ceiling,omitempty"`
	KubeOverMyriadCPUPerPod        *float64 `json:"kube_over_myriad_cpu_per_pod,omitempty"`
	// KubeOverMyriadCPUPerPodAboveIdle compares what the pods cost each
	// scheduler beyond following the cluster for the phase's length.
	KubeOverMyriadCPUPerPodAboveIdle *float64 `json:"kube_over_myriad_cpu_per_pod_above_idle,omitempty"`
}

// Build summarizes every phase and judges the run: it passes when every
// phase bound all its pods and the ceiling did the schedulers' writes
// (every event written, in the schedulers' priority level).
func Build(in Input) *Result {
	r := &Result{RunInfo: in.Info, StartupSeconds: in.StartupSeconds, IdentityFlow: in.IdentityFlow,
		Ceiling: CeilingSummary{Binders: in.Binders, Events: in.CeilingEvents, Identity: CeilingIdentity}}
	r.Kube.Runs, r.Myriad.Runs, r.Ceiling.Runs = []Run{}, []Run{}, []Run{}
	var reasons, warnings []string
	for _, p := range in.Phases {
		run := schedRun(p, in.IdentityFlow)
		switch p.Kind {
		case Kube:
			r.Kube.Runs = append(r.Kube.Runs, run)
		case Myriad:
			r.Myriad.Runs = append(r.Myriad.Runs, run)
		case Ceiling:
			r.Ceiling.Runs = append(r.Ceiling.Runs, run)
		}
		if p.Err != "" {
			reasons = append(reasons, fmt.Sprintf("phase %d (%s): %s", p.Order, p.Kind, p.Err))
			continue
		}
		reasons, warnings = judgeRun(p, run, in.CeilingEvents, reasons, warnings)
	}
	for _, s := range in.Skipped {
		reasons = append(reasons, "not run: "+s)
	}
	summarizeSched(&r.Kube)
	summarizeSched(&r.Myriad)
	summarizeCeiling(&r.Ceiling)
	reasons = append(reasons, samePriorityLevel(r)...)
	r.Ratios = Ratios{
		MyriadOverKubePodsPerSecond:      lab.Ratio(r.Myriad.PodsPerSecond, r.Kube.PodsPerSecond),
		MyriadOverKubeAfterFirstBind:     lab.Ratio(r.Myriad.PodsPerSecondAfterFirstBind, r.Kube.PodsPerSecondAfterFirstBind),
		MyriadOverCeiling:                lab.Ratio(r.Myriad.PodsPerSecond, r.Ceiling.BindsPerSecond),
		MyriadOverCeilingAfterFirstBnd:   lab.Ratio(r.Myriad.PodsPerSecondAfterFirstBind, r.Ceiling.BindsPerSecondAfterFirstBind),
		KubeOverCeiling:                  lab.Ratio(r.Kube.PodsPerSecond, r.Ceiling.BindsPerSecond),
		KubeOverMyriadCPUPerPod:          lab.Ratio(r.Kube.CPUSecondsPer1000Pods, r.Myriad.CPUSecondsPer1000Pods),
		KubeOverMyriadCPUPerPodAboveIdle: lab.Ratio(r.Kube.CPUSecondsPer1000PodsAboveIdle, r.Myriad.CPUSecondsPer1000PodsAboveIdle),
	}
	r.Finish(in.FinishedAt, in.Processes)
	r.Judge(reasons, warnings)
	return r
}

// judgeRun adds what a finished phase's figures say about the run.
func judgeRun(p PhaseInput, run Run, events bool, reasons, warnings []string) ([]string, []string) {
	name := fmt.Sprintf("phase %d (%s)", p.Order, p.Kind)
	if run.IdleError != "" {
		warnings = append(warnings, fmt.Sprintf("%s: idle CPU not measured: %s", name, run.IdleError))
	}
	if p.FlowsErr != "" {
		warnings = append(warnings, fmt.Sprintf("%s: APF dispatched requests not scraped: %s", name, p.FlowsErr))
	}
	if c := run.CeilingWrites; c != nil {
		if events && c.EventErrors > 0 {
			reasons = append(reasons, fmt.Sprintf("%s: %d of %d Scheduled event writes failed (first: %s): the ceiling did not do the schedulers' writes",
				name, c.EventErrors, c.EventErrors+c.EventWrites, c.FirstError))
		}
		if run.WritesPriorityLevel == "" {
			reasons = append(reasons, lab.NoData(name+": the APF priority level of the ceiling's writes",
				"no response named one, so the ceiling cannot be shown to wait where the schedulers do"))
		}
	} else if run.WritesPriorityLevel == "" && p.Flows != nil {
		warnings = append(warnings, fmt.Sprintf("%s: fewer requests under %s's flow than pods bound: where the scheduler's writes waited in APF is unknown", name, CeilingIdentity))
	}
	return reasons, warnings
}

// samePriorityLevel fails a run whose ceiling wrote in another APF
// priority level than the schedulers: a ceiling the schedulers could not
// reach (the admin's exempt level, say) would make them look slow.
func samePriorityLevel(r *Result) []string {
	c := r.Ceiling.WritesPriorityLevel
	if c == "" {
		return nil
	}
	var out []string
	for _, s := range []struct {
		name  string
		level string
	}{{"kube-scheduler", r.Kube.WritesPriorityLevel}, {"myriad scheduler", r.Myriad.WritesPriorityLevel}} {
		if s.level != "" && s.level != c {
			out = append(out, fmt.Sprintf("the ceiling's writes waited in APF priority level %q, the %s's in %q: the ceiling is not a ceiling of the same writes", c, s.name, s.level))
		}
	}
	return out
}

func schedRun(p PhaseInput, identity *FlowCount) Run {
	run := Run{Scheduler: p.Kind, Order: p.Order, Pods: p.Pods, StartedAt: p.Start,
		BindSummary: SummarizeBinds(p.Start, p.Binds, p.Pods, p.WritesDone), CPUSeconds: p.CPUSeconds, RSSMaxBytes: p.RSSMaxBytes,
		ComponentCPUSeconds: p.Components, APFDispatched: p.Flows, CPUProfile: p.CPUProfile, Error: p.Err}
	if p.CPUSeconds != nil && run.Bound > 0 {
		run.CPUSecondsPer1000Pods = lab.Some(*p.CPUSeconds / float64(run.Bound) * 1000)
		if p.IdleCPUCores != nil && !p.CPUAt.IsZero() {
			run.IdleCPUCores = p.IdleCPUCores
			above := *p.CPUSeconds - *p.IdleCPUCores*p.CPUAt.Sub(p.Start).Seconds()
			run.CPUSecondsPer1000PodsAboveIdle = lab.Some(max(0, above) / float64(run.Bound) * 1000)
		}
	}
	if p.IdleErr != nil {
		run.IdleError = p.IdleErr.Error()
	}
	if len(p.Placements) > 0 {
		q := ComputePlacementQuality(p.Nodes, p.Placements)
		run.Quality = &q
	}
	if c := p.Ceiling; c != nil {
		w := &CeilingWrites{Identity: CeilingIdentity, Bindings: c.Binds, EventWrites: c.EventWrites, EventErrors: c.EventErrors,
			FirstError: c.FirstErr, EventsPendingAtLastBinding: c.PendingAtLastBind, Flows: c.Flows}
		if !c.EventsDone.IsZero() && !c.BindsDone.IsZero() {
			w.EventsDrainSeconds = lab.Some(max(0, c.EventsDone.Sub(c.BindsDone).Seconds()))
		}
		if !p.WritesDone.IsZero() {
			w.WritesDoneSeconds = lab.Some(p.WritesDone.Sub(p.Start).Seconds())
		}
		run.CeilingWrites = w
		if len(c.Flows) > 0 {
			run.WritesPriorityLevel = c.Flows[0].PriorityLevel
		}
		return run
	}
	// A scheduler's requests are not the bench's to see; its identity's
	// flow is, and nothing else writes as that identity during a phase.
	if identity != nil {
		for _, f := range p.Flows {
			if f.FlowSchema == identity.FlowSchema && f.Requests >= float64(run.Bound) && run.Bound > 0 {
				run.WritesPriorityLevel = f.PriorityLevel
			}
		}
	}
	return run
}

func finishedRuns(runs []Run) []Run {
	var ok []Run
	for _, r := range runs {
		if r.Error == "" {
			ok = append(ok, r)
		}
	}
	return ok
}

func summarizeSched(s *SchedSummary) {
	ok := finishedRuns(s.Runs)
	s.PodsPerSecond = meanRuns(ok, func(r Run) *float64 { return r.PodsPerSecond })
	s.PodsPerSecondAfterFirstBind = meanRuns(ok, func(r Run) *float64 { return r.PodsPerSecondAfterFirstBind })
	s.LatencyP50 = meanRuns(ok, func(r Run) *float64 { return r.LatencyP50 })
	s.LatencyP99 = meanRuns(ok, func(r Run) *float64 { return r.LatencyP99 })
	s.CPUSecondsPer1000Pods = meanRuns(ok, func(r Run) *float64 { return r.CPUSecondsPer1000Pods })
	s.IdleCPUCores = meanRuns(ok, func(r Run) *float64 { return r.IdleCPUCores })
	s.CPUSecondsPer1000PodsAboveIdle = meanRuns(ok, func(r Run) *float64 { return r.CPUSecondsPer1000PodsAboveIdle })
	s.UtilizationStddev = meanRuns(ok, func(r Run) *float64 {
		if r.Quality == nil {
			return nil
		}
		return &r.Quality.UtilizationStddev
	})
	s.UtilizationRange = meanRuns(ok, func(r Run) *float64 {
		if r.Quality == nil {
			return nil
		}
		return &r.Quality.UtilizationRange
	})
	for _, r := range ok {
		if r.RSSMaxBytes != nil && (s.RSSMaxBytes == nil || *r.RSSMaxBytes > *s.RSSMaxBytes) {
			s.RSSMaxBytes = lab.Some(*r.RSSMaxBytes)
		}
		if r.Quality != nil && (s.FeasibleFraction == nil || r.Quality.FeasibleFraction < *s.FeasibleFraction) {
			s.FeasibleFraction = lab.Some(r.Quality.FeasibleFraction)
		}
	}
	s.WritesPriorityLevel = commonLevel(ok)
}

func summarizeCeiling(c *CeilingSummary) {
	ok := finishedRuns(c.Runs)
	c.BindsPerSecond = meanRuns(ok, func(s Run) *float64 { return s.PodsPerSecond })
	c.BindsPerSecondAfterFirstBind = meanRuns(ok, func(s Run) *float64 { return s.PodsPerSecondAfterFirstBind })
	for _, r := range ok {
		w := r.CeilingWrites
		if w == nil {
			continue
		}
		if c.EventsPendingAtLastBinding == nil || w.EventsPendingAtLastBinding > *c.EventsPendingAtLastBinding {
			c.EventsPendingAtLastBinding = lab.Some(w.EventsPendingAtLastBinding)
		}
		if w.EventsDrainSeconds != nil && (c.EventsDrainSeconds == nil || *w.EventsDrainSeconds > *c.EventsDrainSeconds) {
			c.EventsDrainSeconds = lab.Some(*w.EventsDrainSeconds)
		}
	}
	c.WritesPriorityLevel = commonLevel(ok)
}

// commonLevel is the runs' priority level, the levels joined when they
// differ, "" when none was measured.
func commonLevel(runs []Run) string {
	var levels []string
	seen := map[string]bool{}
	for _, r := range runs {
		if l := r.WritesPriorityLevel; l != "" && !seen[l] {
			seen[l] = true
			levels = append(levels, l)
		}
	}
	return strings.Join(levels, ", ")
}

// meanRuns is the mean of f over runs where f is known; nil if none is.
func meanRuns(runs []Run, f func(Run) *float64) *float64 {
	var vs []float64
	for _, r := range runs {
		if v := f(r); v != nil {
			vs = append(vs, *v)
		}
	}
	return lab.MeanOf(vs)
}
