package oracle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	"k8s.io/component-base/metrics/testutil"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/latest"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"
	"k8s.io/kubernetes/pkg/scheduler/profile"

	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// kubeSide is kube-scheduler v1.37 as its own constructor builds it, as the
// kube-scheduler binary configures it: scheduler.New with the default
// profile and settings of latest.Default() (only Parallelism may be
// overridden), a shared informer factory over a fake clientset that holds
// the cluster, the scheduling queue filled by those informers' event
// handlers. The test then calls ScheduleOne, the body of kube-scheduler's
// loop, once per pod: pop, snapshot, filter, score, assume, reserve,
// permit, and the binding cycle in its own goroutine, as in production.
//
// What it does not do: write events to the API (the recorder is real but
// its broadcaster has no sink), and see its own Bind come back through the
// informers (the fake API server's Bind does not set nodeName), so the pod
// stays assumed in kube's cache — which is what the next decisions read.
type kubeSide struct {
	sched       *scheduler.Scheduler
	ctx         context.Context
	cancel      context.CancelFunc
	broadcaster events.EventBroadcaster

	binds  atomic.Int64 // Binding requests the fake API server received
	failed atomic.Int64 // FailureHandler calls: unschedulable, or a failed bind (which forgets the pod)

	// Set by the wrappers around the queue's Pop and SchedulePod, which run
	// in ScheduleOne's own goroutine: read after ScheduleOne returns.
	popped    *v1.Pod
	host      string // SchedulePod's choice, "" when it found none
	evaluated int    // nodes it evaluated, summed over cycles
	placed    int    // cycles that chose a host
}

// newKubeSide starts kube-scheduler over cl and queues pending, in order,
// through the API as a controller would create them.
func newKubeSide(t *testing.T, cl *testcluster.Cluster, pending []*v1.Pod, parallelism int) *kubeSide {
	t.Helper()
	k := &kubeSide{}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	logger := klog.FromContext(k.ctx)

	objs := []runtime.Object{}
	for _, o := range cl.Namespaces {
		objs = append(objs, o)
	}
	for _, o := range cl.Nodes {
		objs = append(objs, o)
	}
	for _, o := range cl.Pods {
		objs = append(objs, o)
	}
	objs = append(objs, cl.WorkloadObjects()...)
	// The simple tracker (no field management): it copies what it is given,
	// and the scheduler's pod informer drops managedFields anyway.
	client := fake.NewSimpleClientset(objs...)
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "binding" {
			k.binds.Add(1)
		}
		return false, nil, nil // on to the tracker, which accepts it
	})

	cfg, err := latest.Default()
	if err != nil {
		t.Fatal(err)
	}
	factory := scheduler.NewInformerFactory(client, 0, nil)
	k.broadcaster = events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	sched, err := scheduler.New(k.ctx, client, factory, nil, profile.NewRecorderFactory(k.broadcaster),
		scheduler.WithProfiles(cfg.Profiles...),
		scheduler.WithParallelism(int32(parallelism)),
		scheduler.WithPercentageOfNodesToScore(cfg.PercentageOfNodesToScore),
		scheduler.WithPodInitialBackoffSeconds(cfg.PodInitialBackoffSeconds),
		scheduler.WithPodMaxBackoffSeconds(cfg.PodMaxBackoffSeconds),
	)
	if err != nil {
		t.Fatal(err)
	}
	k.sched = sched
	factory.Start(k.ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(k.ctx.Done()) {
		if !ok {
			t.Fatalf("kube informer for %v did not sync", typ)
		}
	}
	if err := sched.WaitForHandlersSync(k.ctx); err != nil {
		t.Fatal(err)
	}
	sched.SchedulingQueue.Run(logger) // its backoff and flush loops, as Run starts them

	if n := sched.Cache.NodeCount(); n != len(cl.Nodes) {
		t.Fatalf("kube's cache holds %d nodes, want %d", n, len(cl.Nodes))
	}
	if n, _ := sched.Cache.PodCount(); n != len(cl.Pods) {
		t.Fatalf("kube's cache holds %d pods, want %d", n, len(cl.Pods))
	}

	// In chunks: the fake API server's watch channel holds 100 events and
	// panics when the informer falls behind.
	const chunk = 50
	for i := 0; i < len(pending); i += chunk {
		for _, p := range pending[i:min(i+chunk, len(pending))] {
			if _, err := client.CoreV1().Pods(p.Namespace).Create(k.ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		want := min(i+chunk, len(pending))
		err = wait.PollUntilContextTimeout(k.ctx, time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
			queued, _ := sched.SchedulingQueue.PendingPods()
			return len(queued) == want, nil
		})
		if err != nil {
			t.Fatalf("kube's queue never held the first %d pending pods: %v", want, err)
		}
	}

	// Observe, then delegate: each wrapper calls kube's own function.
	pop := sched.NextEntity
	sched.NextEntity = func(logger klog.Logger) (framework.QueuedEntityInfo, error) {
		e, err := pop(logger)
		if pi, ok := e.(*framework.QueuedPodInfo); ok {
			k.popped = pi.Pod
		}
		return e, err
	}
	schedulePod := sched.SchedulePod
	sched.SchedulePod = func(ctx context.Context, f framework.Framework, state fwk.CycleState, pi *framework.QueuedPodInfo) (scheduler.ScheduleResult, error) {
		res, err := schedulePod(ctx, f, state, pi)
		k.host = ""
		if err == nil {
			k.host = res.SuggestedHost
			k.evaluated += res.EvaluatedNodes
			k.placed++
		}
		return res, err
	}
	onFailure := sched.FailureHandler
	sched.FailureHandler = func(ctx context.Context, f framework.Framework, pi *framework.QueuedPodInfo, st *fwk.Status, ni *fwk.NominatingInfo, start time.Time) {
		k.failed.Add(1)
		onFailure(ctx, f, pi, st, ni, start)
	}
	return k
}

// scheduleOne runs one kube scheduling cycle, which must be pod's (the
// queue pops in creation order), and returns the node it chose, "" if
// none. Binding goes on in kube's goroutine.
func (k *kubeSide) scheduleOne(t *testing.T, pod *v1.Pod) string {
	k.popped, k.host = nil, ""
	k.sched.ScheduleOne(k.ctx)
	if k.popped == nil || k.popped.UID != pod.UID {
		got := "nothing"
		if k.popped != nil {
			got = k.popped.Name
		}
		t.Fatalf("kube's queue popped %s, want %s: the two schedulers would not see the same stream", got, pod.Name)
	}
	return k.host
}

// drain waits until every placement so far has gone through kube's whole
// binding cycle (the fake API server got the Binding, and no binding
// goroutine runs), so that their CPU time and allocations fall inside a
// measurement and nothing of them spills into the next.
func (k *kubeSide) drain(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		running, err := testutil.GetGaugeMetricValue(schedmetrics.Goroutines.WithLabelValues(schedmetrics.Binding))
		if err != nil {
			t.Fatal(err)
		}
		if k.binds.Load() >= int64(k.placed) && running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube: %d binds of %d placements after a minute, %v binding goroutines running", k.binds.Load(), k.placed, running)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// verifyAccumulated checks that kube's cache really holds every placement
// (node name → pods, from the scheduling cycles) as an assumed pod on the
// chosen node, so that each decision saw all earlier ones: a failed bind
// would have forgotten its pod and let the next decisions reuse its room.
func (k *kubeSide) verifyAccumulated(t *testing.T, cl *testcluster.Cluster, placements map[string][]*v1.Pod) {
	t.Helper()
	if f := k.failed.Load(); f != 0 {
		t.Fatalf("kube: %d scheduling or binding failures", f)
	}
	dump := k.sched.Cache.Dump()
	placed := 0
	for node, pods := range placements {
		ni := dump.Nodes[node]
		if ni == nil {
			t.Fatalf("kube's cache has no node %s", node)
		}
		on := map[string]bool{}
		for _, pi := range ni.Pods {
			on[string(pi.GetPod().UID)] = true
		}
		for _, p := range pods {
			if !on[string(p.UID)] || !dump.AssumedPods.Has(string(p.UID)) {
				t.Fatalf("kube's cache lost %s on %s (on node: %v, assumed: %v): later decisions did not see it",
					p.Name, node, on[string(p.UID)], dump.AssumedPods.Has(string(p.UID)))
			}
			placed++
		}
	}
	if n, _ := k.sched.Cache.PodCount(); n != len(cl.Pods)+placed {
		t.Fatalf("kube's cache holds %d pods, want %d running + %d assumed", n, len(cl.Pods), placed)
	}
	if len(dump.AssumedPods) != placed {
		t.Fatalf("kube's cache assumes %d pods, want %d", len(dump.AssumedPods), placed)
	}
}

func (k *kubeSide) close() {
	k.cancel()
	k.sched.SchedulingQueue.Close()
	k.broadcaster.Shutdown()
}
