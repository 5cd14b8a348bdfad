package lab

import (
	"math"
	"sort"
	"time"
)

// Statistics every scenario uses. A nil *float64 is a figure that was not
// measured; it stays nil through every calculation, so a report shows "—"
// rather than a zero that looks measured.

// Some is a pointer to v: an optional figure that was measured.
func Some[T any](v T) *T { return &v }

// QuantileSorted is the nearest-rank q-quantile of sorted values (which
// must not be empty).
func QuantileSorted(v []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(v)))) - 1
	return v[min(max(i, 0), len(v)-1)]
}

// Quantile is the nearest-rank q-quantile of v (which it sorts), nil when
// v is empty.
func Quantile(v []float64, q float64) *float64 {
	if len(v) == 0 {
		return nil
	}
	sort.Float64s(v)
	return Some(QuantileSorted(v, q))
}

// Ratio is a/b, nil unless both are known and b is positive.
func Ratio(a, b *float64) *float64 {
	if a == nil || b == nil || *b <= 0 {
		return nil
	}
	return Finite(*a / *b)
}

// Finite turns NaN and ±Inf (nothing observed) into "absent", which JSON
// can carry.
func Finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// AddPtr is *p+v, or v when p is absent.
func AddPtr(p *float64, v float64) *float64 {
	if p != nil {
		v += *p
	}
	return &v
}

// MaxPtr is max(*p, v), or v when p is absent.
func MaxPtr(p *float64, v float64) *float64 {
	if p != nil {
		v = max(v, *p)
	}
	return &v
}

// MeanOf is the mean of v, nil when v is empty.
func MeanOf(v []float64) *float64 {
	if len(v) == 0 {
		return nil
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return Some(sum / float64(len(v)))
}

// Latencies summarizes client-side timings in seconds; nil percentiles
// mean nothing was timed.
type Latencies struct {
	Count int      `json:"count"`
	P50   *float64 `json:"p50Seconds,omitempty"`
	P90   *float64 `json:"p90Seconds,omitempty"`
	P99   *float64 `json:"p99Seconds,omitempty"`
	Max   *float64 `json:"maxSeconds,omitempty"`
	Mean  *float64 `json:"meanSeconds,omitempty"`
}

// SummarizeLatencies computes nearest-rank percentiles of samples (which it
// sorts in place).
func SummarizeLatencies(samples []float64) Latencies {
	l := Latencies{Count: len(samples)}
	if len(samples) == 0 {
		return l
	}
	sort.Float64s(samples)
	sum := 0.0
	for _, v := range samples {
		sum += v
	}
	l.P50, l.P90, l.P99 = Some(QuantileSorted(samples, 0.5)), Some(QuantileSorted(samples, 0.9)), Some(QuantileSorted(samples, 0.99))
	l.Max, l.Mean = Some(samples[len(samples)-1]), Some(sum/float64(len(samples)))
	return l
}

// TimedOp is one timed operation: when it started, how long it took, and
// whether it failed.
type TimedOp struct {
	At      time.Time
	Seconds float64
	Err     bool
}
