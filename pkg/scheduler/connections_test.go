package scheduler

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	typedeventsv1 "k8s.io/client-go/kubernetes/typed/events/v1"
)

// No connection is ever asked for more than perConnection writes at once:
// each binder has one connection, at most perConnection binders share it,
// and event writes wait for a slot on theirs.
func TestWritersNeverOverfillAConnection(t *testing.T) {
	const binders = 200
	var mu sync.Mutex
	inFlight, most := map[int]int{}, map[int]int{}
	release := make(chan struct{})
	dialed := 0
	w, err := newWriters(binders, func() (kubernetes.Interface, error) {
		i := dialed
		dialed++
		// Event writes that block until released: count the most in
		// flight on each connection.
		return &blockingEvents{fake.NewClientset(), func() {
			mu.Lock()
			inFlight[i]++
			most[i] = max(most[i], inFlight[i])
			mu.Unlock()
			<-release
			mu.Lock()
			inFlight[i]--
			mu.Unlock()
		}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * 4; dialed != want { // ceil(200/64) for binders, as many for events
		t.Fatalf("dialed %d connections, want %d", dialed, want)
	}
	perConn := map[kubernetes.Interface]int{}
	for i := range binders {
		perConn[w.binder(i)]++
	}
	for c, n := range perConn {
		if n > perConnection {
			t.Errorf("%d binders share one connection (%p), limit %d", n, c, perConnection)
		}
	}

	sink := eventSink{w}
	var wg sync.WaitGroup
	var done atomic.Int32
	const writes = 1000 // more than all event connections' slots
	for range writes {
		wg.Go(func() {
			ev := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", GenerateName: "e-"}}
			if _, err := sink.Create(context.Background(), ev); err != nil {
				t.Error(err)
			}
			done.Add(1)
		})
	}
	time.Sleep(200 * time.Millisecond) // let every writer take a slot or queue
	close(release)
	wg.Wait()
	if done.Load() != writes {
		t.Fatalf("%d of %d event writes finished", done.Load(), writes)
	}
	if len(most) != len(w.events) {
		t.Errorf("events used %d connections, want all %d", len(most), len(w.events))
	}
	for i, n := range most {
		if n > perConnection {
			t.Errorf("connection %d had %d event writes in flight, limit %d", i, n, perConnection)
		}
		if n < perConnection/2 {
			t.Errorf("connection %d had at most %d event writes in flight: the writes did not run at once", i, n)
		}
	}
}

// blockingEvents is a client whose event creates call hook.
type blockingEvents struct {
	*fake.Clientset
	hook func()
}

func (c blockingEvents) EventsV1() typedeventsv1.EventsV1Interface {
	return blockingEventsV1{c.Clientset.EventsV1(), c.hook}
}

type blockingEventsV1 struct {
	typedeventsv1.EventsV1Interface
	hook func()
}

func (c blockingEventsV1) Events(ns string) typedeventsv1.EventInterface {
	return blockingEventInterface{c.EventsV1Interface.Events(ns), c.hook}
}

type blockingEventInterface struct {
	typedeventsv1.EventInterface
	hook func()
}

func (c blockingEventInterface) Create(_ context.Context, ev *eventsv1.Event, _ metav1.CreateOptions) (*eventsv1.Event, error) {
	c.hook()
	return ev, nil
}

func TestEventSinkGivesUpWhenItsContextEnds(t *testing.T) {
	w, err := newWriters(1, nil, fake.NewClientset())
	if err != nil {
		t.Fatal(err)
	}
	for range perConnection { // fill every slot
		if _, err := w.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := (eventSink{w}).Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}}); err == nil {
		t.Fatal("a write with no free slot returned without error after its context ended")
	}
}
