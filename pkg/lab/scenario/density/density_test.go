package density

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/util/flowcontrol"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

func validOptions(t *testing.T) Options {
	o := Options{Rig: rig.Defaults(20), Pods: 250, Objects: 1000, Namespaces: 10, QPS: 10000, Workers: 4,
		Hold: time.Minute, PhaseTimeout: time.Minute, StallTimeout: time.Minute, ProbeInterval: time.Second,
		MinAvailableMemory: "0", OutDir: t.TempDir()}
	o.Rig.SampleInterval, o.Rig.ScrapeInterval = time.Second, time.Second
	return o
}

func TestOptionsNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		flag string
		set  func(*Options)
	}{
		{"--pods", func(o *Options) { o.Pods = 0 }},
		{"--nodes", func(o *Options) { o.Pods = 20*DefaultPodsPerNode + 1 }},
		{"--nodes", func(o *Options) { o.Rig.Nodes = 0 }},
		{"--deployments", func(o *Options) { o.Deployments = 251 }},
		{"--namespaces", func(o *Options) { o.Namespaces = 0 }},
		{"--pod-rate", func(o *Options) { o.PodRate = -1 }},
		{"--qps", func(o *Options) { o.QPS = 0 }},
		{"--min-available-memory", func(o *Options) { o.MinAvailableMemory = "lots" }},
		{"--scrape-interval", func(o *Options) { o.Rig.ScrapeInterval = 0 }},
	} {
		o := validOptions(t)
		c.set(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s: err = %v, want it to name %s", c.flag, err, c.flag)
		}
	}
	o := validOptions(t)
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	// 250 pods: one Deployment per 100 pods, namespaces capped to them.
	if o.Deployments != 3 || o.deploymentSize != 84 || o.Namespaces != 3 {
		t.Errorf("derived deployments %d of %d, namespaces %d; want 3 of 84, 3", o.Deployments, o.deploymentSize, o.Namespaces)
	}
}

// fakeRun is a run against a fake clientset on a fake clock, past its
// nodes phase.
func fakeRun(t *testing.T) (*run, *fake.Clientset, *clocktesting.FakeClock) {
	t.Helper()
	o := validOptions(t)
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	cs := fake.NewClientset()
	s := &Scenario{Options: o}
	d := s.newRun(lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)})
	d.id, d.cs, d.w, d.rig = "t1", cs, cs, rig.New(clk, cs)
	d.writes = flowcontrol.NewFakeAlwaysRateLimiter()
	d.namespaces = []string{"a", "b"}
	d.pods = lab.NewPodStartup(clk)
	d.api = &lab.APIRecorder{Clock: clk, Interval: time.Hour, Window: lab.SLOWindow}
	return d, cs, clk
}

func TestDeploymentsAddUpToThePods(t *testing.T) {
	d, cs, _ := fakeRun(t)
	var created atomic.Int64
	if err := d.createDeployments(context.Background(), &created); err != nil {
		t.Fatal(err)
	}
	total, perNS := 0, map[string]int{}
	for _, ns := range d.namespaces {
		l, err := cs.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, dep := range l.Items {
			total += int(*dep.Spec.Replicas)
			perNS[ns]++
			if dep.Spec.Template.Labels[RunLabel] != "t1" {
				t.Errorf("%s: pods would not carry the run label the watch selects", dep.Name)
			}
		}
	}
	if total != 250 || created.Load() != 250 || perNS["a"] != 2 || perNS["b"] != 1 {
		t.Errorf("replicas %d (counted %d), per namespace %v; want 250 over 3 Deployments, 2 in a, 1 in b", total, created.Load(), perNS)
	}
}

// fakeCount counts what the bench wrote to the fake clientset on top of
// base objects that were already there.
func fakeCount(cs *fake.Clientset, base int64) func(context.Context) (lab.ObjectCount, error) {
	return func(ctx context.Context) (lab.ObjectCount, error) {
		c := lab.ObjectCount{ByResource: map[string]int64{"nodes": base}, Total: base}
		cms, _ := cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{})
		secrets, _ := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
		svcs, _ := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		for name, n := range map[string]int{"configmaps": len(cms.Items), "secrets": len(secrets.Items), "services": len(svcs.Items)} {
			c.ByResource[name] = int64(n)
			c.Total += int64(n)
		}
		return c, nil
	}
}

func TestObjectsPhaseFillsToTheTarget(t *testing.T) {
	d, cs, _ := fakeRun(t)
	d.o.Objects = 250
	d.countObjects = fakeCount(cs, 100)
	if !d.objectsPhase(context.Background()) {
		t.Fatalf("objects phase failed: %+v", d.in.Phases)
	}
	c := d.in.Counts[len(d.in.Counts)-1]
	if c.Total != 250 || c.ByResource["configmaps"] != 50 || c.ByResource["secrets"] != 50 || c.ByResource["services"] != 50 {
		t.Errorf("last count = %+v, want 250: 150 written, a third of each kind", c)
	}
	if p := d.in.Phases[0]; p.Name != PhaseObjects || p.Err != nil || !strings.Contains(p.Reached, "250 objects") {
		t.Errorf("phase = %+v", p)
	}
	svcs, _ := cs.CoreV1().Services("a").List(context.Background(), metav1.ListOptions{})
	if len(svcs.Items) == 0 || svcs.Items[0].Spec.ClusterIP != "None" {
		t.Errorf("services = %+v, want headless ones", svcs.Items)
	}
}

func TestObjectsPhaseStopsWhenTheCountDoesNotGrow(t *testing.T) {
	d, cs, _ := fakeRun(t)
	d.o.Objects = 130
	stuck := fakeCount(cs, 0)
	// Something deletes as fast as the bench writes: the count stays put.
	d.countObjects = func(ctx context.Context) (lab.ObjectCount, error) {
		c, err := stuck(ctx)
		c.Total = 100
		return c, err
	}
	if d.objectsPhase(context.Background()) {
		t.Fatal("the phase passed though the count never reached the target")
	}
	p := d.in.Phases[0]
	if p.Err == nil || !strings.Contains(p.Err.Error(), "30 objects short after 3 rounds") {
		t.Errorf("phase error = %v", p.Err)
	}
}

func readyNode(name string, ready corev1.ConditionStatus, unschedulable bool, pods string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: unschedulable},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse(pods)},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
}

func TestReadyNodeRoomCountsSchedulableReadyNodes(t *testing.T) {
	cs := fake.NewClientset(readyNode("a", corev1.ConditionTrue, false, "110"), readyNode("b", corev1.ConditionTrue, false, "50"),
		readyNode("c", corev1.ConditionFalse, false, "110"), readyNode("d", corev1.ConditionTrue, true, "110"))
	ready, room, err := readyNodeRoom(context.Background(), cs)
	if err != nil || ready != 2 || room != 160 {
		t.Errorf("ready %d, room %d, err %v; want 2 nodes taking 160 pods", ready, room, err)
	}
	d, _, _ := fakeRun(t)
	d.cs = cs
	d.o.Rig.Nodes, d.o.Pods = 2, 161
	if _, err := d.checkNodes(context.Background()); err == nil || !strings.Contains(err.Error(), "--pods") {
		t.Errorf("161 pods on room for 160: err = %v, want one naming --pods", err)
	}
}

// `bench density --kubeconfig K --nodes 0` measures any number of Ready
// nodes, as its help says; only a started cluster needs a node.
func TestAttachedRunTakesAnyNumberOfNodes(t *testing.T) {
	o := validOptions(t)
	o.Rig.Kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(o.Rig.Kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o.Rig.Nodes, o.Pods = 0, 5000
	if err := o.Validate(); err != nil {
		t.Errorf("--kubeconfig with --nodes 0 and 5000 pods refused: %v", err)
	}
}
