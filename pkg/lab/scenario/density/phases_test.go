package density

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// withServiceAccounts makes the fake clientset act as the serviceaccount
// controller: each namespace gets its default ServiceAccount.
func withServiceAccounts(cs *fake.Clientset) {
	cs.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ns := a.(k8stesting.CreateAction).GetObject().(*corev1.Namespace)
		_ = cs.Tracker().Add(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns.Name}})
		return false, nil, nil
	})
}

// runUntil steps the fake clock until f returns, as the real clock would
// move while a phase runs.
func runUntil[T any](clk *clocktesting.FakeClock, step time.Duration, f func() T) T {
	done := make(chan T, 1)
	go func() { done <- f() }()
	for {
		select {
		case v := <-done:
			return v
		case <-time.After(time.Millisecond):
			clk.Step(step)
		}
	}
}

// Attached to a cluster of 3 Ready nodes with --nodes 0, the nodes phase
// checks the nodes, creates the run's labelled namespaces and the probe's
// ConfigMap, and lets the run go on.
func TestNodesPhaseAttached(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	cs := fake.NewClientset(readyNode("a", corev1.ConditionTrue, false, "110"), readyNode("b", corev1.ConditionTrue, false, "110"),
		readyNode("c", corev1.ConditionTrue, false, "110"))
	withServiceAccounts(cs)
	o := validOptions(t)
	o.Rig.Kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(o.Rig.Kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o.Rig.Nodes = 0
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &Scenario{Options: o, StartRig: func(context.Context, lab.Env, rig.Options, func(lab.ReadyPoint, time.Duration) string) (*rig.Rig, error) {
		return rig.New(clk, cs), nil
	}}
	d := s.newRun(lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)})
	if !d.nodesPhase(context.Background(), s.StartRig) {
		t.Fatalf("nodes phase failed: %+v", d.in.Phases)
	}
	defer d.stopRecording()
	p := d.in.Phases[0]
	if p.Name != PhaseNodes || p.Reached != "3 Ready nodes (at least 0 asked)" || d.in.ReadyNodes != 3 {
		t.Errorf("phase = %+v, ready %d", p, d.in.ReadyNodes)
	}
	nss, _ := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: RunLabel + "=" + d.id})
	if len(nss.Items) != 1+3 { // the probe's and one per Deployment (250 pods: 3)
		t.Errorf("%d namespaces labelled with the run, want 4", len(nss.Items))
	}
	if _, err := cs.CoreV1().ConfigMaps(d.probeNS).Get(context.Background(), "probe", metav1.GetOptions{}); err != nil {
		t.Errorf("no probe ConfigMap: %v", err)
	}
}

// The pods phase ends when the watch has seen every pod Running.
func TestPodsPhaseEndsWhenEveryPodRuns(t *testing.T) {
	d, cs, clk := fakeRun(t)
	go func() {
		for i := 0; ; i++ {
			l, _ := cs.AppsV1().Deployments("").List(context.Background(), metav1.ListOptions{})
			if len(l.Items) == d.o.Deployments {
				for j := range d.o.Pods {
					d.pods.Observe(trackedPod(j, clk.Now(), "n1", corev1.PodRunning))
				}
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if !runUntil(clk, 100*time.Millisecond, func() bool { return d.podsPhase(context.Background()) }) {
		t.Fatalf("pods phase failed: %+v", d.in.Phases)
	}
	if p := d.in.Phases[0]; p.Reached != "250 of 250 pods Running" {
		t.Errorf("reached %q", p.Reached)
	}
}

// Pods that never run stop the phase after --phase-timeout on the run's
// clock, saying how far it got.
func TestPodsPhaseTimesOut(t *testing.T) {
	d, _, clk := fakeRun(t)
	d.o.StallTimeout = time.Hour
	ok := runUntil(clk, 5*time.Second, func() bool { return d.podsPhase(context.Background()) })
	if ok {
		t.Fatal("pods phase passed with no pod Running")
	}
	if err := d.in.Phases[0].Err; err == nil || !strings.Contains(err.Error(), "0 of 250 pods Running") || !strings.Contains(err.Error(), "--phase-timeout 1m0s") {
		t.Errorf("err = %v, want how far it got and --phase-timeout", err)
	}
}

// The hold phase holds for --duration on the run's clock, then counts the
// objects once more.
func TestHoldPhaseHoldsForTheDuration(t *testing.T) {
	d, cs, clk := fakeRun(t)
	d.countObjects = fakeCount(cs, 42)
	began := clk.Now()
	if !runUntil(clk, time.Second, func() bool { return d.holdPhase(context.Background()) }) {
		t.Fatalf("hold phase failed: %+v", d.in.Phases)
	}
	p := d.in.Phases[0]
	if held := p.To.Sub(began); held < time.Minute || !strings.HasPrefix(p.Reached, "held 1m") {
		t.Errorf("held %s (%q), want the 1m --duration", held, p.Reached)
	}
	if n := len(d.in.Counts); n != 1 || d.in.Counts[0].Phase != PhaseHold || d.in.Counts[0].Total != 42 {
		t.Errorf("counts = %+v, want one at the end of the hold", d.in.Counts)
	}
}

func TestProgressRates(t *testing.T) {
	for _, c := range []struct {
		done    int
		elapsed time.Duration
		want    string
	}{{0, 0, "-"}, {100, 500 * time.Millisecond, "-"}, {900, 10 * time.Second, "90/s"}, {0, time.Minute, "0/s"}} {
		if got := perSecond(c.done, c.elapsed); got != c.want {
			t.Errorf("perSecond(%d, %s) = %q, want %q", c.done, c.elapsed, got, c.want)
		}
	}
}
