package lab

import (
	"testing"
	"time"
)

func TestSummarizeLatencies(t *testing.T) {
	var v []float64
	for i := 100; i >= 1; i-- {
		v = append(v, float64(i)/1000)
	}
	l := SummarizeLatencies(v)
	if l.Count != 100 || deref(l.P50) != 0.05 || deref(l.P90) != 0.09 || deref(l.P99) != 0.099 || deref(l.Max) != 0.1 || !near(*l.Mean, 0.0505) {
		t.Errorf("summary %d p50 %v p90 %v p99 %v max %v mean %v", l.Count, deref(l.P50), deref(l.P90), deref(l.P99), deref(l.Max), deref(l.Mean))
	}
	if e := SummarizeLatencies(nil); e.Count != 0 || e.P99 != nil {
		t.Errorf("empty summary %+v; want no percentiles", e)
	}
}

func TestPercentileSeriesBucketsByTimeAndSkipsErrors(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ops := []TimedOp{
		{At: t0, Seconds: 0.010}, {At: t0.Add(500 * time.Millisecond), Seconds: 0.030},
		{At: t0.Add(time.Second), Seconds: 9, Err: true}, {At: t0.Add(1500 * time.Millisecond), Seconds: 0.002},
		{At: t0.Add(3 * time.Second), Seconds: 0.005},
	}
	got := PercentileSeries(ops, t0, time.Second, 0.99)
	want := []XY{{0.5, 30}, {1.5, 2}, {3.5, 5}}
	if len(got) != len(want) {
		t.Fatalf("series %v; want %v", got, want)
	}
	for i := range want {
		if got[i].X != want[i].X || got[i].Y < want[i].Y-1e-9 || got[i].Y > want[i].Y+1e-9 {
			t.Errorf("point %d = %v; want %v", i, got[i], want[i])
		}
	}
}

func TestRelabelXPutsTheDataUnitOnTheAxis(t *testing.T) {
	ss := []Line{{"map", []XY{{0, 1}, {600, 2}}}}
	c := NewChart("put p99", "ms", 0, ss)
	RelabelX(&c, ss, func(x float64) string { return NumH(x) + " MiB" })
	if len(c.XTicks) < 2 || c.XTicks[0].Label != "0 MiB" || c.XTicks[len(c.XTicks)-1].Label != "600 MiB" {
		t.Errorf("ticks %+v; want 0 MiB … 600 MiB", c.XTicks)
	}
}
