package watchrestart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/labtest"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// fakeAPIs are two API servers that restart at once; a signal to one
// breaks every open watch stream (restart) when it is the one under test.
type fakeAPIs struct {
	clk     *testingclock.FakeClock
	mu      sync.Mutex
	signals []string
	broken  func(n int)
}

func (f *fakeAPIs) Count() int        { return 2 }
func (f *fakeAPIs) Name(i int) string { return fmt.Sprintf("kube-apiserver-%d", i) }
func (f *fakeAPIs) Ready(int) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}
func (f *fakeAPIs) Signal(name string, sig syscall.Signal) (int, error) {
	f.mu.Lock()
	f.signals = append(f.signals, name+" "+signalName(sig))
	f.mu.Unlock()
	if sig == syscall.SIGTERM {
		f.broken(4)
	}
	return 100, nil
}
func (f *fakeAPIs) WaitRestarted(context.Context, string, int, func(context.Context) error) (time.Time, error) {
	return f.clk.Now(), nil
}

// fakeCluster is a clientset whose namespaces get their default
// ServiceAccount at once and whose ConfigMap watches the test can break.
func fakeCluster() (*fake.Clientset, func(n int)) {
	cs := fake.NewClientset()
	cs.PrependReactor("get", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: a.GetNamespace()}}, nil
	})
	var mu sync.Mutex
	var open []*watch.RaceFreeFakeWatcher
	cs.PrependWatchReactor("configmaps", func(k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewRaceFreeFake()
		mu.Lock()
		open = append(open, w)
		mu.Unlock()
		return true, w, nil
	})
	// breakAll breaks the n watches the watchers open after they listed.
	breakAll := func(n int) {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			if len(open) >= n || time.Now().After(deadline) {
				break
			}
			mu.Unlock()
		}
		defer mu.Unlock()
		for _, w := range open {
			if !w.IsStopped() {
				w.Stop()
			}
		}
		open = nil
	}
	return cs, breakAll
}

func testOptions(t *testing.T) Options {
	o := Defaults()
	o.Objects, o.Watchers, o.ObjectBytes, o.ChurnRate = 20, 4, 16, 50
	o.Settle, o.Observe, o.Signal = 3*time.Second, 10*time.Minute, "TERM"
	o.Rig.DataDir = t.TempDir()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

// The whole run against a fake cluster: the objects are loaded, every API
// server is restarted once to warm its cache, the churn writes, the
// watchers sync, and the restart under test disrupts both halves, which
// come back; the result compares them.
func TestRunDisruptsBothHalvesAndSeesThemBack(t *testing.T) {
	cs, breakAll := fakeCluster()
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	apis := &fakeAPIs{clk: clk, broken: breakAll}
	s := New(testOptions(t))
	var started rig.Options
	s.start = func(_ context.Context, o rig.Options, _ *lab.Console) (*rig.Rig, apiServers, error) {
		started = o
		return rig.New(clk, cs), apis, nil
	}
	s.watcherClient = func(*rig.Rig) (kubernetes.Interface, error) { return cs, nil }
	stop := labtest.AutoStep(clk, 250*time.Millisecond, 2*time.Millisecond)
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}).(*Result)
	stop()

	if !res.Verdict.Pass {
		t.Fatalf("verdict %+v; want a pass", res.Verdict)
	}
	if started.Scheduler != "none" {
		t.Errorf("cluster started with scheduler %q; the scenario needs none", started.Scheduler)
	}
	want := []string{"kube-apiserver-0 SIGKILL", "kube-apiserver-1 SIGKILL", "kube-apiserver-0 SIGTERM"}
	if strings.Join(apis.signals, ",") != strings.Join(want, ",") {
		t.Errorf("signals %v; want every server warmed with SIGKILL, then server 0 restarted with SIGTERM", apis.signals)
	}
	if res.On.Disrupted != 2 || res.Off.Disrupted != 2 || res.On.Recovery.Count != 2 || res.Off.Recovery.Count != 2 {
		t.Errorf("disrupted on %d off %d, recovered on %d off %d; want 2 of each", res.On.Disrupted, res.Off.Disrupted, res.On.Recovery.Count, res.Off.Recovery.Count)
	}
	if res.Objects != 20 || res.Watchers != 4 || res.On.HeldObjects != 20 || !strings.Contains(res.Restarted, "kube-apiserver-0 of 2 (SIGTERM)") {
		t.Errorf("objects %d, watchers %d, held %d, restarted %q", res.Objects, res.Watchers, res.On.HeldObjects, res.Restarted)
	}
	if res.ChurnWritesPerSec == nil || *res.ChurnWritesPerSec <= 0 || res.ChurnErrors != 0 {
		t.Errorf("churn %v/s, %d errors; want writes and no errors", deref(res.ChurnWritesPerSec), res.ChurnErrors)
	}
	cms, _ := cs.CoreV1().ConfigMaps("wr-0001").List(context.Background(), metav1.ListOptions{})
	pool, _ := cs.CoreV1().ConfigMaps(churnNamespace).List(context.Background(), metav1.ListOptions{})
	if len(cms.Items) != 10 || len(pool.Items) != churnPool {
		t.Errorf("%d ConfigMaps in wr-0001, %d in the churn pool; want 10 and %d", len(cms.Items), len(pool.Items), churnPool)
	}
}

// A cluster that does not start still gives a result: it says where the
// run stopped and fails.
func TestRunThatCannotStartTheClusterFailsSayingSo(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Now())
	s := New(testOptions(t))
	s.start = func(context.Context, rig.Options, *lab.Console) (*rig.Rig, apiServers, error) {
		return nil, nil, errors.New("etcd did not start")
	}
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}).(*Result)
	if res.Verdict.Pass || !strings.Contains(res.Verdict.Reasons[0], "starting the cluster: etcd did not start") {
		t.Errorf("verdict %+v; want a failure naming the start-up", res.Verdict)
	}
}

// The churn patches the pool at its rate on the injected clock.
func TestChurnWritesThePoolAtItsRate(t *testing.T) {
	cs, _ := fakeCluster()
	clk := testingclock.NewFakeClock(time.Now())
	w := &run{o: testOptions(t), clk: clk, con: lab.NewConsole(io.Discard), rig: rig.New(clk, cs)}
	// The pool is made on a clock of its own: clk's only waiter is then
	// the churn's schedule.
	if err := rig.New(testingclock.NewFakeClock(time.Now()), cs).ConfigMaps(context.Background(), []string{churnNamespace}, churnPool, 8, 4, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.churn(ctx); close(done) }()
	for range 100 { // 2 s at 50/s
		for !clk.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		clk.Step(20 * time.Millisecond)
	}
	cancel()
	<-done
	if n := w.churnOK.Load(); n < 90 || n > 101 || w.churnKO.Load() != 0 {
		t.Errorf("%d churn writes (%d failed) in 2 s at 50/s; want about 100", n, w.churnKO.Load())
	}
	cm, _ := cs.CoreV1().ConfigMaps(churnNamespace).Get(context.Background(), "cm-000007", metav1.GetOptions{})
	if cm.Data["n"] == "" {
		t.Errorf("cm-000007 data %v; want the churn's patch", cm.Data)
	}
}
