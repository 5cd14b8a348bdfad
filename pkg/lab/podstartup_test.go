package lab

import (
	"fmt"
	"math"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func trackedPod(i int, created time.Time, node string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "ns", UID: types.UID(fmt.Sprintf("uid-%d", i)),
			CreationTimestamp: metav1.NewTime(created)},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func TestPodStartupTimesEachPodOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0.Add(300 * time.Millisecond))
	s := NewPodStartup(clk)
	// creationTimestamp has whole seconds: the pod was created at 12:00:00.3.
	created := t0
	s.Observe(trackedPod(1, created, "", corev1.PodPending))
	clk.Step(200 * time.Millisecond)
	s.Observe(trackedPod(1, created, "n1", corev1.PodPending))
	clk.Step(500 * time.Millisecond)
	s.Observe(trackedPod(1, created, "n1", corev1.PodRunning))
	// A later update (relist, status patch) must not time it again.
	clk.Step(time.Second)
	s.Observe(trackedPod(1, created, "n1", corev1.PodRunning))

	samples := s.Samples()
	if len(samples) != 1 {
		t.Fatalf("%d samples, want 1", len(samples))
	}
	got := samples[0]
	if math.Abs(got.SLI-1.0) > 1e-9 || math.Abs(got.Watch-0.7) > 1e-9 || math.Abs(got.Schedule-0.2) > 1e-9 {
		t.Errorf("sample = %+v, want SLI 1.0s (from the whole second), watch 0.7s, schedule 0.2s", got)
	}
	if c := s.Current(); c.Running != 1 || c.Pods != 1 {
		t.Errorf("current = %+v, want 1 of 1 Running", c)
	}
	s.Forget(trackedPod(1, created, "n1", corev1.PodRunning))
	if c := s.Current(); c.Running != 0 || c.Pods != 0 {
		t.Errorf("after deletion = %+v, want none", c)
	}
}

func TestPodStartupStalled(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	s := NewPodStartup(clk)
	if s.Stalled() != 0 {
		t.Fatal("nothing waits, nothing stalls")
	}
	s.Observe(trackedPod(1, t0, "", corev1.PodPending))
	s.Observe(trackedPod(2, t0, "", corev1.PodPending))
	clk.Step(time.Minute)
	s.Observe(trackedPod(1, t0, "n", corev1.PodRunning))
	clk.Step(30 * time.Second)
	// Pod 2 has waited 90s, but a pod turned Running 30s ago.
	if got := s.Stalled(); got != 30*time.Second {
		t.Errorf("stalled = %s, want 30s since the last pod turned Running", got)
	}
	s.Observe(trackedPod(2, t0, "n", corev1.PodRunning))
	if got := s.Stalled(); got != 0 {
		t.Errorf("stalled = %s with every pod Running, want 0", got)
	}
	if got := s.RecentP99(); math.Abs(got-90) > 1e-9 {
		t.Errorf("recent p99 = %g, want 90", got)
	}
}

func TestStartupSummaryAndSeries(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var samples []StartupSample
	// 100 pods per 10s interval for a minute; the third interval is slow.
	for i := range 600 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		sli := 0.5 + float64(i%100)/100 // 0.50 ... 1.49
		if i/100 == 2 {
			sli += 4
		}
		samples = append(samples, StartupSample{At: at, SLI: sli, Watch: sli - 0.4, Schedule: 0.1})
	}
	s := SummarizeStartup(samples, t0.Add(30*time.Second), t0.Add(time.Hour))
	// Nearest rank over 0.50…1.49, three of each: p50 is the 150th value,
	// p99 the 297th.
	if s.SLI.Count != 300 || math.Abs(*s.SLI.P50-0.99) > 1e-9 || math.Abs(*s.SLI.P99-1.48) > 1e-9 {
		t.Errorf("summary after 30s: %d pods, p50 %g, p99 %g; want 300, 0.99, 1.48", s.SLI.Count, *s.SLI.P50, *s.SLI.P99)
	}
	pts := StartupOverTime(samples, t0, 10*time.Second)
	if len(pts) != 6 {
		t.Fatalf("%d points, want 6", len(pts))
	}
	if p := pts[2]; p.Started != 100 || p.P99 < 5 || !p.At.Equal(t0.Add(30*time.Second)) {
		t.Errorf("third interval = %+v, want 100 slow pods ending at 0:30", p)
	}
}
