package longread

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/labtest"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

func fakeClientset() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("get", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: a.GetNamespace()}}, nil
	})
	return cs
}

// fakeReads are long reads that take 100 ms of the fake clock each and
// return 1 KiB per object; the etcd reader also counts objects.
type fakeReads struct {
	clk   *testingclock.FakeClock
	mu    sync.Mutex
	kinds map[string]int
}

func (f *fakeReads) read(ctx context.Context, _ int, kind string) (int64, int64, error) {
	f.mu.Lock()
	f.kinds[kind]++
	f.mu.Unlock()
	select {
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-f.clk.After(100 * time.Millisecond):
	}
	if kind == EtcdRange {
		return 20 << 10, 20, nil
	}
	return 20 << 10, 0, nil
}

func testScenario(t *testing.T, cs *fake.Clientset, clk *testingclock.FakeClock, reads *fakeReads) *Scenario {
	o := Defaults()
	o.Objects, o.ObjectBytes, o.Namespaces, o.PhaseDuration, o.WriteRate, o.WritePool = 20, 16, 2, 5*time.Second, 20, 5
	o.Rig.DataDir = t.TempDir()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	s := New(o)
	s.start = func(context.Context, rig.Options, *lab.Console) (*rig.Rig, error) { return rig.New(clk, cs), nil }
	s.connect = func(*rig.Rig, int, *lab.Console) (*conns, error) {
		return &conns{writer: cs, read: reads.read, scrape: func(context.Context) serverScrape { return nil }, close: func() {}}, nil
	}
	return s
}

// Every phase runs for its length on the injected clock: writes at the
// rate in each, reads of the phase's kind in the read phases only.
func TestRunTimesWritesInEveryPhaseAndReadsInTheReadPhases(t *testing.T) {
	cs, clk := fakeClientset(), testingclock.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	reads := &fakeReads{clk: clk, kinds: map[string]int{}}
	s := testScenario(t, cs, clk, reads)
	stop := labtest.AutoStep(clk, 10*time.Millisecond, 500*time.Microsecond)
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}).(*Result)
	stop()

	// Latencies on a clock stepped while calls run are not the point
	// here (a slow test machine can break the SLO); every figure must be
	// there and the run must have finished.
	for _, r := range res.Verdict.Reasons {
		if strings.Contains(r, "no data") || strings.Contains(r, "stopped early") {
			t.Fatalf("verdict %+v; want every phase measured", res.Verdict)
		}
	}
	var names []string
	for _, p := range res.Phases {
		names = append(names, p.Name)
		// 5 s at 20/s; the schedule may catch up a slot at either end.
		if p.Writes.Count < 95 || p.Writes.Count > 102 || p.WriteErrors != 0 {
			t.Errorf("%s: %d writes (%d failed) in 5 s at 20/s; want about 100", p.Name, p.Writes.Count, p.WriteErrors)
		}
		// It ends once the writes and reads in flight have returned,
		// while the test's clock keeps moving; its start is stamped a
		// moment after the phase's timer starts, and the figure is
		// rounded, so a loaded machine may report 4.99.
		if p.Seconds < 4.9 || p.Seconds > 10 {
			t.Errorf("%s lasted %v s; want 5", p.Name, p.Seconds)
		}
		if (p.Kind == Baseline) != (p.Reads.Count == 0) {
			t.Errorf("%s: %d reads; want reads in the read phases only", p.Name, p.Reads.Count)
		}
	}
	if got := strings.Join(names, ","); got != "baseline,list-cache,list-consistent,etcd-range,baseline-2" {
		t.Errorf("phases %s", got)
	}
	if reads.kinds[Cache] == 0 || reads.kinds[Consistent] == 0 || reads.kinds[EtcdRange] == 0 || reads.kinds[Baseline] != 0 {
		t.Errorf("reads by kind %v", reads.kinds)
	}
	if deref(res.Phases[3].ObjectsPerRead) != 20.0 || deref(res.Phases[1].BytesPerRead) != float64(20<<10) {
		t.Errorf("etcd objects per read %v, list-cache bytes per read %v", deref(res.Phases[3].ObjectsPerRead), deref(res.Phases[1].BytesPerRead))
	}
	data, _ := cs.CoreV1().ConfigMaps("lr-data-001").List(context.Background(), metav1.ListOptions{})
	pool, _ := cs.CoreV1().ConfigMaps(writesNamespace).Get(context.Background(), "cm-000004", metav1.GetOptions{})
	if len(data.Items) != 10 || pool == nil || pool.Data["n"] == "" {
		t.Errorf("%d objects in lr-data-001, written ConfigMap %v; want 10 and a patched pool", len(data.Items), pool)
	}
}

// A writer whose every write fails gives phases without a write latency:
// the run fails with no data instead of passing the SLO.
func TestRunWhoseWritesAllFailHasNoData(t *testing.T) {
	cs, clk := fakeClientset(), testingclock.NewFakeClock(time.Now())
	cs.PrependReactor("patch", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcdserver: request timed out")
	})
	s := testScenario(t, cs, clk, &fakeReads{clk: clk, kinds: map[string]int{}})
	stop := labtest.AutoStep(clk, 10*time.Millisecond, 500*time.Microsecond)
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}).(*Result)
	stop()
	reasons := strings.Join(res.Verdict.Reasons, ";")
	if res.Verdict.Pass || !strings.Contains(reasons, "no data: baseline: write latency (all") || len(res.Phases) != 5 {
		t.Errorf("verdict %+v, %d phases; want no data for every phase's writes", res.Verdict, len(res.Phases))
	}
}

// An interrupt between phases keeps the phases that ran and fails saying
// where it stopped and which phases have no data.
func TestRunInterruptedKeepsWhatRan(t *testing.T) {
	cs, clk := fakeClientset(), testingclock.NewFakeClock(time.Now())
	reads := &fakeReads{clk: clk, kinds: map[string]int{}}
	s := testScenario(t, cs, clk, reads)
	ctx, cancel := context.WithCancel(context.Background())
	con := lab.NewConsole(&cancelOn{text: "phase 2/5", cancel: cancel})
	stop := labtest.AutoStep(clk, 10*time.Millisecond, 500*time.Microsecond)
	res := s.Run(ctx, lab.Env{Clock: clk, Console: con}).(*Result)
	stop()
	reasons := strings.Join(res.Verdict.Reasons, ";")
	if res.Verdict.Pass || len(res.Phases) != 2 || !strings.Contains(reasons, "stopped early: interrupted before phase 3 (list-consistent)") ||
		!strings.Contains(reasons, "no data: baseline-2: write latency (the phase did not run)") {
		t.Errorf("verdict %+v, %d phases; want a failure after 2 phases naming the missing ones", res.Verdict, len(res.Phases))
	}
}

// cancelOn cancels when the console prints text.
type cancelOn struct {
	text   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.text) {
		c.cancel()
	}
	return len(p), nil
}
