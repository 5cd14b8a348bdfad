package scheduler

import (
	"math"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/lab"
)

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The ceiling's phase ends when its last event write has returned, not
// when the last pod is seen bound: its pods/s run to that end.
func TestCeilingPhaseEndsWhenItsEventWritesHaveReturned(t *testing.T) {
	c := newCluster(t, 3)
	c.release = make(chan struct{})
	done := make(chan *Result, 1)
	go func() { done <- c.run(t, c.scenario("ceiling", 10)) }()
	waitUntil(t, func() bool { return c.eventsIn.Load() == 10 })
	select {
	case <-done:
		t.Fatal("the ceiling's phase ended with its event writes still out")
	case <-time.After(200 * time.Millisecond):
	}
	c.clk.Step(2 * time.Second)
	close(c.release)
	r := <-done
	if !r.Verdict.Pass {
		t.Fatalf("verdict: %+v", r.Verdict)
	}
	run := r.Ceiling.Runs[0]
	w := run.CeilingWrites
	if w.EventWrites != 10 || w.EventsPendingAtLastBinding != 10 {
		t.Errorf("%d events written, %d pending at the last binding; want 10 and 10", w.EventWrites, w.EventsPendingAtLastBinding)
	}
	if w.EventsDrainSeconds == nil || *w.EventsDrainSeconds != 2 {
		t.Errorf("events returned %v s after the last binding, want 2", w.EventsDrainSeconds)
	}
	if r.Ceiling.BindsPerSecond == nil || *r.Ceiling.BindsPerSecond != 5 {
		t.Errorf("ceiling %v binds/s, want 10 pods / 2 s until the last event returned", r.Ceiling.BindsPerSecond)
	}
	if *r.Ceiling.EventsPendingAtLastBinding != 10 {
		t.Errorf("summary: %d pending", *r.Ceiling.EventsPendingAtLastBinding)
	}
}

// A scheduler phase starts the scheduler, waits until the watch has seen
// every pod bound, samples the process and deletes the pods.
func TestSchedulerPhasesMeasureTheSchedulerAndCleanUp(t *testing.T) {
	c := newCluster(t, 3)
	r := c.run(t, c.scenario("myriad,kube", 30))
	if !r.Verdict.Pass {
		t.Fatalf("verdict: %+v", r.Verdict)
	}
	for _, s := range []SchedSummary{r.Myriad, r.Kube} {
		if len(s.Runs) != 1 || s.PodsPerSecond == nil || *s.PodsPerSecond != 30 {
			t.Errorf("pods/s %v over %d runs, want 30 pods bound 1 s after start", s.PodsPerSecond, len(s.Runs))
		}
		if s.CPUSecondsPer1000Pods == nil || math.Abs(*s.CPUSecondsPer1000Pods-0.5/30*1000) > 1e-9 {
			t.Errorf("CPU per 1000 pods %v", s.CPUSecondsPer1000Pods)
		}
		if s.FeasibleFraction == nil || *s.FeasibleFraction != 1 || s.RSSMaxBytes == nil {
			t.Errorf("feasible %v, rss %v", s.FeasibleFraction, s.RSSMaxBytes)
		}
		if s.WritesPriorityLevel != "workload-high" {
			t.Errorf("scheduler's writes' priority level %q, want workload-high from the identity's flow", s.WritesPriorityLevel)
		}
	}
	pods, _ := c.admin.Tracker().List(podsGVR, podsGVR.GroupVersion().WithKind("Pod"), Namespace)
	if n := len(pods.(*corev1.PodList).Items); n != 0 {
		t.Errorf("%d pods left", n)
	}
	if !strings.Contains(strings.Join(r.Rows()[0], " "), "ceiling") {
		t.Errorf("rows lack their header: %v", r.Rows()[0])
	}
}

// With --idle-window the scheduler runs on after its last binding; its CPU
// rate over the window is its idle rate, and that rate times the phase's
// length comes off its CPU per pod. The settle before the window and the
// time between the last binding and the CPU reading do not change it.
func TestIdleWindowMeasuresTheSchedulersIdleRate(t *testing.T) {
	c := newCluster(t, 3)
	c.idleCores, c.boundAll = 0.02, make(chan struct{})
	s := c.scenario("myriad", 30)
	s.o.IdleWindow = time.Minute
	done := make(chan *Result, 1)
	go func() { done <- c.run(t, s) }()
	<-c.boundAll
	var r *Result
	for r == nil {
		select {
		case r = <-done:
		case <-time.After(2 * time.Millisecond):
			c.clk.Step(5 * time.Second)
		}
	}
	if !r.Verdict.Pass || len(r.Verdict.Warnings) > 0 {
		t.Fatalf("verdict: %+v", r.Verdict)
	}
	run := r.Myriad.Runs[0]
	if run.IdleCPUCores == nil || math.Abs(*run.IdleCPUCores-0.02) > 1e-9 {
		t.Errorf("idle %s cores, want 0.02", lab.FmtOpt(run.IdleCPUCores, "%g"))
	}
	// 0.5 s at the last binding, 1 s after start; 0.02 cores of it is idle.
	want := (0.5 - 0.02*1) / 30 * 1000
	if run.CPUSecondsPer1000PodsAboveIdle == nil || math.Abs(*run.CPUSecondsPer1000PodsAboveIdle-want) > 1e-6 {
		t.Errorf("CPU per 1000 pods above idle %s, want %g", lab.FmtOpt(run.CPUSecondsPer1000PodsAboveIdle, "%g"), want)
	}
	if r.Myriad.IdleCPUCores == nil || r.Myriad.CPUSecondsPer1000PodsAboveIdle == nil {
		t.Errorf("summary lacks the idle figures: %+v", r.Myriad)
	}
}

// Without --idle-window the scheduler stops at its last binding and no
// idle figure is reported.
func TestNoIdleWindowNoIdleFigures(t *testing.T) {
	c := newCluster(t, 3)
	r := c.run(t, c.scenario("kube", 10))
	if run := r.Kube.Runs[0]; run.IdleCPUCores != nil || run.CPUSecondsPer1000PodsAboveIdle != nil || run.IdleError != "" {
		t.Errorf("idle figures without an idle window: %+v", run)
	}
}
