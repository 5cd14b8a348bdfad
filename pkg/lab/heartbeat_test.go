package lab

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// heartbeatRun is a measured run of mode whose simulator sent writes
// heartbeat writes of bytesEach bytes and whose API server used cores.
func heartbeatRun(t *testing.T, mode string, walPerMin, cores float64, leaseWrites, statusWrites, bytesEach float64) HeartbeatRun {
	t.Helper()
	in := syntheticSoak(t, false)
	in.Nodes = 10000
	m := *in.Measurement
	mins := m.To.Sub(m.From).Minutes()
	m.first.wal, m.last.wal = ptr(0), ptr(walPerMin*mins)
	m.first.hb = map[string]hbCount{"lease": {100, 100 * bytesEach}, "status": {5, 5 * bytesEach}}
	m.last.hb = map[string]hbCount{"lease": {100 + leaseWrites, (100 + leaseWrites) * bytesEach}, "status": {5 + statusWrites, (5 + statusWrites) * bytesEach}}
	hb0, hb1 := hist(0, 0, 0, 0, 0), hist(1000, 500, 900, 990, 1000)
	m.first.simHB, m.last.simHB = &hb0, &hb1
	m.first.apiRequests, m.last.apiRequests = ptr(0), ptr(1200*m.To.Sub(m.From).Seconds())
	in.Measurement = &m
	// The synthetic processes use 2.5 CPU-seconds per 5 s sample (0.5
	// cores); scale kube-apiserver's to cores.
	for i := range in.Procs["kube-apiserver"] {
		in.Procs["kube-apiserver"][i].CPUSeconds *= cores / 0.5
	}
	return HeartbeatRun{Mode: mode, Run: BuildSoakResult(in), NodeObjectBytes: ptr(6000)}
}

func TestHeartbeatRatiosAndFigures(t *testing.T) {
	lease := heartbeatRun(t, "lease", 4<<20, 0.4, 60000, 0, 250)
	status := heartbeatRun(t, "status", 60<<20, 1.2, 0, 60000, 5000)
	r := BuildHeartbeatResult(HeartbeatInput{Nodes: 10000, Runs: []HeartbeatRun{lease, status}, StartedAt: time.Now()})

	if !r.Verdict.Pass {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	l, s := r.Lease, r.Status
	if got := *l.BytesPerHeartbeat; got != 250 {
		t.Errorf("lease bytes per heartbeat %v, want 250", got)
	}
	if l.LeaseWrites != 60000 || l.StatusWrites != 0 || s.StatusWrites != 60000 {
		t.Errorf("writes: lease %v/%v status %v", l.LeaseWrites, l.StatusWrites, s.StatusWrites)
	}
	if got := l.HeartbeatWritesPerSecond; math.Abs(got-100) > 0.01 { // 60,000 in 10 min
		t.Errorf("heartbeat writes/s %v, want 100", got)
	}
	if l.HeartbeatP99 == nil || *l.HeartbeatP99 <= 0 {
		t.Errorf("heartbeat p99 missing")
	}
	if got := *l.APIRequestsPerSecond; math.Abs(got-1200) > 0.01 {
		t.Errorf("API requests/s %v, want 1200", got)
	}
	for name, c := range map[string]struct{ got *float64 }{
		"etcd WAL":            {r.Ratio.EtcdWALBytesPerMinute},
		"bytes per heartbeat": {r.Ratio.BytesPerHeartbeat},
		"apiserver cores":     {r.Ratio.APIServerCores},
	} {
		want := map[string]float64{"etcd WAL": 15, "bytes per heartbeat": 20, "apiserver cores": 3}[name]
		if c.got == nil || math.Abs(*c.got-want) > 0.01 {
			t.Errorf("ratio %s = %v, want %v", name, c.got, want)
		}
	}
	if r.Ratio.EtcdProcWriteBytesPerMinute == nil || *r.Ratio.EtcdProcWriteBytesPerMinute != 1 {
		t.Errorf("etcd /proc ratio %v, want 1 (same synthetic disk writes)", r.Ratio.EtcdProcWriteBytesPerMinute)
	}

	var buf bytes.Buffer
	if err := RenderHeartbeatHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{"PASS", "15.0×", "20.0×", "3.0×", "etcd WAL writes", "kube-apiserver CPU", "<polyline", "Processes, status run"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestHeartbeatFailsWhenARunDidNotReachItsSize(t *testing.T) {
	lease := heartbeatRun(t, "lease", 4<<20, 0.4, 60000, 0, 250)
	in := syntheticSoak(t, false)
	in.Measurement, in.StartupErr = nil, errors.New("412 of 10000 nodes Ready after 10m")
	in.StoppedAt = in.StartedAt.Add(10 * time.Minute)
	status := HeartbeatRun{Mode: "status", Run: BuildSoakResult(in)}
	r := BuildHeartbeatResult(HeartbeatInput{Nodes: 10000, Runs: []HeartbeatRun{lease, status}})
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "status run: the cluster did not reach") {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	if r.Ratio.EtcdWALBytesPerMinute != nil {
		t.Errorf("a ratio against an unmeasured run: %v", *r.Ratio.EtcdWALBytesPerMinute)
	}
	// A skipped run is named, not silently absent.
	r = BuildHeartbeatResult(HeartbeatInput{Nodes: 10000, Runs: []HeartbeatRun{lease}, Skipped: []string{"status: interrupted"}})
	if r.Verdict.Pass || r.Status != nil || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "status run: not run") {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	if rows := HeartbeatRows(r); rows[0].Status != "not run" {
		t.Errorf("row %+v", rows[0])
	}
}

func TestFalseNotReadyFailsTheComparison(t *testing.T) {
	lease := heartbeatRun(t, "lease", 4<<20, 0.4, 60000, 0, 250)
	in := syntheticSoak(t, true)
	status := HeartbeatRun{Mode: "status", Run: BuildSoakResult(in)}
	r := BuildHeartbeatResult(HeartbeatInput{Nodes: 10000, Runs: []HeartbeatRun{lease, status}})
	if r.Verdict.Pass || r.Status.FalseNotReady != 1 {
		t.Fatalf("pass=%v falseNotReady=%d", r.Verdict.Pass, r.Status.FalseNotReady)
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		a, b *float64
		want *float64
	}{
		{ptr(30), ptr(2), ptr(15)},
		{ptr(1), ptr(0), nil},
		{nil, ptr(1), nil},
		{ptr(1), nil, nil},
	} {
		got := Ratio(tc.a, tc.b)
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("ratio(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
