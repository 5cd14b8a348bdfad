package longread

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// ops are n operations one every step from at, taking base seconds, every
// tenth slow (so p99 is the slow one) and the last failed if fail.
func ops(at time.Time, n int, step time.Duration, base, slow float64, fail bool) []lab.TimedOp {
	out := make([]lab.TimedOp, n)
	for i := range out {
		d := base
		if i%10 == 9 {
			d = slow
		}
		out[i] = lab.TimedOp{At: at.Add(time.Duration(i) * step), Seconds: d}
	}
	if fail {
		out[n-1].Err = true
	}
	return out
}

func longReadInput(etcdP99 float64) Input {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	phase := func(i int, name, kind string, writeSlow, readBase float64) PhaseInput {
		from := t0.Add(time.Duration(i) * time.Minute)
		p := PhaseInput{Name: name, Kind: kind, From: from, To: from.Add(time.Minute),
			Writes: ops(from, 3000, 20*time.Millisecond, 0.005, writeSlow, false)}
		if kind != Baseline {
			p.Reads = ops(from, 60, time.Second, readBase, readBase*2, kind == Cache)
			ok := int64(len(okSeconds(p.Reads)))
			p.ReadBytes = ok * 40 << 20
			if kind == EtcdRange {
				p.ReadObjects = ok * 20000
			}
		}
		api := hist(3000, 1000, 2900, 2990, 3000) // buckets 0.001, 0.01, 0.1, 1: p99 ≈ 0.1
		p.APIWrite = &api
		return p
	}
	procs := map[string][]lab.ProcSample{}
	for s := 0; s <= 300; s += 5 {
		procs["kube-apiserver"] = append(procs["kube-apiserver"], lab.ProcSample{At: t0.Add(time.Duration(s) * time.Second), PID: 1, CPUSeconds: float64(s) * 0.5})
	}
	return Input{
		Info:    lab.RunInfo{Scenario: "long-read", StartedAt: t0, Parameters: map[string]string{}, ProcessSeries: procs},
		Objects: 20000, ObjectBytes: 2048, WriteRate: 50, Readers: 2,
		Phases: []PhaseInput{
			phase(0, "baseline", Baseline, 0.02, 0),
			phase(1, "list-cache", Cache, 0.04, 0.5),
			phase(2, "list-consistent", Consistent, 0.06, 0.6),
			phase(3, "etcd-range", EtcdRange, etcdP99, 0.8),
			phase(4, "baseline-2", Baseline, 0.02, 0),
		},
	}
}

func TestLongReadRatiosAgainstTheBaseline(t *testing.T) {
	r := BuildResult(longReadInput(0.2))
	if !r.Verdict.Pass {
		t.Fatalf("verdict %+v; want pass", r.Verdict)
	}
	if r.Baseline.Count != 6000 || deref(r.Baseline.P99) != 0.02 {
		t.Errorf("baseline %+v; want both baselines pooled, p99 20ms", r.Baseline)
	}
	want := map[string]float64{"baseline": 1, "list-cache": 2, "list-consistent": 3, "etcd-range": 10, "baseline-2": 1}
	for _, p := range r.Phases {
		if got := deref(p.WriteP99VsBase); got != want[p.Name] {
			t.Errorf("%s: write p99 / baseline = %v; want %v", p.Name, got, want[p.Name])
		}
		if p.WritesPerSecond != 50 || p.Writes.Count != 3000 {
			t.Errorf("%s: %d writes at %.1f/s; want 3000 at 50/s", p.Name, p.Writes.Count, p.WritesPerSecond)
		}
		if c := p.Cores["kube-apiserver"]; c < 0.49 || c > 0.51 {
			t.Errorf("%s: apiserver cores %v; want 0.5", p.Name, c)
		}
		if p.ServerWriteP99 == nil || p.ServerP99VsBase == nil || deref(p.ServerP99VsBase) != 1.0 {
			t.Errorf("%s: server p99 %v ratio %v", p.Name, deref(p.ServerWriteP99), deref(p.ServerP99VsBase))
		}
	}
	cache := r.Phases[1]
	if cache.ReadErrors != 1 || cache.Reads.Count != 59 || deref(cache.BytesPerRead) != float64(40<<20) {
		t.Errorf("list-cache reads %+v errors %d bytes/read %v", cache.Reads, cache.ReadErrors, deref(cache.BytesPerRead))
	}
	if deref(r.Phases[3].ObjectsPerRead) != 20000.0 {
		t.Errorf("etcd objects per read %v; want 20000", deref(r.Phases[3].ObjectsPerRead))
	}

	dir := t.TempDir()
	path, err := lab.Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	for _, want := range []string{"list-consistent", "10.00×", "40.0 MiB", "<svg"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestLongReadSLOs(t *testing.T) {
	// Slow writes while reading etcd directly are a finding, not a failure.
	r := BuildResult(longReadInput(1.5))
	if !r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Warnings, ";"), "etcd-range: write p99 1.50s") {
		t.Errorf("verdict %+v; want a pass with a warning about etcd-range", r.Verdict)
	}
	in := longReadInput(0.2)
	in.Phases[1].Writes = ops(in.Phases[1].From, 3000, 20*time.Millisecond, 0.005, 2.5, false)
	r = BuildResult(in)
	if r.Verdict.Pass || !strings.Contains(r.Verdict.Reasons[0], "list-cache: write p99 2.50s is over the mutating-call SLO") {
		t.Errorf("verdict %+v; want the mutating SLO blown in list-cache", r.Verdict)
	}
	in = longReadInput(0.2)
	in.Info.StoppedEarly = "interrupted during the last phase"
	in.Phases = in.Phases[:2]
	r = BuildResult(in)
	if r.Verdict.Pass || !strings.Contains(r.Verdict.Reasons[0], "interrupted") || len(r.Phases) != 2 {
		t.Errorf("verdict %+v; want failure saying where it stopped, with the phases that ran", r.Verdict)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// hist is a histogram over buckets 0.001, 0.01, 0.1 and 1 s.
func hist(count float64, cum ...float64) lab.Histogram {
	h := lab.Histogram{Count: count}
	for i, ub := range []float64{0.001, 0.01, 0.1, 1} {
		h.Buckets = append(h.Buckets, lab.Bucket{UpperBound: ub, Cumulative: cum[i]})
	}
	return h
}

// A phase whose writes were never timed, or all failed, has no write
// latency: the run fails with no data, it does not pass the SLO on
// nothing. So does a read phase without a finished read, and a planned
// phase that never ran.
func TestLongReadWithoutWriteTimingsIsNoData(t *testing.T) {
	in := longReadInput(0.2)
	in.Phases[2].Writes = nil
	r := BuildResult(in)
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, ";"), "no data: list-consistent: write latency (no write was timed") {
		t.Errorf("verdict %+v; want no data for list-consistent's writes", r.Verdict)
	}
	in = longReadInput(0.2)
	for i := range in.Phases[0].Writes {
		in.Phases[0].Writes[i].Err = true
	}
	r = BuildResult(in)
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, ";"), "no data: baseline: write latency (all 3000 writes failed)") {
		t.Errorf("verdict %+v; want no data for baseline's writes", r.Verdict)
	}
	in = longReadInput(0.2)
	in.Phases[1].Reads = nil
	r = BuildResult(in)
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, ";"), "no data: list-cache: read latency") {
		t.Errorf("verdict %+v; want no data for list-cache's reads", r.Verdict)
	}
	in = longReadInput(0.2)
	in.Planned = []string{"baseline", "list-cache", "list-consistent", "etcd-range", "baseline-2", "baseline-3"}
	r = BuildResult(in)
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, ";"), "no data: baseline-3: write latency (the phase did not run)") {
		t.Errorf("verdict %+v; want no data for the phase that did not run", r.Verdict)
	}
}
