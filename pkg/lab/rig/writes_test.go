package rig

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"
)

// A namespace is ready for pods only once its default ServiceAccount
// exists; Namespaces returns no earlier.
func TestNamespacesWaitForTheDefaultServiceAccount(t *testing.T) {
	cs := fake.NewClientset()
	r := New(clock.RealClock{}, cs)
	var made atomic.Bool
	go func() {
		time.Sleep(400 * time.Millisecond)
		made.Store(true)
		_, _ = cs.CoreV1().ServiceAccounts("bench").Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "bench"}}, metav1.CreateOptions{})
	}()
	if err := r.Namespaces(context.Background(), "bench"); err != nil {
		t.Fatal(err)
	}
	if !made.Load() {
		t.Fatal("Namespaces returned before the default ServiceAccount existed")
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "bench", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace not created: %v", err)
	}
	// Existing namespaces are fine.
	if err := r.Namespaces(context.Background(), "bench"); err != nil {
		t.Fatalf("second call: %v", err)
	}
}

func TestForEachStopsAtTheFirstErrorAndCountsWhatWasDone(t *testing.T) {
	boom := errors.New("boom")
	var last int
	err := ForEach(context.Background(), clock.RealClock{}, 100, 1, func(n int) { last = n }, func(_ context.Context, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || last != 10 {
		t.Fatalf("err %v, done %d; want boom after 10", err, last)
	}
	if err := ForEach(context.Background(), clock.RealClock{}, 50, 8, nil, func(context.Context, int) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// Paced keeps its schedule while calls are slow, and counts a slot as
// skipped when every allowed call is still out.
func TestPacedIsOpenLoop(t *testing.T) {
	var calls atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	skipped := Paced(ctx, clock.RealClock{}, 100, 1000, func(context.Context, int) {
		calls.Add(1)
		time.Sleep(100 * time.Millisecond) // ten times the interval
	})
	if n := calls.Load(); n < 25 || n > 55 || skipped != 0 {
		t.Errorf("%d calls, %d skipped in 0.5s at 100/s with slow calls; want ~50 and none skipped", n, skipped)
	}
	calls.Store(0)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	skipped = Paced(ctx2, clock.RealClock{}, 100, 2, func(context.Context, int) {
		calls.Add(1)
		time.Sleep(time.Second)
	})
	if calls.Load() != 2 || skipped < 20 {
		t.Errorf("%d calls, %d skipped with 2 in flight allowed; want 2 calls and the rest skipped", calls.Load(), skipped)
	}
}

func TestOptionsNameTheFlagToFix(t *testing.T) {
	ok := Defaults(10)
	for _, c := range []struct {
		name string
		mod  func(*Options)
		flag string
	}{
		{"negative nodes", func(o *Options) { o.Nodes = -1 }, "--nodes"},
		{"apiservers", func(o *Options) { o.APIServers = 0 }, "--apiservers"},
		{"port", func(o *Options) { o.Port = 70000 }, "--port"},
		{"etcd port", func(o *Options) { o.EtcdPort = 65535 }, "--etcd-port"},
		{"sample interval", func(o *Options) { o.SampleInterval = time.Millisecond }, "--sample-interval"},
		{"missing kubeconfig", func(o *Options) { o.Kubeconfig = "/nonexistent/kubeconfig" }, "--kubeconfig"},
	} {
		o := ok
		c.mod(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.flag)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	// Attached to any cluster, 0 nodes means "any number".
	att := Defaults(0)
	att.Kubeconfig = t.TempDir()
	if err := att.Validate(); err != nil {
		t.Errorf("attached with --nodes 0: %v", err)
	}
}

// WithTimeout ends with the injected clock, not the wall clock.
func TestWithTimeoutFollowsTheInjectedClock(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Now())
	ctx, cancel := WithTimeout(context.Background(), clk, time.Minute)
	defer cancel()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(59 * time.Second)
	select {
	case <-ctx.Done():
		t.Fatal("ended before its minute on the clock")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Step(time.Second)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("did not end when the clock reached its minute")
	}
}
