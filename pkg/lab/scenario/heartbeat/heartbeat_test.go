package heartbeat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
	"github.com/myriad-dev/myriad/pkg/lab/scenario/soak"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// measured is mode's soak result over 10 minutes: WAL bytes per minute,
// API server cores, writes of bytesEach bytes.
func measured(mode string, walPerMin, cores, leaseWrites, statusWrites, bytesEach float64) Run {
	from, to := t0.Add(time.Minute), t0.Add(11*time.Minute)
	n := leaseWrites + statusWrites
	res := &soak.Result{
		RunInfo: lab.RunInfo{Scenario: "soak", StartedAt: t0, Verdict: lab.Verdict{Pass: true}},
		Nodes:   10000, StartupSeconds: 60, MeasuredFrom: &from, MeasuredTo: &to, MeasuredSeconds: 600,
		MeasuredProcesses: []lab.ProcSummary{{Name: "kube-apiserver", Cores: cores, RSSMaxBytes: 2 << 30}, {Name: "etcd", Cores: 0.2}},
		Etcd:              soak.EtcdSummary{WALBytesPerMinute: lab.Some(walPerMin), ProcWriteBytesPerMinute: lab.Some(12.0 * (1 << 20))},
		Heartbeat: &soak.HeartbeatWrites{LeaseWrites: leaseWrites, LeaseBytes: leaseWrites * bytesEach, StatusWrites: statusWrites, StatusBytes: statusWrites * bytesEach,
			WritesPerSecond: n / 600, BytesPerWrite: lab.Some(bytesEach), P99: lab.Some(0.02)},
		APIRequestsPerSecond: lab.Some(1200.0),
		Readiness:            lab.ReadinessSummary{ReadyMin: 10000, ReadyMax: 10000},
		Missing:              map[string]string{},
	}
	return Run{Mode: mode, Run: res, NodeObjectBytes: lab.Some(6000.0)}
}

func TestRatiosAndFigures(t *testing.T) {
	lease := measured("lease", 4<<20, 0.4, 60000, 0, 250)
	status := measured("status", 60<<20, 1.2, 0, 60000, 500)
	r := Build(Input{Info: lab.NewRunInfo(Name, lab.Machine{}, nil, t0), Nodes: 10000, Runs: []Run{lease, status}, StoppedAt: t0.Add(25 * time.Minute)})
	if !r.Verdict.Pass {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	if got := *r.Lease.BytesPerHeartbeat; got != 250 {
		t.Errorf("lease bytes per heartbeat %v, want 250", got)
	}
	if math.Abs(r.Lease.HeartbeatWritesPerSecond-100) > 0.01 {
		t.Errorf("heartbeat writes/s %v, want 100", r.Lease.HeartbeatWritesPerSecond)
	}
	for name, c := range map[string]struct {
		got  *float64
		want float64
	}{
		"etcd WAL":            {r.Ratio.EtcdWALBytesPerMinute, 15},
		"bytes per heartbeat": {r.Ratio.BytesPerHeartbeat, 2},
		"apiserver cores":     {r.Ratio.APIServerCores, 3},
		"etcd /proc":          {r.Ratio.EtcdProcWriteBytesPerMinute, 1},
	} {
		if c.got == nil || math.Abs(*c.got-c.want) > 0.01 {
			t.Errorf("ratio %s = %v, want %v", name, c.got, c.want)
		}
	}
	// The lead re-measures published figures from result.json: these keys.
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	ratio, _ := back["ratio"].(map[string]any)
	for _, k := range []string{"bytesPerHeartbeat", "apiserverCores", "etcdWALBytesPerMinute"} {
		if _, ok := ratio[k].(float64); !ok {
			t.Errorf("result.json ratio lacks %s: %v", k, ratio)
		}
	}
	rows := r.Rows()
	if rows[0][1] != "lease" || rows[3][0] != "Mean request bytes per heartbeat write" || rows[3][3] != "2.0×" {
		t.Errorf("rows %v", rows[:4])
	}
}

func TestARunThatDidNotReachItsSizeFailsTheComparison(t *testing.T) {
	lease := measured("lease", 4<<20, 0.4, 60000, 0, 250)
	status := Run{Mode: "status", Run: &soak.Result{
		RunInfo: lab.RunInfo{Verdict: lab.Verdict{Reasons: []string{"stopped early: the cluster did not reach 10000 Ready nodes: 412 Ready"}}},
		Missing: map[string]string{soak.FigureBytesPerHeartbeat: "the cluster was never measured"}}}
	r := Build(Input{Nodes: 10000, Runs: []Run{lease, status}})
	all := strings.Join(r.Verdict.Reasons, "\n")
	if r.Verdict.Pass || !strings.Contains(all, "status run: stopped early: the cluster did not reach") {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	if r.Ratio.EtcdWALBytesPerMinute != nil {
		t.Errorf("a ratio against an unmeasured run: %v", *r.Ratio.EtcdWALBytesPerMinute)
	}
	// A skipped run is named, not silently absent.
	r = Build(Input{Nodes: 10000, Runs: []Run{lease}, Skipped: []string{"status: interrupted"}})
	if r.Verdict.Pass || r.Status != nil || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "status run: not run") {
		t.Fatalf("verdict %+v", r.Verdict)
	}
	if rows := r.Rows(); rows[1][2] != "not run" {
		t.Errorf("row %v", rows[1])
	}
}

func TestAFalseNotReadyFailsTheComparison(t *testing.T) {
	lease := measured("lease", 4<<20, 0.4, 60000, 0, 250)
	status := measured("status", 60<<20, 1.2, 0, 60000, 500)
	status.Run.Readiness.FalseNotReady = 1
	status.Run.Verdict = lab.Verdict{Reasons: []string{"1 false NotReady transition(s) on 1 node(s)"}}
	r := Build(Input{Nodes: 10000, Runs: []Run{lease, status}})
	if r.Verdict.Pass || r.Status.FalseNotReady != 1 {
		t.Fatalf("pass=%v falseNotReady=%d", r.Verdict.Pass, r.Status.FalseNotReady)
	}
}

// A comparison figure that one run did not measure used to leave a nil
// ratio in a passing result (and a nil in the e2e check); it now fails
// the run and says which run lacks it and why.
func TestAMissingComparisonFigureIsNoData(t *testing.T) {
	lease := measured("lease", 4<<20, 0.4, 60000, 0, 250)
	status := measured("status", 60<<20, 1.2, 0, 60000, 500)
	status.Run.Heartbeat = nil
	status.Run.Missing[soak.FigureBytesPerHeartbeat] = "1 of 3 scrapes of the simulator succeeded, 2 are needed"
	lease.Run.MeasuredProcesses = nil
	r := Build(Input{Nodes: 10000, Runs: []Run{lease, status}})
	all := strings.Join(r.Verdict.Reasons, "\n")
	if r.Verdict.Pass {
		t.Fatal("a comparison without bytes per heartbeat passed")
	}
	for _, want := range []string{
		"no data: status/lease bytes per heartbeat (status run: 1 of 3 scrapes of the simulator succeeded",
		"no data: status/lease kube-apiserver CPU (lease run: no kube-apiserver process samples",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("reasons lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "etcd WAL") {
		t.Errorf("the WAL ratio was measured: %s", all)
	}
}

// Phase test: both clusters start and are measured in turn on their own
// data directories with their own heartbeat mode; with no metrics to
// scrape (a fake rig has none) the comparison fails as no data.
func TestRunsLeaseThenStatusAndFailsWithoutFigures(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	o := Options{Rig: rig.Defaults(2), Duration: 20 * time.Second, Images: 5, OutDir: "/out"}
	var started []rig.Options
	s := &Scenario{Options: o, Start: func(ctx context.Context, ro rig.Options, con *lab.Console, _ func(lab.ReadyPoint, time.Duration) string) (*rig.Rig, error) {
		started = append(started, ro)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "myriad-node-0", Labels: map[string]string{nodesim.SimulatedLabel: "true"}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
		r := rig.New(clk, fake.NewClientset(node))
		for i := range ro.Nodes {
			n := node.DeepCopy()
			n.Name = fmt.Sprintf("myriad-node-%d", i)
			r.Ready.Observe(n)
		}
		r.Ready.Sample()
		return r, nil
	}}
	done := make(chan lab.Result, 1)
	go func() { done <- s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}) }()
	var res *Result
	for res == nil {
		select {
		case r := <-done:
			res = r.(*Result)
		case <-time.After(time.Millisecond):
			if clk.HasWaiters() {
				clk.Step(5 * time.Second)
			}
		}
	}
	if len(started) != 2 || started[0].DataDir != "/out/lease" || started[1].DataDir != "/out/status" {
		t.Fatalf("started %+v", started)
	}
	if got := strings.Join(started[1].NodeArgs, " "); got != "--heartbeat-mode status --images 5" {
		t.Errorf("status run's node args %q", got)
	}
	if res.Lease == nil || res.Status == nil || res.Lease.NodeObjectBytes == nil {
		t.Fatalf("figures lease %+v status %+v", res.Lease, res.Status)
	}
	all := strings.Join(res.Verdict.Reasons, "\n")
	if res.Verdict.Pass || !strings.Contains(all, "no data: status/lease bytes per heartbeat (lease run: the simulator was not scraped") {
		t.Errorf("verdict %+v", res.Verdict)
	}
	dir := t.TempDir()
	path, err := lab.Write(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	for _, want := range []string{"FAIL", "Lease vs NodeStatus", "Processes, status run", "no data: status/lease bytes per heartbeat"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "result.json")); err != nil {
		t.Error(err)
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	ok := Options{Rig: rig.Defaults(10), Duration: time.Minute, Images: 20, OutDir: "/out"}
	for _, c := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Images = 51 }, "--images"},
		{func(o *Options) { o.Duration = 0 }, "--duration"},
		{func(o *Options) { o.Rig.Nodes = 0 }, "--nodes"},
		{func(o *Options) { o.Rig.DataDir = "/x" }, "--data-dir"},
	} {
		o := ok
		c.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want an error naming %s", err, c.want)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}
