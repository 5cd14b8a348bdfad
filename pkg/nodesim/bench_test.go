package nodesim

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// BenchmarkDispatch10kNodes measures the dispatcher alone: heap pop, hand
// off to a worker, reschedule, for 10^4 nodes that are always due.
func BenchmarkDispatch10kNodes(b *testing.B) {
	const nodes = 10000
	var done atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	target := int64(b.N)
	d := newDispatcher(clock.RealClock{}, nodes, func(_ context.Context, _ int, due time.Time) (time.Time, bool) {
		if done.Add(1) == target {
			cancel()
		}
		return due.Add(time.Nanosecond), true
	})
	now := time.Now()
	for i := range nodes {
		d.schedule(i, now.Add(time.Duration(i)))
	}
	b.ResetTimer()
	d.loop(ctx, 32)
}

// BenchmarkHeartbeat10kNodes measures nodesim's own cost of one node's
// heartbeat (a Lease PUT built from the cached Lease) for 10^4 nodes. The
// fake clientset answers every write itself: its object tracker would
// otherwise dominate the numbers.
func BenchmarkHeartbeat10kNodes(b *testing.B) {
	const nodes = 10000
	fc := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	echo := func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a := a.(type) {
		case k8stesting.CreateAction:
			return true, a.GetObject(), nil
		case k8stesting.UpdateAction:
			return true, a.GetObject(), nil
		case k8stesting.PatchAction:
			return true, &corev1.Node{}, nil
		}
		return false, nil, nil
	}
	client.PrependReactor("*", "leases", echo)
	client.PrependReactor("*", "nodes", echo)
	s, err := newSim(client, Config{Count: nodes, Clock: fc, Workers: 8})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.registerAll(ctx); err != nil {
		b.Fatal(err)
	}
	for i := range nodes { // create every Lease once
		s.heartbeat(ctx, i, fc.Now())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.heartbeat(ctx, i%nodes, fc.Now())
	}
}

// BenchmarkPodAdvance measures the pure pod lifecycle step: starting a pod,
// and the steady state every informer event hits (compute, compare, no write).
func BenchmarkPodAdvance(b *testing.B) {
	env := podEnv{now: t0, hostIP: "172.16.0.1", podIP: "10.128.0.2", job: 2 * time.Second, init: 0}
	pod := podOn("bench", "n-0", "app", "sidecar")
	b.Run("start", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			env.advance(pod)
		}
	})
	st, _, _ := env.advance(pod)
	started := pod.DeepCopy()
	started.Status = *st
	b.Run("steady", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st, _, _ := env.advance(started)
			if !reflect.DeepEqual(&started.Status, st) {
				b.Fatal("steady state changed")
			}
		}
	})
}
