package lab

import (
	"strings"
	"testing"
	"time"
)

// The run's own processes may use every core; other work on the machine
// marks the run busy, and so does a load above the core count before it.
func TestJudgeLoadSeparatesTheRunFromOtherWork(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The run's one process uses 1.8 cores throughout, sampled every 5s.
	procs := map[string][]ProcSample{}
	for i := 0; i <= 36; i++ {
		procs["kube-apiserver"] = append(procs["kube-apiserver"], ProcSample{At: t0.Add(time.Duration(i) * 5 * time.Second), PID: 7, CPUSeconds: 1.8 * 5 * float64(i)})
	}
	points := func(load0, machineCores float64) []LoadPoint {
		var ps []LoadPoint
		for i := 0; i <= 18; i++ {
			ps = append(ps, LoadPoint{At: t0.Add(time.Duration(i) * 10 * time.Second), Load1: load0 + 2, BusyCPU: 1000 + machineCores*10*float64(i)})
		}
		ps[0].Load1 = load0
		return ps
	}
	cases := []struct {
		name         string
		load0, cores float64
		busy         string
	}{
		{"only the run", 0.3, 1.8, ""},
		{"a build beside it", 0.3, 2.0 + 0.6, "other processes used 0.80"},
		{"busy before it started", 3.5, 1.8, "load average 3.5 on 2 cores before the run"},
	}
	for _, c := range cases {
		ml, why := JudgeLoad(points(c.load0, c.cores), procs, 2)
		if c.busy == "" && why != "" || c.busy != "" && !strings.Contains(why, c.busy) {
			t.Errorf("%s: busy %q, want %q", c.name, why, c.busy)
		}
		if ml.OtherCoresMax == nil {
			t.Errorf("%s: no figure for other work", c.name)
		}
	}
}

// Without load samples nothing is claimed either way.
func TestJudgeLoadWithoutSamples(t *testing.T) {
	if _, why := JudgeLoad(nil, nil, 2); why != "" {
		t.Errorf("busy %q with no samples", why)
	}
}

// The head carries the judgement into result.json and the verdict.
func TestSetLoadWarnsOnABusyMachine(t *testing.T) {
	t0 := time.Now()
	h := &RunInfo{Machine: Machine{Cores: 2}}
	h.SetLoad([]LoadPoint{{At: t0, Load1: 4}})
	if !h.MachineBusy || len(h.Verdict.Warnings) != 1 {
		t.Fatalf("busy %v, warnings %v", h.MachineBusy, h.Verdict.Warnings)
	}
}
