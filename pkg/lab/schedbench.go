package lab

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// The scheduler benchmark (`myriad bench scheduler`) runs several phases on
// one cluster: each creates the same pods, starts one scheduler (or the
// bench's own trivial binder, the ceiling) and records when each pod was
// seen bound. This file turns those observations into figures; the cluster
// work lives in internal/cli.

// Scheduler benchmark phase kinds.
const (
	SchedKube    = "kube"
	SchedMyriad  = "myriad"
	SchedCeiling = "ceiling"
)

// SchedPhaseInput is what one phase observed.
type SchedPhaseInput struct {
	Kind  string
	Order int // 1-based position in the run
	Pods  int
	// Start is when the scheduler process (or the ceiling's binders) started;
	// every pod existed before it.
	Start time.Time
	// Binds are the times the bench's watch saw each pod bound.
	Binds []time.Time
	// CPUSeconds is the scheduler process's utime+stime when the last pod
	// was bound (or the phase ended); nil for the ceiling or if unreadable.
	CPUSeconds  *float64
	RSSMaxBytes *int64
	// Components are CPU seconds other processes used during the phase.
	Components map[string]float64
	Nodes      []NodeAlloc
	Placements []Placement
	// Err is why the phase did not finish; "" if it did.
	Err string
}

// NodeAlloc is a node's allocatable resources.
type NodeAlloc struct {
	Name     string
	CPUMilli int64
	MemBytes int64
	Pods     int64
}

// Placement is one bound pod's requests and node.
type Placement struct {
	Node     string
	CPUMilli int64
	MemBytes int64
}

// PlacementQuality is how well pods were placed.
type PlacementQuality struct {
	// FeasibleFraction is the share of placements on nodes whose summed
	// requests (cpu, memory, pod count) fit the node's allocatable; a pod on
	// an over-committed or unknown node counts as infeasible.
	FeasibleFraction float64 `json:"feasible_fraction"`
	// Utilization* are over every node, empty ones included: the fraction of
	// allocatable CPU requested.
	UtilizationStddev float64 `json:"utilization_stddev"`
	UtilizationRange  float64 `json:"utilization_range"`
	UtilizationMean   float64 `json:"utilization_mean"`
	NodesUsed         int     `json:"nodes_used"`
}

// ComputePlacementQuality checks placements against nodes.
func ComputePlacementQuality(nodes []NodeAlloc, pods []Placement) PlacementQuality {
	type use struct{ cpu, mem, pods int64 }
	used := make(map[string]*use, len(nodes))
	alloc := make(map[string]NodeAlloc, len(nodes))
	for _, n := range nodes {
		alloc[n.Name] = n
	}
	for _, p := range pods {
		u := used[p.Node]
		if u == nil {
			u = &use{}
			used[p.Node] = u
		}
		u.cpu += p.CPUMilli
		u.mem += p.MemBytes
		u.pods++
	}
	q := PlacementQuality{NodesUsed: len(used)}
	if len(pods) > 0 {
		feasible := 0
		for name, u := range used {
			a, ok := alloc[name]
			if ok && u.cpu <= a.CPUMilli && u.mem <= a.MemBytes && u.pods <= a.Pods {
				feasible += int(u.pods)
			}
		}
		q.FeasibleFraction = float64(feasible) / float64(len(pods))
	}
	if len(nodes) == 0 {
		return q
	}
	fr := make([]float64, 0, len(nodes))
	for _, n := range nodes {
		f := 0.0
		if u := used[n.Name]; u != nil && n.CPUMilli > 0 {
			f = float64(u.cpu) / float64(n.CPUMilli)
		}
		fr = append(fr, f)
	}
	lo, hi, sum := fr[0], fr[0], 0.0
	for _, f := range fr {
		lo, hi, sum = min(lo, f), max(hi, f), sum+f
	}
	mean := sum / float64(len(fr))
	var ss float64
	for _, f := range fr {
		ss += (f - mean) * (f - mean)
	}
	q.UtilizationMean, q.UtilizationRange = mean, hi-lo
	q.UtilizationStddev = math.Sqrt(ss / float64(len(fr)))
	return q
}

// BindSummary is the rate and latency of one phase's binds.
type BindSummary struct {
	Bound int `json:"bound"`
	// PodsPerSecond is pods / (last bind − start): scheduler start-up and
	// informer warm-up included.
	PodsPerSecond *float64 `json:"pods_per_second,omitempty"`
	// PodsPerSecondAfterFirstBind is (bound − 1) / (last bind − first bind):
	// the steady rate, warm-up excluded.
	PodsPerSecondAfterFirstBind *float64 `json:"pods_per_second_after_first_bind,omitempty"`
	FirstBindSeconds            *float64 `json:"first_bind_seconds,omitempty"`
	LastBindSeconds             *float64 `json:"last_bind_seconds,omitempty"`
	// Latencies are from scheduler start to bound: every pod existed
	// before the scheduler started, so creation → bound would measure how
	// long the bench waited, not the scheduler.
	LatencyP50 *float64 `json:"latency_p50_seconds,omitempty"`
	LatencyP90 *float64 `json:"latency_p90_seconds,omitempty"`
	LatencyP99 *float64 `json:"latency_p99_seconds,omitempty"`
	// Timeline is bound pods over time since start, at most ~200 points.
	Timeline []TimelinePoint `json:"timeline,omitempty"`
}

// TimelinePoint is how many pods were bound t seconds after start.
type TimelinePoint struct {
	T     float64 `json:"t"`
	Bound int     `json:"bound"`
}

const maxTimelinePoints = 200

// SummarizeBinds computes rates and latency percentiles from bind times.
// Rates are only given when every one of want pods was bound: a partial
// phase has no meaningful "time to bind them all".
func SummarizeBinds(start time.Time, binds []time.Time, want int) BindSummary {
	s := BindSummary{Bound: len(binds)}
	if len(binds) == 0 {
		return s
	}
	lat := make([]float64, len(binds))
	for i, b := range binds {
		lat[i] = max(0, b.Sub(start).Seconds())
	}
	sort.Float64s(lat)
	first, last := lat[0], lat[len(lat)-1]
	s.FirstBindSeconds, s.LastBindSeconds = &first, &last
	s.LatencyP50, s.LatencyP90, s.LatencyP99 = Some(QuantileSorted(lat, 0.5)), Some(QuantileSorted(lat, 0.9)), Some(QuantileSorted(lat, 0.99))
	if len(binds) >= want && want > 0 {
		if last > 0 {
			s.PodsPerSecond = Some(float64(len(binds)) / last)
		}
		if last > first && len(binds) > 1 {
			s.PodsPerSecondAfterFirstBind = Some(float64(len(binds)-1) / (last - first))
		}
	}
	step := max(1, (len(lat)+maxTimelinePoints-1)/maxTimelinePoints)
	s.Timeline = append(s.Timeline, TimelinePoint{0, 0})
	for i := 0; i < len(lat); i += step {
		s.Timeline = append(s.Timeline, TimelinePoint{lat[i], i + 1})
	}
	if (len(lat)-1)%step != 0 {
		s.Timeline = append(s.Timeline, TimelinePoint{last, len(lat)})
	}
	return s
}

// SchedRun is one phase's figures in result.json.
type SchedRun struct {
	Scheduler string    `json:"scheduler"`
	Order     int       `json:"order"`
	Pods      int       `json:"pods"`
	StartedAt time.Time `json:"started_at"`
	BindSummary
	CPUSeconds            *float64 `json:"cpu_seconds,omitempty"`
	CPUSecondsPer1000Pods *float64 `json:"cpu_seconds_per_1000_pods,omitempty"`
	RSSMaxBytes           *int64   `json:"rss_max_bytes,omitempty"`
	// ComponentCPUSeconds are other processes' CPU seconds in the phase
	// (start to last bind), to show what the machine spent its cores on.
	ComponentCPUSeconds map[string]float64 `json:"component_cpu_seconds,omitempty"`
	Quality             *PlacementQuality  `json:"quality,omitempty"`
	Error               string             `json:"error,omitempty"`
}

// SchedSummary is one scheduler over its runs: the mean of the runs'
// figures, except rss_max_bytes (the largest) and feasible_fraction (the
// smallest). Only finished runs count.
type SchedSummary struct {
	PodsPerSecond               *float64   `json:"pods_per_second,omitempty"`
	PodsPerSecondAfterFirstBind *float64   `json:"pods_per_second_after_first_bind,omitempty"`
	LatencyP50                  *float64   `json:"latency_p50_seconds,omitempty"`
	LatencyP99                  *float64   `json:"latency_p99_seconds,omitempty"`
	CPUSecondsPer1000Pods       *float64   `json:"cpu_seconds_per_1000_pods,omitempty"`
	RSSMaxBytes                 *int64     `json:"rss_max_bytes,omitempty"`
	FeasibleFraction            *float64   `json:"feasible_fraction,omitempty"`
	UtilizationStddev           *float64   `json:"utilization_stddev,omitempty"`
	UtilizationRange            *float64   `json:"utilization_range,omitempty"`
	Runs                        []SchedRun `json:"runs"`
}

// CeilingSummary is the bench's own binder: how many bindings per second
// this API server accepts at all, with (Events) or without the Scheduled
// event per pod that both schedulers record.
type CeilingSummary struct {
	BindsPerSecond               *float64   `json:"binds_per_second,omitempty"`
	BindsPerSecondAfterFirstBind *float64   `json:"binds_per_second_after_first_bind,omitempty"`
	Binders                      int        `json:"binders"`
	Events                       bool       `json:"events"`
	Runs                         []SchedRun `json:"runs"`
}

// SchedRatios compare the schedulers with each other and the ceiling.
type SchedRatios struct {
	MyriadOverKubePodsPerSecond *float64 `json:"myriad_over_kube_pods_per_second,omitempty"`
	// The *AfterFirstBind ratio excludes both schedulers' start-up.
	MyriadOverKubeAfterFirstBind   *float64 `json:"myriad_over_kube_pods_per_second_after_first_bind,omitempty"`
	MyriadOverCeiling              *float64 `json:"myriad_over_ceiling,omitempty"`
	MyriadOverCeilingAfterFirstBnd *float64 `json:"myriad_over_ceiling_after_first_bind,omitempty"`
	KubeOverCeiling                *float64 `json:"kube_over_ceiling,omitempty"`
	KubeOverMyriadCPUPerPod        *float64 `json:"kube_over_myriad_cpu_per_pod,omitempty"`
}

// SchedBenchResult is result.json of `myriad bench scheduler`.
type SchedBenchResult struct {
	Scenario   string            `json:"scenario"`
	Machine    Machine           `json:"machine"`
	Parameters map[string]string `json:"parameters"`
	StartedAt  time.Time         `json:"started_at"`
	// StartupSeconds is how long the cluster took to have every node Ready.
	StartupSeconds float64        `json:"startup_seconds"`
	Kube           SchedSummary   `json:"kube"`
	Myriad         SchedSummary   `json:"myriad"`
	Ceiling        CeilingSummary `json:"ceiling"`
	Ratios         SchedRatios    `json:"ratios"`
	Verdict        Verdict        `json:"verdict"`
}

// SchedBenchInput is everything the result is built from.
type SchedBenchInput struct {
	Machine        Machine
	Parameters     map[string]string
	StartedAt      time.Time
	StartupSeconds float64
	// StartupErr is why the cluster never came up; nil if it did.
	StartupErr error
	Binders    int
	// CeilingEvents: the ceiling also recorded a Scheduled event per pod.
	CeilingEvents bool
	Phases        []SchedPhaseInput
	// Skipped are phases not run, with why.
	Skipped []string
}

// BuildSchedBenchResult summarizes every phase and judges the run: it
// passes when every phase bound all its pods.
func BuildSchedBenchResult(in SchedBenchInput) *SchedBenchResult {
	r := &SchedBenchResult{Scenario: "scheduler", Machine: in.Machine, Parameters: in.Parameters,
		StartedAt: in.StartedAt, StartupSeconds: in.StartupSeconds, Ceiling: CeilingSummary{Binders: in.Binders, Events: in.CeilingEvents}}
	r.Kube.Runs, r.Myriad.Runs, r.Ceiling.Runs = []SchedRun{}, []SchedRun{}, []SchedRun{}
	if in.StartupErr != nil {
		r.Verdict.Reasons = append(r.Verdict.Reasons, fmt.Sprintf("the cluster did not start: %v", in.StartupErr))
	}
	for _, p := range in.Phases {
		run := schedRun(p)
		switch p.Kind {
		case SchedKube:
			r.Kube.Runs = append(r.Kube.Runs, run)
		case SchedMyriad:
			r.Myriad.Runs = append(r.Myriad.Runs, run)
		case SchedCeiling:
			r.Ceiling.Runs = append(r.Ceiling.Runs, run)
		}
		if p.Err != "" {
			r.Verdict.Reasons = append(r.Verdict.Reasons, fmt.Sprintf("phase %d (%s): %s", p.Order, p.Kind, p.Err))
		}
	}
	for _, s := range in.Skipped {
		r.Verdict.Reasons = append(r.Verdict.Reasons, "not run: "+s)
	}
	summarizeSched(&r.Kube)
	summarizeSched(&r.Myriad)
	var ok []SchedRun
	for _, run := range r.Ceiling.Runs {
		if run.Error == "" {
			ok = append(ok, run)
		}
	}
	r.Ceiling.BindsPerSecond = meanRuns(ok, func(s SchedRun) *float64 { return s.PodsPerSecond })
	r.Ceiling.BindsPerSecondAfterFirstBind = meanRuns(ok, func(s SchedRun) *float64 { return s.PodsPerSecondAfterFirstBind })
	r.Ratios = SchedRatios{
		MyriadOverKubePodsPerSecond:    Ratio(r.Myriad.PodsPerSecond, r.Kube.PodsPerSecond),
		MyriadOverKubeAfterFirstBind:   Ratio(r.Myriad.PodsPerSecondAfterFirstBind, r.Kube.PodsPerSecondAfterFirstBind),
		MyriadOverCeiling:              Ratio(r.Myriad.PodsPerSecond, r.Ceiling.BindsPerSecond),
		MyriadOverCeilingAfterFirstBnd: Ratio(r.Myriad.PodsPerSecondAfterFirstBind, r.Ceiling.BindsPerSecondAfterFirstBind),
		KubeOverCeiling:                Ratio(r.Kube.PodsPerSecond, r.Ceiling.BindsPerSecond),
		KubeOverMyriadCPUPerPod:        Ratio(r.Kube.CPUSecondsPer1000Pods, r.Myriad.CPUSecondsPer1000Pods),
	}
	r.Verdict.Pass = len(r.Verdict.Reasons) == 0
	return r
}

func schedRun(p SchedPhaseInput) SchedRun {
	run := SchedRun{Scheduler: p.Kind, Order: p.Order, Pods: p.Pods, StartedAt: p.Start,
		BindSummary: SummarizeBinds(p.Start, p.Binds, p.Pods), CPUSeconds: p.CPUSeconds, RSSMaxBytes: p.RSSMaxBytes,
		ComponentCPUSeconds: p.Components, Error: p.Err}
	if p.CPUSeconds != nil && run.Bound > 0 {
		run.CPUSecondsPer1000Pods = Some(*p.CPUSeconds / float64(run.Bound) * 1000)
	}
	if len(p.Placements) > 0 {
		q := ComputePlacementQuality(p.Nodes, p.Placements)
		run.Quality = &q
	}
	return run
}

func summarizeSched(s *SchedSummary) {
	var ok []SchedRun
	for _, r := range s.Runs {
		if r.Error == "" {
			ok = append(ok, r)
		}
	}
	s.PodsPerSecond = meanRuns(ok, func(r SchedRun) *float64 { return r.PodsPerSecond })
	s.PodsPerSecondAfterFirstBind = meanRuns(ok, func(r SchedRun) *float64 { return r.PodsPerSecondAfterFirstBind })
	s.LatencyP50 = meanRuns(ok, func(r SchedRun) *float64 { return r.LatencyP50 })
	s.LatencyP99 = meanRuns(ok, func(r SchedRun) *float64 { return r.LatencyP99 })
	s.CPUSecondsPer1000Pods = meanRuns(ok, func(r SchedRun) *float64 { return r.CPUSecondsPer1000Pods })
	s.UtilizationStddev = meanRuns(ok, func(r SchedRun) *float64 {
		if r.Quality == nil {
			return nil
		}
		return &r.Quality.UtilizationStddev
	})
	s.UtilizationRange = meanRuns(ok, func(r SchedRun) *float64 {
		if r.Quality == nil {
			return nil
		}
		return &r.Quality.UtilizationRange
	})
	for _, r := range ok {
		if r.RSSMaxBytes != nil && (s.RSSMaxBytes == nil || *r.RSSMaxBytes > *s.RSSMaxBytes) {
			s.RSSMaxBytes = Some(*r.RSSMaxBytes)
		}
		if r.Quality != nil && (s.FeasibleFraction == nil || r.Quality.FeasibleFraction < *s.FeasibleFraction) {
			s.FeasibleFraction = Some(r.Quality.FeasibleFraction)
		}
	}
}

// meanRuns is the mean of f over runs where f is known; nil if none is.
func meanRuns(runs []SchedRun, f func(SchedRun) *float64) *float64 {
	sum, n := 0.0, 0
	for _, r := range runs {
		if v := f(r); v != nil {
			sum += *v
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return Some(sum / float64(n))
}
