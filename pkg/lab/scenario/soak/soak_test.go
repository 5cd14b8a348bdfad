package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// hist is a histogram with bounds 0.1, 0.2, 0.5, 1 of n observations,
// 1/6 in each of the first two buckets and 1/2 in the third, 1/6 in the
// fourth.
func hist(n float64) *lab.Histogram {
	h := &lab.Histogram{Count: n, Sum: n * 0.3}
	for i, ub := range []float64{0.1, 0.2, 0.5, 1} {
		h.Buckets = append(h.Buckets, lab.Bucket{UpperBound: ub, Cumulative: n * []float64{1, 2, 5, 6}[i] / 6})
	}
	return h
}

// scrapeAt is a good scrape of every source secs seconds after t0 of a
// cluster whose simulator renews 100 Leases/s of 300 B and patches 1
// NodeStatus/s of 6000 B, whose etcd writes 1 MiB of WAL per minute and
// whose API server serves 200 requests/s.
func scrapeAt(secs float64) reading {
	at := t0.Add(time.Duration(secs * float64(time.Second)))
	v := func(x float64) *float64 { return &x }
	return reading{
		at: at, simAt: at, apiAt: at, etcdAt: at, haveSim: true, haveAPI: true, haveE: true, trySim: true, tryAPI: true, tryE: true,
		simLease: hist(100 * secs), simLag: hist(100 * secs), simHB: hist(101 * secs), apiLease: hist(100 * secs), walFsync: hist(secs),
		hb:        map[string]hbCount{"lease": {100 * secs, 300 * 100 * secs}, "status": {secs, 6000 * secs}},
		simErrors: v(0), wal: v(secs / 60 * (1 << 20)), db: v(100<<20 + secs), apiRequests: v(200 * secs),
	}
}

// measure feeds the Meter scrapes at 0, 15, 30, ... 120 s (good unless
// failed says otherwise) and returns what it measured.
func measure(t *testing.T, failed func(i int) string) Measurement {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	i := 0
	m := &Meter{Duration: 2 * time.Minute, ScrapeInterval: 15 * time.Second, ProgressInterval: 5 * time.Second, Clock: clk,
		scrape: func(context.Context) (reading, []error) {
			r := scrapeAt(clk.Now().Sub(t0).Seconds())
			defer func() { i++ }()
			if src := failed(i); src != "" {
				switch src {
				case "nodes":
					r.haveSim, r.simLease, r.simLag, r.simHB, r.hb, r.simErrors = false, nil, nil, nil, nil, nil
				case "etcd":
					r.haveE, r.wal, r.db, r.walFsync = false, nil, nil, nil
				}
				return r, []error{fmt.Errorf("scrape %s: context deadline exceeded", src)}
			}
			return r, nil
		}}
	ticked := make(chan struct{}, 1)
	m.ticked = tickedHook(ticked)
	return run(t, clk, ticked, func() Measurement { return m.Measure(context.Background()) })
}

func tickedHook(ch chan struct{}) func() {
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// run calls f, stepping clk by the progress interval (5 s) each time the
// Meter waits for its next tick.
func run[T any](t *testing.T, clk *clocktesting.FakeClock, ticked chan struct{}, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	timeout := time.After(10 * time.Second)
	for {
		for !clk.HasWaiters() {
			select {
			case v := <-done:
				return v
			case <-timeout:
				t.Fatal("the scenario did not finish")
			case <-time.After(100 * time.Microsecond):
			}
		}
		clk.Step(5 * time.Second)
		select {
		case <-ticked:
		case v := <-done:
			return v
		case <-timeout:
			t.Fatal("the scenario did not finish")
		}
	}
}

func TestWindowFiguresFromEveryGoodScrape(t *testing.T) {
	m := measure(t, func(int) string { return "" })
	w := m.Window
	if w.Sim.Good != 9 || w.Sim.Scrapes != 9 {
		t.Fatalf("simulator scrapes %+v, want 9 good", w.Sim)
	}
	res := Build(Input{Info: lab.NewRunInfo(Name, lab.Machine{}, nil, t0), Nodes: 1, Duration: 2 * time.Minute, Measurement: &m, StoppedAt: m.To})
	hb := res.Heartbeat
	if hb == nil || hb.BytesPerWrite == nil {
		t.Fatalf("heartbeat writes %+v", hb)
	}
	if want := (300*100 + 6000) / 101.0; abs(*hb.BytesPerWrite-want) > 0.01 {
		t.Errorf("bytes per heartbeat %v, want %v", *hb.BytesPerWrite, want)
	}
	if abs(hb.WritesPerSecond-101) > 0.01 || abs(res.Lease.RenewalsPerSecond-100) > 0.01 {
		t.Errorf("writes/s %v, renewals/s %v; want 101 and 100", hb.WritesPerSecond, res.Lease.RenewalsPerSecond)
	}
	if got := *res.Etcd.WALBytesPerMinute; abs(got-(1<<20)) > 1 {
		t.Errorf("WAL bytes/min %v, want 1 MiB", got)
	}
	if got := *res.APIRequestsPerSecond; abs(got-200) > 0.01 {
		t.Errorf("API requests/s %v, want 200", got)
	}
}

// The figures used to come from the first and the last scrape only: one
// failed scrape at either end lost them (a CI run failed with "bytes per
// heartbeat = <nil>"). Now they are summed over the good pairs.
func TestAFailedScrapeAtEitherEndLosesNoFigure(t *testing.T) {
	m := measure(t, func(i int) string {
		switch i {
		case 0, 4, 8: // first, a middle and the last scrape
			return "nodes"
		case 8 - 1:
			return "etcd"
		}
		return ""
	})
	res := Build(Input{Info: lab.NewRunInfo(Name, lab.Machine{}, nil, t0), Nodes: 1, Duration: 2 * time.Minute, Measurement: &m, StoppedAt: m.To})
	if res.Heartbeat == nil || res.Heartbeat.BytesPerWrite == nil {
		t.Fatalf("bytes per heartbeat missing after a failed first and last scrape: %+v (missing %v)", res.Heartbeat, res.Missing)
	}
	if want := (300*100 + 6000) / 101.0; abs(*res.Heartbeat.BytesPerWrite-want) > 0.01 {
		t.Errorf("bytes per heartbeat %v, want %v", *res.Heartbeat.BytesPerWrite, want)
	}
	if abs(res.Heartbeat.WritesPerSecond-101) > 0.01 {
		t.Errorf("writes/s %v, want 101 over the time the good scrapes covered", res.Heartbeat.WritesPerSecond)
	}
	if res.Etcd.WALBytesPerMinute == nil || abs(*res.Etcd.WALBytesPerMinute-(1<<20)) > 1 {
		t.Errorf("WAL bytes/min %v", res.Etcd.WALBytesPerMinute)
	}
	if s := res.Scrapes["nodes"]; s.Good != 6 || s.Scrapes != 9 || !strings.Contains(s.FirstError, "deadline") {
		t.Errorf("simulator scrapes %+v, want 6 of 9 and the first error", s)
	}
}

// A simulator that answers before its first write of a kind exports no
// series for it yet: that is zero writes, not a missing figure.
func TestHeartbeatSeriesAppearingMidWindowCountsFromZero(t *testing.T) {
	var w Window
	a, b := scrapeAt(0), scrapeAt(15)
	a.hb = map[string]hbCount{"lease": {}, "status": {}} // what scrapeAll makes of absent series
	b.hb = map[string]hbCount{"lease": {}, "status": {3, 1200}}
	w.add(reading{}, a, "")
	w.add(a, b, "")
	hw := heartbeatWrites(w)
	if hw == nil || hw.StatusWrites != 3 || hw.BytesPerWrite == nil || *hw.BytesPerWrite != 400 {
		t.Fatalf("heartbeat writes %+v, want 3 status writes of 400 B", hw)
	}
}

func TestMissingFigureSaysWhy(t *testing.T) {
	m := measure(t, func(i int) string {
		if i != 3 {
			return "nodes"
		}
		return ""
	})
	res := Build(Input{Info: lab.NewRunInfo(Name, lab.Machine{}, nil, t0), Nodes: 1, Duration: 2 * time.Minute, Measurement: &m, StoppedAt: m.To})
	why := res.Missing[FigureBytesPerHeartbeat]
	if res.Heartbeat != nil || !strings.Contains(why, "1 of 9 scrapes of the simulator succeeded") || !strings.Contains(why, "deadline exceeded") {
		t.Errorf("heartbeat %+v, missing %q", res.Heartbeat, why)
	}
}

func abs(v float64) float64 { return max(v, -v) }

func simNode(name string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{nodesim.SimulatedLabel: "true"}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "NodeStatusUnknown"}}}}
}

// runSoak runs the scenario against a fake rig of 3 Ready nodes; notReady
// turns node n-1 NotReady a minute into measuring.
func runSoak(t *testing.T, notReady bool) *Result {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	var r *rig.Rig
	s := &Scenario{
		Options: Options{Rig: rig.Defaults(3), Duration: 2 * time.Minute},
		Start: func(ctx context.Context, o rig.Options, con *lab.Console, _ func(lab.ReadyPoint, time.Duration) string) (*rig.Rig, error) {
			r = rig.New(clk, fake.NewClientset())
			for i := range o.Nodes {
				r.Ready.Observe(simNode(fmt.Sprintf("n-%d", i), corev1.ConditionTrue))
			}
			r.Ready.Sample()
			clk.Step(30 * time.Second) // start-up
			return r, nil
		},
	}
	s.scrape = func(context.Context) (reading, []error) {
		secs := clk.Now().Sub(t0).Seconds()
		if notReady && secs >= 90 {
			r.Ready.Observe(simNode("n-2", corev1.ConditionUnknown))
		}
		r.Ready.Sample()
		return scrapeAt(secs), nil
	}
	ticked := make(chan struct{}, 1)
	s.ticked = tickedHook(ticked)
	env := lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}
	return run(t, clk, ticked, func() lab.Result { return s.Run(context.Background(), env) }).(*Result)
}

func TestSoakRunsAndPasses(t *testing.T) {
	res := runSoak(t, false)
	if !res.Verdict.Pass {
		t.Fatalf("verdict %+v", res.Verdict)
	}
	if res.Readiness.ReadyMin != 3 || res.StartupSeconds != 30 || res.MeasuredSeconds != 120 {
		t.Errorf("ready min %d, start-up %vs, measured %vs", res.Readiness.ReadyMin, res.StartupSeconds, res.MeasuredSeconds)
	}
	if res.Lease.SimulatorP99 == nil || res.Lease.APIServerP99 == nil {
		t.Errorf("lease latencies missing: %+v", res.Lease)
	}
	if len(res.Series.Intervals) != 8 {
		t.Errorf("%d interval points, want one per 15 s scrape", len(res.Series.Intervals))
	}
}

func TestAFalseNotReadyFailsTheSoak(t *testing.T) {
	res := runSoak(t, true)
	if res.Verdict.Pass || res.Readiness.FalseNotReady != 1 || !strings.Contains(res.Verdict.Reasons[0], "n-2") {
		t.Fatalf("verdict %+v, readiness %+v", res.Verdict, res.Readiness)
	}
	if res.Readiness.ReadyMin != 2 {
		t.Errorf("ready min %d, want 2", res.Readiness.ReadyMin)
	}
}

func TestAStartUpFailureFailsWithWhatWasRecorded(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	s := &Scenario{
		Options: Options{Rig: rig.Defaults(12000), Duration: time.Minute},
		Start: func(ctx context.Context, o rig.Options, con *lab.Console, _ func(lab.ReadyPoint, time.Duration) string) (*rig.Rig, error) {
			return rig.New(clk, fake.NewClientset()), errors.New("only 9000 of 12000 nodes Ready")
		},
	}
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}).(*Result)
	if res.Verdict.Pass || !strings.Contains(res.Verdict.Reasons[0], "did not reach 12000 Ready nodes: only 9000") {
		t.Errorf("verdict %+v", res.Verdict)
	}
}

func TestReportAndResultJSON(t *testing.T) {
	dir := t.TempDir()
	res := runSoak(t, true)
	path, err := lab.Write(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, want := range []string{"FAIL", "n-2", "Myriad soak: 3 nodes", "<polyline", "Ready simulated nodes", "Lease renewal p99", "etcd WAL writes", "1.0 MiB"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	var back map[string]any
	js, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	// test/e2e reads these.
	rd, _ := back["readiness"].(map[string]any)
	if rd["readyMin"] != 2.0 || back["lease"] == nil || back["scenario"] != "soak" {
		t.Errorf("result.json readiness %v, lease %v, scenario %v", rd, back["lease"], back["scenario"])
	}
	if rows := res.Rows(); rows[0][0] != "false NotReady" || rows[0][1] != "1" {
		t.Errorf("rows %v", rows)
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Rig: rig.Defaults(0), Duration: time.Minute}, "--nodes"},
		{Options{Rig: rig.Defaults(10)}, "--duration"},
		{Options{Rig: rig.Options{Nodes: 10}, Duration: time.Minute}, "--sample-interval"},
	} {
		if err := c.o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.o, err, c.want)
		}
	}
	if err := (Options{Rig: rig.Defaults(10), Duration: time.Minute}).Validate(); err != nil {
		t.Error(err)
	}
}
