package scheduler

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	k8stesting "k8s.io/client-go/testing"
	testclock "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

var (
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	podsGVR = corev1.SchemeGroupVersion.WithResource("pods")
)

// cluster is a fake API server: the admin's clientset holds the objects;
// the scheduler identity's clientset is a second fake whose bindings land
// in the admin's store, so the bench's watch sees them, while each
// clientset records only its own requests.
type cluster struct {
	admin, sched *fake.Clientset
	clk          *testclock.FakeClock
	// release, if not nil, holds every Scheduled event write of the
	// scheduler identity until closed; eventsIn counts those that arrived.
	release  chan struct{}
	eventsIn atomic.Int64
	// flow is what the fake APF names for the scheduler identity's
	// requests.
	tally *flowTally
	// idleCores is what a fake scheduler burns once it has bound every
	// pod; boundAll, if not nil, is closed then (one scheduler phase).
	idleCores float64
	boundAll  chan struct{}
}

func newCluster(t *testing.T, nodes int) *cluster {
	t.Helper()
	objs := []runtime.Object{&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: Namespace}}}
	for i := range nodes {
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i), Labels: map[string]string{"nodes.myriad.dev/simulated": "true"}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")}}})
	}
	c := &cluster{admin: fake.NewClientset(objs...), sched: fake.NewClientset(), clk: testclock.NewFakeClock(t0), tally: &flowTally{}}
	c.admin.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		return true, nil, c.bind(a.(k8stesting.CreateAction).GetObject().(*corev1.Binding))
	})
	c.sched.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		c.tally.add(Flow{"fs-uid", "pl-uid"})
		return true, nil, c.bind(a.(k8stesting.CreateAction).GetObject().(*corev1.Binding))
	})
	c.sched.PrependReactor("create", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		c.tally.add(Flow{"fs-uid", "pl-uid"})
		return false, nil, nil // stored by the tracker
	})
	return c
}

// binder is the schedulers' identity's client, whose Scheduled event
// writes wait for release (a reactor cannot wait: it holds the fake's lock).
func (c *cluster) binder() kubernetes.Interface { return heldEvents{c.sched, c} }

type heldEvents struct {
	*fake.Clientset
	c *cluster
}

func (h heldEvents) EventsV1() eventsv1client.EventsV1Interface {
	return heldEventsV1{h.Clientset.EventsV1(), h.c}
}

type heldEventsV1 struct {
	eventsv1client.EventsV1Interface
	c *cluster
}

func (h heldEventsV1) Events(ns string) eventsv1client.EventInterface {
	return heldEventWrites{h.EventsV1Interface.Events(ns), h.c}
}

type heldEventWrites struct {
	eventsv1client.EventInterface
	c *cluster
}

func (h heldEventWrites) Create(ctx context.Context, ev *eventsv1.Event, o metav1.CreateOptions) (*eventsv1.Event, error) {
	if ev.Name != "myriad-bench-apf-probe" {
		h.c.eventsIn.Add(1)
		if h.c.release != nil {
			<-h.c.release
		}
	}
	return h.EventInterface.Create(ctx, ev, o)
}

// bind does what the API server does with a Binding.
func (c *cluster) bind(b *corev1.Binding) error {
	obj, err := c.admin.Tracker().Get(podsGVR, b.Namespace, b.Name)
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod).DeepCopy()
	if pod.Spec.NodeName != "" {
		return apierrors.NewConflict(podsGVR.GroupResource(), b.Name, fmt.Errorf("already bound to %s", pod.Spec.NodeName))
	}
	pod.Spec.NodeName = b.Target.Name
	return c.admin.Tracker().Update(podsGVR, pod, b.Namespace)
}

// actions counts a clientset's requests of verb on resource/subresource.
func actions(cs *fake.Clientset, verb, resource, sub string) int {
	n := 0
	for _, a := range cs.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource && a.GetSubresource() == sub {
			n++
		}
	}
	return n
}

// fakeScheduler binds every unbound pod of the bench's namespace as the
// schedulers' identity, one second of fake time after it starts.
type fakeScheduler struct {
	c    *cluster
	name string
	stop chan struct{}
	done sync.WaitGroup
	// boundAt is when it bound the last pod; from then on it uses
	// c.idleCores of CPU.
	boundAt atomic.Pointer[time.Time]
}

func (c *cluster) startScheduler(_ context.Context, kind string, order int) (schedProcess, error) {
	s := &fakeScheduler{c: c, name: fmt.Sprintf("%s-scheduler-%d", kind, order), stop: make(chan struct{})}
	s.done.Go(func() {
		c.clk.Step(time.Second)
		pods, err := c.admin.Tracker().List(podsGVR, corev1.SchemeGroupVersion.WithKind("Pod"), Namespace)
		if err != nil {
			panic(err)
		}
		for i, p := range pods.(*corev1.PodList).Items {
			if p.Spec.NodeName == "" && p.Spec.SchedulerName == schedulerName {
				b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: Namespace}, Target: corev1.ObjectReference{Kind: "Node", Name: fmt.Sprintf("n%d", i%3)}}
				if err := c.sched.CoreV1().Pods(Namespace).Bind(context.Background(), b, metav1.CreateOptions{}); err != nil {
					panic(err)
				}
			}
		}
		s.boundAt.Store(new(c.clk.Now()))
		if c.boundAll != nil {
			close(c.boundAll)
		}
	})
	return s, nil
}

func (s *fakeScheduler) Name() string { return s.name }
func (s *fakeScheduler) Sample() (lab.ProcSample, error) {
	cpu := 0.5
	if at := s.boundAt.Load(); at != nil {
		cpu += s.c.idleCores * s.c.clk.Since(*at).Seconds()
	}
	return lab.ProcSample{PID: 42, CPUSeconds: cpu, RSSBytes: 64 << 20}, nil
}
func (s *fakeScheduler) Events() []string { return nil }
func (s *fakeScheduler) Log() string      { return "fake.log" }
func (s *fakeScheduler) Stop()            { s.done.Wait() }
func (s *fakeScheduler) Profile() string  { return "" }

// scenario is the scenario against c, with the schedulers' identity's
// requests named kube-scheduler / workload-high by APF.
func (c *cluster) scenario(order string, pods int) *Scenario {
	o := Options{Rig: rig.Defaults(3), Pods: pods, PhaseTimeout: time.Hour, CreateWorkers: 4, Binders: pods, CeilingEvents: true, Order: order}
	s := New(o)
	s.startRig = func(context.Context, rig.Options, *lab.Console) (*rig.Rig, error) {
		return rig.New(c.clk, c.admin), nil
	}
	var dispatchedN atomic.Int64
	s.connect = func(context.Context, *rig.Rig) (*deps, error) {
		return &deps{binder: c.binder(), tally: c.tally, names: map[string]string{"fs-uid": "kube-scheduler", "pl-uid": "workload-high"},
			start: c.startScheduler,
			scrape: func(context.Context) (map[Flow]float64, error) {
				// Every request of the schedulers' identity so far.
				dispatchedN.Store(int64(actions(c.sched, "create", "pods", "binding") + actions(c.sched, "create", "events", "")))
				return map[Flow]float64{{"kube-scheduler", "workload-high"}: float64(dispatchedN.Load()), {"global-default", "global-default"}: 3}, nil
			}}, nil
	}
	return s
}

func (c *cluster) run(t *testing.T, s *Scenario) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Run(ctx, lab.Env{Clock: c.clk, Console: lab.NewConsole(&testWriter{t})}).(*Result)
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
