package scheduler

import (
	"context"
	"sync/atomic"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
)

// perConnection bounds the requests the scheduler ever has in flight on
// one API connection.
//
// kube-apiserver lets an HTTP/2 connection carry 100 requests at once (its
// --http2-max-streams-per-connection default). For a request beyond that,
// client-go's transport dials another connection, and if a stream frees
// while that TLS handshake is under way it closes the new connection
// unused. With 256 binders and client-go's event recorder (a goroutine per
// event) sharing the informers' client, `myriad bench scheduler --nodes
// 1000` measured ~5% of the scheduler's CPU in TLS handshakes. Writes
// therefore go over a fixed set of connections of their own, none asked
// for more than perConnection requests at once; informers and the leader
// Lease keep theirs.
const perConnection = 64

// writers are the scheduler's write connections: binder i always writes
// through the binders' connection i/perConnection, and each event write
// takes a slot on the next event connection in turn.
type writers struct {
	binders, events []kubernetes.Interface
	// slots[i] holds a token per event write in flight on events[i].
	slots []chan struct{}
	next  atomic.Uint64
}

// newWriters opens a connection per perConnection binders, and as many
// for events, with dial (nil: every write shares fallback, as tests do).
func newWriters(binders int, dial func() (kubernetes.Interface, error), fallback kubernetes.Interface) (*writers, error) {
	n := (binders + perConnection - 1) / perConnection
	w := &writers{}
	for i := range 2 * n {
		c := fallback
		if dial != nil {
			var err error
			if c, err = dial(); err != nil {
				return nil, err
			}
		}
		if i < n {
			w.binders = append(w.binders, c)
		} else {
			w.events = append(w.events, c)
			w.slots = append(w.slots, make(chan struct{}, perConnection))
		}
	}
	return w, nil
}

// binder is the connection binder i writes through.
func (w *writers) binder(i int) kubernetes.Interface {
	return w.binders[(i/perConnection)%len(w.binders)]
}

// acquire waits for a slot on the next event connection in turn and
// returns that connection's index. Taking turns spreads the writes; a
// full connection makes its writer wait rather than the transport dial.
func (w *writers) acquire(ctx context.Context) (int, error) {
	i := int(w.next.Add(1) % uint64(len(w.slots)))
	select {
	case w.slots[i] <- struct{}{}:
		return i, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (w *writers) release(i int) { <-w.slots[i] }

// eventSink writes the recorder's events over the event connections,
// perConnection at most on each. client-go's broadcaster starts a
// goroutine per event; here they wait for a slot instead of each opening
// a stream, so a burst of bindings never makes the transport dial.
type eventSink struct{ w *writers }

var _ events.EventSink = eventSink{}

func (s eventSink) with(ctx context.Context, f func(events.EventSink) (*eventsv1.Event, error)) (*eventsv1.Event, error) {
	i, err := s.w.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.w.release(i)
	return f(&events.EventSinkImpl{Interface: s.w.events[i].EventsV1()})
}

func (s eventSink) Create(ctx context.Context, ev *eventsv1.Event) (*eventsv1.Event, error) {
	return s.with(ctx, func(k events.EventSink) (*eventsv1.Event, error) { return k.Create(ctx, ev) })
}

func (s eventSink) Update(ctx context.Context, ev *eventsv1.Event) (*eventsv1.Event, error) {
	return s.with(ctx, func(k events.EventSink) (*eventsv1.Event, error) { return k.Update(ctx, ev) })
}

func (s eventSink) Patch(ctx context.Context, old *eventsv1.Event, data []byte) (*eventsv1.Event, error) {
	return s.with(ctx, func(k events.EventSink) (*eventsv1.Event, error) { return k.Patch(ctx, old, data) })
}
