package scheduler

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

func node(name, cpu string) *v1.Node {
	alloc := v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse("64Gi"), v1.ResourcePods: resource.MustParse("110")}
	return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: v1.NodeStatus{Capacity: alloc, Allocatable: alloc}}
}

func podRequesting(name, cpu string) *v1.Pod {
	p := pendingPod(name, 0, time.Now())
	p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = resource.MustParse(cpu)
	return p
}

// cluster is a fake API server whose pods/binding sets spec.nodeName, as
// the real one does; bindHook may refuse a Binding first.
type cluster struct {
	cs       *fake.Clientset
	binds    atomic.Int32
	mu       sync.Mutex
	bindHook func(b *v1.Binding) error
}

func newCluster(t *testing.T, objs ...runtime.Object) *cluster {
	c := &cluster{cs: fake.NewClientset(objs...)}
	c.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*v1.Binding)
		c.binds.Add(1)
		c.mu.Lock()
		hook := c.bindHook
		c.mu.Unlock()
		if hook != nil {
			if err := hook(b); err != nil {
				return true, nil, err
			}
		}
		obj, err := c.cs.Tracker().Get(podsGVR, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*v1.Pod).DeepCopy()
		if pod.Spec.NodeName != "" {
			return true, nil, apierrors.NewConflict(podsGVR.GroupResource(), b.Name, nil)
		}
		pod.Spec.NodeName = b.Target.Name
		return true, b, c.cs.Tracker().Update(podsGVR, pod, b.Namespace)
	})
	return c
}

func (c *cluster) setBindHook(h func(b *v1.Binding) error) {
	c.mu.Lock()
	c.bindHook = h
	c.mu.Unlock()
}

// start runs a scheduler on c until the test ends.
func (c *cluster) start(t *testing.T, le bool) *Scheduler {
	t.Helper()
	cfg := Config{Core: core.DefaultConfig(), Binders: 4}
	if le {
		cfg.LeaderElection = DefaultLeaderElection()
	}
	return c.startWith(t, cfg)
}

func (c *cluster) startWith(t *testing.T, cfg Config) *Scheduler {
	t.Helper()
	s, err := New(c.cs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	eventually(t, "informers synced", s.Ready)
	return s
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *cluster) pod(t *testing.T, name string) *v1.Pod {
	t.Helper()
	p, err := c.cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (c *cluster) create(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch o := obj.(type) {
	case *v1.Pod:
		_, err = c.cs.CoreV1().Pods(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
	case *v1.Node:
		_, err = c.cs.CoreV1().Nodes().Create(context.Background(), o, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestPodIsBoundThroughTheAPI(t *testing.T) {
	c := newCluster(t, node("n1", "4"), node("n2", "4"))
	s := c.start(t, true)
	eventually(t, "leadership", s.Leader)
	c.create(t, podRequesting("web", "1"))
	eventually(t, "pod bound", func() bool { return c.pod(t, "web").Spec.NodeName != "" })
	var bindings []*v1.Binding
	for _, a := range c.cs.Actions() {
		if a.GetVerb() == "create" && a.GetSubresource() == "binding" {
			bindings = append(bindings, a.(k8stesting.CreateAction).GetObject().(*v1.Binding))
		}
	}
	if len(bindings) != 1 || bindings[0].Name != "web" || bindings[0].UID != "uid-web" || bindings[0].Target.Kind != "Node" {
		t.Fatalf("bindings %+v, want one for web with its UID and a Node target", bindings)
	}
	// kube-scheduler's Scheduled event, word for word.
	want := "Successfully assigned default/web to " + bindings[0].Target.Name
	eventually(t, "Scheduled event", func() bool {
		evs, err := c.cs.EventsV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Reason == "Scheduled" && e.Action == "Binding" && e.Regarding.Name == "web" && e.Note == want && e.Type == v1.EventTypeNormal {
				return true
			}
		}
		return false
	})
	// The informer's bound pod confirms the assumption.
	eventually(t, "assumption confirmed", func() bool { return !s.Core().IsAssumed(c.pod(t, "web")) })
	if _, err := c.cs.CoordinationV1().Leases("kube-system").Get(context.Background(), "myriad-scheduler", metav1.GetOptions{}); err != nil {
		t.Fatalf("leader Lease: %v", err)
	}
}

func TestUnschedulablePodIsReportedAndRetriedWhenANodeIsAdded(t *testing.T) {
	c := newCluster(t, node("small", "2"))
	s := c.start(t, false)
	c.create(t, podRequesting("big", "16"))
	var cond v1.PodCondition
	eventually(t, "PodScheduled=False", func() bool {
		for _, pc := range c.pod(t, "big").Status.Conditions {
			if pc.Type == v1.PodScheduled {
				cond = pc
				return true
			}
		}
		return false
	})
	// kube-scheduler's words, preemption's verdict included.
	want := "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
	if cond.Status != v1.ConditionFalse || cond.Reason != v1.PodReasonUnschedulable || cond.Message != want {
		t.Fatalf("condition %+v, want False/Unschedulable/%q", cond, want)
	}
	eventually(t, "FailedScheduling event", func() bool {
		evs, err := c.cs.EventsV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Reason == "FailedScheduling" && e.Regarding.Name == "big" && e.Note == want && e.Type == v1.EventTypeWarning {
				return true
			}
		}
		return false
	})
	eventually(t, "pod parked", func() bool { _, _, p, _ := s.Queue().Lengths(); return p == 1 })

	c.create(t, node("large", "32"))
	eventually(t, "pod bound after the node came", func() bool { return c.pod(t, "big").Spec.NodeName == "large" })
}

func TestBindingConflictForgetsAndRetries(t *testing.T) {
	c := newCluster(t, node("n1", "4"))
	var refused atomic.Bool
	c.setBindHook(func(b *v1.Binding) error {
		if refused.CompareAndSwap(false, true) {
			return apierrors.NewConflict(podsGVR.GroupResource(), b.Name, nil)
		}
		return nil
	})
	s := c.start(t, false)
	c.create(t, podRequesting("web", "3"))
	// Had the first reservation not been forgotten, 3+3 cpu would not fit
	// on 4 and the retry would find the pod unschedulable.
	eventually(t, "pod bound on retry", func() bool { return c.pod(t, "web").Spec.NodeName == "n1" })
	if n := c.binds.Load(); n != 2 {
		t.Fatalf("%d Binding requests, want 2 (refused, then accepted)", n)
	}
	eventually(t, "assumption confirmed", func() bool { return !s.Core().IsAssumed(c.pod(t, "web")) })
}

func TestPodBoundBySomeoneElseIsDropped(t *testing.T) {
	c := newCluster(t, node("n1", "4"), node("n2", "4"))
	c.setBindHook(func(b *v1.Binding) error {
		// Another scheduler won the race: the pod is on n2 already.
		obj, err := c.cs.Tracker().Get(podsGVR, b.Namespace, b.Name)
		if err != nil {
			return err
		}
		pod := obj.(*v1.Pod).DeepCopy()
		pod.Spec.NodeName = "other"
		if err := c.cs.Tracker().Update(podsGVR, pod, b.Namespace); err != nil {
			return err
		}
		return apierrors.NewConflict(podsGVR.GroupResource(), b.Name, nil)
	})
	s := c.start(t, false)
	c.create(t, podRequesting("web", "1"))
	eventually(t, "binding attempted", func() bool { return c.binds.Load() == 1 })
	eventually(t, "queue empty", func() bool { return lengths(s.Queue()) == [4]int{} })
	time.Sleep(1500 * time.Millisecond) // longer than a backoff: no retry comes
	if n := c.binds.Load(); n != 1 {
		t.Fatalf("%d Binding requests, want 1: a pod bound elsewhere is not retried", n)
	}
	if got := c.pod(t, "web").Spec.NodeName; got != "other" {
		t.Fatalf("pod on %q, want other", got)
	}
}

// TestWorkloadInformersFeedDefaultSpreading: with its ReplicaSet or a
// Service selecting it known, a replica goes to the node without siblings
// (kube's system-default spreading) although the other node has more cpu
// left; with neither, resources alone decide. This checks the informer
// wiring the core's spreading depends on.
func TestWorkloadInformersFeedDefaultSpreading(t *testing.T) {
	replica := func(name, nodeName string) *v1.Pod {
		p := podRequesting(name, "100m")
		p.Labels = map[string]string{"app": "web"}
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "uid-rs", Controller: ptr.To(true)}}
		p.Spec.NodeName = nodeName
		return p
	}
	for _, tc := range []struct {
		name                string
		replicaSet, service bool
		want                string
	}{
		{"ReplicaSet known: spread", true, false, "n2"},
		{"Service known: spread", false, true, "n2"},
		{"neither: least allocated", false, false, "n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := podRequesting("other", "400m")
			other.Spec.NodeName = "n2"
			objs := []runtime.Object{node("n1", "4"), node("n2", "4"), replica("web-1", "n1"), replica("web-2", "n1"), other}
			if tc.replicaSet {
				objs = append(objs, &appsv1.ReplicaSet{
					ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-rs"},
					Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
				})
			}
			if tc.service {
				objs = append(objs, &v1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
					Spec:       v1.ServiceSpec{Selector: map[string]string{"app": "web"}},
				})
			}
			c := newCluster(t, objs...)
			c.start(t, false)
			c.create(t, replica("web-3", ""))
			eventually(t, "web-3 bound", func() bool { return c.pod(t, "web-3").Spec.NodeName != "" })
			if got := c.pod(t, "web-3").Spec.NodeName; got != tc.want {
				t.Errorf("web-3 bound to %s, want %s", got, tc.want)
			}
		})
	}
}
