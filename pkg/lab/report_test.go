package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func ptr(v float64) *float64 { return &v }

// syntheticSoak is a 10-minute soak of 10,000 nodes sampled every 5s.
func syntheticSoak(t *testing.T, falseNotReady bool) SoakInput {
	t.Helper()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	from, to := start.Add(2*time.Minute), start.Add(12*time.Minute)
	clk := clocktesting.NewFakeClock(start)
	ready := NewReadiness(clk)
	procs := map[string][]ProcSample{}
	for i := 0; clk.Now().Before(to.Add(time.Second)); i++ {
		if i < 12 { // nodes register during start-up
			for j := 0; j < 1000; j++ {
				ready.Observe(simNode(fmt.Sprintf("n%02d-%d", i, j), corev1.ConditionTrue, false))
			}
		}
		if falseNotReady && clk.Now().Equal(from.Add(5*time.Minute)) {
			ready.Observe(simNode("n00-7", corev1.ConditionUnknown, false))
		}
		ready.Sample()
		wb := int64(i) * 1 << 20
		for name, rss := range map[string]int64{"etcd": 300 << 20, "kube-apiserver": 2 << 30, "nodes": 700 << 20} {
			procs[name] = append(procs[name], ProcSample{At: clk.Now(), PID: 100, RSSBytes: rss, CPUSeconds: float64(i) * 2.5, WriteBytes: &wb})
		}
		clk.Step(5 * time.Second)
	}
	m := &Measurement{From: from, To: to}
	sim0, sim1 := hist(0, 0, 0, 0, 0), hist(600000, 100000, 300000, 590000, 600000)
	api0, api1 := hist(10, 10, 10, 10, 10), hist(600010, 500010, 590010, 600010, 600010)
	m.first = reading{at: from, simAt: from, apiAt: from, etcdAt: from, haveSim: true, haveAPI: true, haveE: true,
		simLease: &sim0, apiLease: &api0, simErrors: ptr(0), wal: ptr(0), db: ptr(100 << 20)}
	m.last = reading{at: to, simAt: to, apiAt: to, etcdAt: to, haveSim: true, haveAPI: true, haveE: true,
		simLease: &sim1, apiLease: &api1, simErrors: ptr(3), wal: ptr(50 << 20), db: ptr(120 << 20)}
	for at := from.Add(15 * time.Second); !at.After(to); at = at.Add(15 * time.Second) {
		m.Intervals = append(m.Intervals, IntervalPoint{At: at, SimLeaseP99: ptr(0.0123), APILeaseP99: ptr(0.0045), RenewalsPerSecond: ptr(1000), WALBytesPerMinute: ptr(5 << 20)})
	}
	return SoakInput{
		Machine:    Machine{Cores: 2, MemoryBytes: 24 << 30, GoVersion: "go1.26", KubernetesVersion: "v1.37.2"},
		Parameters: map[string]string{"nodes": "10000", "duration": "10m0s"},
		Nodes:      12000, Duration: 10 * time.Minute, StartedAt: start,
		Measurement: m, Procs: procs, Ready: ready,
	}
}

func TestSoakResultFiguresAndVerdict(t *testing.T) {
	res := BuildSoakResult(syntheticSoak(t, false))
	if !res.Verdict.Pass {
		t.Fatalf("verdict = %+v, want pass", res.Verdict)
	}
	// 600,000 renewals: p50 at rank 300,000 is the top of (0.1,0.2]; p99 at
	// rank 594,000 is 0.5 + 0.5*4000/10000.
	if got := *res.Lease.SimulatorP50; got != 0.2 {
		t.Errorf("simulator p50 = %g, want 0.2", got)
	}
	if got := *res.Lease.SimulatorP99; got != 0.7 {
		t.Errorf("simulator p99 = %g, want 0.7", got)
	}
	if res.Lease.Renewals != 600000 || res.Lease.RenewalsPerSecond != 1000 || res.Lease.Errors != 3 {
		t.Errorf("lease = %+v", res.Lease)
	}
	if got := *res.Etcd.WALBytesPerMinute; got != 5<<20 {
		t.Errorf("WAL bytes/min = %g, want 5MiB", got)
	}
	if got := *res.Etcd.ProcWriteBytesPerMinute; got != 12<<20 { // 1 MiB per 5 s
		t.Errorf("etcd /proc write bytes/min = %g, want 12MiB", got)
	}
	for _, p := range res.Processes {
		if p.Cores != 0.5 { // 2.5 CPU s per 5 s
			t.Errorf("%s cores = %g, want 0.5", p.Name, p.Cores)
		}
	}
	if res.Readiness.ReadyMin != 12000 {
		t.Errorf("ready min = %d, want 12000", res.Readiness.ReadyMin)
	}

	bad := BuildSoakResult(syntheticSoak(t, true))
	if bad.Verdict.Pass || bad.Readiness.FalseNotReady != 1 || !strings.Contains(bad.Verdict.Reasons[0], "n00-7") {
		t.Errorf("a false NotReady gave verdict %+v, readiness %+v", bad.Verdict, bad.Readiness)
	}
	in := syntheticSoak(t, false)
	in.Measurement, in.StartupErr, in.StoppedAt = nil, errors.New("only 9000 of 12000 nodes Ready"), in.StartedAt.Add(time.Minute)
	if r := BuildSoakResult(in); r.Verdict.Pass || !strings.Contains(r.Verdict.Reasons[0], "did not reach 12000") {
		t.Errorf("a start-up failure gave verdict %+v", r.Verdict)
	}
}

func TestReportRendersTheNumbers(t *testing.T) {
	dir := t.TempDir()
	res := BuildSoakResult(syntheticSoak(t, true))
	path, err := WriteReport(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(html) > 200<<10 {
		t.Errorf("report.html is %d bytes, want < 200 KiB", len(html))
	}
	page := string(html)
	for _, want := range []string{
		"FAIL", "n00-7", // verdict and the node that went NotReady
		"200.0 ms / 700.0 ms", // simulator p50 / p99
		"5.0 MiB",             // WAL bytes per minute
		"2.00 GiB",            // API server RSS
		"<polyline", "Ready simulated nodes", "Resident memory", "CPU used", "Lease renewal p99",
		"kube-apiserver", "v1.37.2",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), banned) {
			t.Errorf("report.html contains %q: it must be self-contained", banned)
		}
	}
	var back SoakResult
	js, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Readiness.FalseNotReady != 1 || back.Verdict.Pass || *back.Lease.SimulatorP99 != 0.7 {
		t.Errorf("result.json round trip = %+v", back.Readiness)
	}
	var buf bytes.Buffer
	if err := RenderHTML(&buf, &SoakResult{Scenario: "soak"}); err != nil {
		t.Errorf("an empty result does not render: %v", err)
	}
}
