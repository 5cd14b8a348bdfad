package scheduler

import (
	"math"
	"sort"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

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
	// PodsPerSecond is pods / (end − start), where the end is the last
	// bind or, for the ceiling, the last of its writes to return if that
	// came later: scheduler start-up and informer warm-up included.
	PodsPerSecond *float64 `json:"pods_per_second,omitempty"`
	// PodsPerSecondAfterFirstBind is (bound − 1) / (end − first bind):
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
// end, if later than the last bind, is when the phase's last write
// returned: the rates run to it, so work still in flight at the last bind
// is not left out. Rates are only given when every one of want pods was
// bound: a partial phase has no meaningful "time to bind them all".
func SummarizeBinds(start time.Time, binds []time.Time, want int, end time.Time) BindSummary {
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
	s.LatencyP50, s.LatencyP90, s.LatencyP99 = lab.Some(lab.QuantileSorted(lat, 0.5)), lab.Some(lab.QuantileSorted(lat, 0.9)), lab.Some(lab.QuantileSorted(lat, 0.99))
	done := last
	if !end.IsZero() {
		done = max(done, end.Sub(start).Seconds())
	}
	if len(binds) >= want && want > 0 {
		if done > 0 {
			s.PodsPerSecond = lab.Some(float64(len(binds)) / done)
		}
		if done > first && len(binds) > 1 {
			s.PodsPerSecondAfterFirstBind = lab.Some(float64(len(binds)-1) / (done - first))
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
