package watchrestart

import (
	"context"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// WatchCounter counts, per watcher, what the API server sends a client-go
// reflector: a watch resumed from its last resource version costs the
// server nothing but the events missed, a relist costs a full LIST.

// WatchTraffic is what one watcher was sent in one part of the run.
type WatchTraffic struct {
	Lists     int `json:"lists"`
	ListItems int `json:"listItems"`
	// InitialEvents are objects streamed by a watch that asked for them
	// (sendInitialEvents, client-go's WatchList): a relist by another path.
	InitialEvents int `json:"initialEvents"`
	WatchRequests int `json:"watchRequests"`
	// Events are ADDED/MODIFIED/DELETED on established watches.
	Events    int `json:"events"`
	Bookmarks int `json:"bookmarks"`
	// Expired counts "410 Gone: too old resource version" answers, each of
	// which makes the reflector relist.
	Expired int `json:"expired"`
	Errors  int `json:"errors"`
	// ErrorSamples are the first distinct errors, to say what they were.
	ErrorSamples []string `json:"errorSamples,omitempty"`
}

const maxErrorSamples = 3

func (t *WatchTraffic) noteError(err error) {
	t.Errors++
	msg := err.Error()
	for _, s := range t.ErrorSamples {
		if s == msg {
			return
		}
	}
	if len(t.ErrorSamples) < maxErrorSamples {
		t.ErrorSamples = append(t.ErrorSamples, msg)
	}
}

// Resent is every object sent again in full: LIST items plus initial
// events.
func (t WatchTraffic) Resent() int { return t.ListItems + t.InitialEvents }

// WatchCounter is one watcher's ListerWatcher: it passes List and Watch to
// the real client and counts what comes back, split at Mark (the restart).
// A watch stream that ends without the reflector stopping it after the
// mark means the watcher was disrupted.
type WatchCounter struct {
	// Bookmarks is whether this watcher asks for watch bookmarks; when
	// false every watch request has allowWatchBookmarks=false.
	Bookmarks bool
	ListFunc  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error)
	WatchFunc func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error)
	Clock     clock.PassiveClock

	mu        sync.Mutex
	frozen    bool
	marked    bool
	markAt    time.Time
	before    WatchTraffic
	after     WatchTraffic
	disrupted bool
	brokenAt  time.Time
	// opens are the watch requests after the mark, in order.
	opens   []watchOpen
	resends []CountPoint
}

var (
	_ cache.ListerWatcher            = (*WatchCounter)(nil)
	_ cache.ListerWatcherWithContext = (*WatchCounter)(nil)
)

// watchOpen is one watch request after the mark; its first event (or the
// error opening it) decides whether it re-established the watch.
type watchOpen struct {
	at      time.Time
	decided bool
	expired bool // the server answered 410, at once or as the first event
	failed  bool // any other error opening it
}

// CountPoint is a count at T seconds after the restart.
type CountPoint struct {
	T float64 `json:"t"`
	N int     `json:"n"`
}

// IsWatchListSemanticsUnSupported keeps both arms of the comparison on
// client-go's classic LIST then WATCH: a streaming list (WatchList) must
// ask for bookmarks, so the arm without them could not use it, and a
// relist would then cost the two arms differently for a reason other than
// bookmarks.
func (c *WatchCounter) IsWatchListSemanticsUnSupported() bool { return true }

// List implements cache.Lister.
func (c *WatchCounter) List(o metav1.ListOptions) (runtime.Object, error) {
	return c.ListWithContext(context.Background(), o)
}

// Watch implements cache.Watcher.
func (c *WatchCounter) Watch(o metav1.ListOptions) (watch.Interface, error) {
	return c.WatchWithContext(context.Background(), o)
}

// ListWithContext lists and counts the items.
func (c *WatchCounter) ListWithContext(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
	obj, err := c.ListFunc(ctx, o)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return obj, err
	}
	t := c.traffic()
	if err != nil {
		t.noteError(err)
		return obj, err
	}
	n := meta.LenList(obj)
	t.Lists++
	t.ListItems += n
	c.noteResent(n)
	return obj, nil
}

// WatchWithContext opens a watch (without bookmarks unless Bookmarks) and
// counts what it delivers.
func (c *WatchCounter) WatchWithContext(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	if !c.Bookmarks {
		o.AllowWatchBookmarks = false
	}
	w, err := c.WatchFunc(ctx, o)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return w, err
	}
	t := c.traffic()
	t.WatchRequests++
	open := -1
	if c.marked {
		c.opens = append(c.opens, watchOpen{at: c.Clock.Now()})
		open = len(c.opens) - 1
	}
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			t.Expired++
			if open >= 0 {
				c.opens[open].expired = true
			}
		} else {
			t.noteError(err)
			if open >= 0 {
				c.opens[open].failed = true
			}
		}
		return nil, err
	}
	cw := &countingWatch{inner: w, out: make(chan watch.Event), stopped: make(chan struct{}), c: c, open: open,
		initial: o.SendInitialEvents != nil && *o.SendInitialEvents}
	go cw.run()
	return cw, nil
}

// Freeze stops counting: what the watcher sees while it is being shut down
// (its own cancelled requests) is not the server's doing.
func (c *WatchCounter) Freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = true
}

// Mark splits the counts: everything from now on is "after the restart".
func (c *WatchCounter) Mark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.marked, c.markAt = true, c.Clock.Now()
}

func (c *WatchCounter) traffic() *WatchTraffic {
	if c.marked {
		return &c.after
	}
	return &c.before
}

func (c *WatchCounter) noteResent(n int) {
	if c.marked && n > 0 {
		c.resends = append(c.resends, CountPoint{T: c.Clock.Since(c.markAt).Seconds(), N: n})
	}
}

// event counts one event of the watch opened as open (-1: before the mark).
func (c *WatchCounter) event(open int, initial *bool, ev watch.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return
	}
	t := c.traffic()
	first := open >= 0 && !c.opens[open].decided
	if first {
		c.opens[open].decided = true
	}
	switch ev.Type {
	case watch.Bookmark:
		t.Bookmarks++
		if *initial && isInitialEventsEnd(ev.Object) {
			*initial = false
		}
	case watch.Error:
		status := apierrors.FromObject(ev.Object)
		if apierrors.IsResourceExpired(status) || apierrors.IsGone(status) || errorCode(ev.Object) == http.StatusGone {
			t.Expired++
			if first {
				c.opens[open].expired = true
			}
		} else {
			t.noteError(status)
			if first {
				c.opens[open].failed = true
			}
		}
	default:
		if *initial && ev.Type == watch.Added {
			t.InitialEvents++
			c.noteResent(1)
		} else {
			t.Events++
		}
	}
}

// ended records a stream that closed without the reflector stopping it.
func (c *WatchCounter) ended() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.marked && !c.disrupted && !c.frozen {
		c.disrupted, c.brokenAt = true, c.Clock.Now()
	}
}

// WatcherReport is one watcher's counts, for result.json.
type WatcherReport struct {
	Namespace string `json:"namespace"`
	Bookmarks bool   `json:"bookmarks"`
	// Held is the objects in the watcher's store at the restart.
	Held      int          `json:"held"`
	Before    WatchTraffic `json:"before"`
	After     WatchTraffic `json:"after"`
	Disrupted bool         `json:"disrupted"`
	// Relisted: it was sent objects in full after the restart.
	Relisted bool `json:"relisted"`
	// BrokenSeconds is from the restart to the end of its stream (a
	// graceful shutdown keeps streams open for a while).
	BrokenSeconds *float64 `json:"brokenSeconds,omitempty"`
	// RecoverySeconds is from the broken stream to the watch request that
	// re-established its watch for good; nil if it never did or was not
	// disrupted.
	RecoverySeconds *float64     `json:"recoverySeconds,omitempty"`
	Resends         []CountPoint `json:"resends,omitempty"`
}

// Report returns the watcher's counts; held is its store's size at the
// restart.
func (c *WatchCounter) Report(namespace string, held int) WatcherReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := WatcherReport{Namespace: namespace, Bookmarks: c.Bookmarks, Held: held, Before: c.before, After: c.after,
		Disrupted: c.disrupted, Relisted: c.after.Resent() > 0, Resends: append([]CountPoint(nil), c.resends...)}
	if c.disrupted {
		r.BrokenSeconds = lab.Some(c.brokenAt.Sub(c.markAt).Seconds())
		// Recovered when its latest watch request opened a watch that the
		// server did not refuse.
		if n := len(c.opens); n > 0 {
			if o := c.opens[n-1]; !o.expired && !o.failed && !o.at.Before(c.brokenAt) {
				r.RecoverySeconds = lab.Some(o.at.Sub(c.brokenAt).Seconds())
			}
		}
	}
	return r
}

// countingWatch forwards a watch's events to the reflector, counting them.
type countingWatch struct {
	inner   watch.Interface
	out     chan watch.Event
	stopped chan struct{}
	once    sync.Once
	c       *WatchCounter
	open    int
	initial bool
}

func (w *countingWatch) Stop() {
	w.once.Do(func() { close(w.stopped) })
	w.inner.Stop()
}

func (w *countingWatch) ResultChan() <-chan watch.Event { return w.out }

func (w *countingWatch) run() {
	defer close(w.out)
	for {
		select {
		case <-w.stopped:
			return
		case ev, ok := <-w.inner.ResultChan():
			if !ok {
				select {
				case <-w.stopped:
				default:
					w.c.ended()
				}
				return
			}
			w.c.event(w.open, &w.initial, ev)
			select {
			case w.out <- ev:
			case <-w.stopped:
				return
			}
		}
	}
}

func isInitialEventsEnd(obj runtime.Object) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	return m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true"
}

func errorCode(obj runtime.Object) int32 {
	if s, ok := obj.(*metav1.Status); ok {
		return s.Code
	}
	return 0
}
