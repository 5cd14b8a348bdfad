package cli

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

func validDensityOptions() densityOptions {
	var o densityOptions
	o.cluster = soakOptions{nodes: 20, duration: time.Minute, out: "/tmp/x", grace: 40 * time.Second,
		readyTimeout: time.Minute, sampleInterval: time.Second, scrapeInterval: time.Second, apiservers: 1}
	o.pods, o.objects, o.namespaces, o.podRate, o.qps, o.workers = 250, 1000, 10, 0, 10000, 4
	o.phaseTimeout, o.stallTimeout, o.probeInterval, o.minAvailable = time.Minute, time.Minute, time.Second, "0"
	return o
}

func TestDensityOptionsNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		flag string
		set  func(*densityOptions)
	}{
		{"--out", func(o *densityOptions) { o.cluster.out = "" }},
		{"--pods", func(o *densityOptions) { o.pods = 0 }},
		{"--nodes", func(o *densityOptions) { o.pods = 20*defaultPodsPerNode + 1 }},
		{"--deployments", func(o *densityOptions) { o.deployments = 251 }},
		{"--namespaces", func(o *densityOptions) { o.namespaces = 0 }},
		{"--pod-rate", func(o *densityOptions) { o.podRate = -1 }},
		{"--qps", func(o *densityOptions) { o.qps = 0 }},
		{"--min-available-memory", func(o *densityOptions) { o.minAvailable = "lots" }},
		{"--data-dir", func(o *densityOptions) { o.kubeconfig, o.cluster.dataDir = "k", "d" }},
	} {
		o := validDensityOptions()
		c.set(&o)
		if err := o.validate(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s: err = %v, want it to name %s", c.flag, err, c.flag)
		}
	}
	o := validDensityOptions()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	// 250 pods: one Deployment per 100 pods, namespaces capped to them.
	if o.deployments != 3 || o.deploymentSize != 84 || o.namespaces != 3 {
		t.Errorf("derived deployments %d of %d, namespaces %d; want 3 of 84, 3", o.deployments, o.deploymentSize, o.namespaces)
	}
}

func fakeDensityRun(t *testing.T) (*densityRun, *fake.Clientset) {
	t.Helper()
	o := validDensityOptions()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset()
	return &densityRun{o: o, con: lab.NewConsole(io.Discard), id: "t1", cs: cs, calls: &lab.ClientTimings{},
		writes: flowcontrol.NewFakeAlwaysRateLimiter(), namespaces: []string{"a", "b"},
		pods: lab.NewPodStartup(clock.RealClock{}), api: &lab.APIRecorder{Clock: clock.RealClock{}, Interval: time.Hour}}, cs
}

func TestDensityDeploymentsAddUpToThePods(t *testing.T) {
	d, cs := fakeDensityRun(t)
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
			if dep.Spec.Template.Labels[densityRunLabel] != "t1" {
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

func TestDensityObjectsPhaseFillsToTheTarget(t *testing.T) {
	d, cs := fakeDensityRun(t)
	d.o.objects = 250
	d.countObjects = fakeCount(cs, 100)
	if !d.objectsPhase(context.Background()) {
		t.Fatalf("objects phase failed: %+v", d.in.Phases)
	}
	c := d.in.Counts[len(d.in.Counts)-1]
	if c.Total != 250 || c.ByResource["configmaps"] != 50 || c.ByResource["secrets"] != 50 || c.ByResource["services"] != 50 {
		t.Errorf("last count = %+v, want 250: 150 written, a third of each kind", c)
	}
	if p := d.in.Phases[0]; p.Name != lab.PhaseObjects || p.Err != nil || !strings.Contains(p.Reached, "250 objects") {
		t.Errorf("phase = %+v", p)
	}
	svcs, _ := cs.CoreV1().Services("a").List(context.Background(), metav1.ListOptions{})
	if len(svcs.Items) == 0 || svcs.Items[0].Spec.ClusterIP != "None" {
		t.Errorf("services = %+v, want headless ones", svcs.Items)
	}
}

func TestDensityObjectsPhaseStopsWhenTheCountDoesNotGrow(t *testing.T) {
	d, cs := fakeDensityRun(t)
	d.o.objects = 130
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

func TestReadyNodeRoomCountsSchedulableReadyNodes(t *testing.T) {
	node := func(name string, ready corev1.ConditionStatus, unschedulable bool, pods string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: unschedulable},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse(pods)},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
	}
	cs := fake.NewClientset(node("a", corev1.ConditionTrue, false, "110"), node("b", corev1.ConditionTrue, false, "50"),
		node("c", corev1.ConditionFalse, false, "110"), node("d", corev1.ConditionTrue, true, "110"))
	ready, room, err := readyNodeRoom(context.Background(), cs)
	if err != nil || ready != 2 || room != 160 {
		t.Errorf("ready %d, room %d, err %v; want 2 nodes taking 160 pods", ready, room, err)
	}
	d, _ := fakeDensityRun(t)
	d.cs = cs
	d.o.cluster.nodes, d.o.pods = 2, 161
	if _, err := d.checkNodes(context.Background()); err == nil || !strings.Contains(err.Error(), "--pods") {
		t.Errorf("161 pods on room for 160: err = %v, want one naming --pods", err)
	}
}
