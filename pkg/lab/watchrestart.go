package lab

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// The watch-restart scenario (`myriad bench watch-restart`) puts K
// client-go reflectors on a cluster, half of them asking for watch
// bookmarks and half not, restarts an API server under them, and counts
// what each is sent afterwards: a watch resumed from its last resource
// version costs the server nothing but the events missed, a relist costs a
// full LIST. This file counts per watcher and reduces the counts to the
// seed's figure, "relist reduced to ~3%" with bookmarks.

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
		r.BrokenSeconds = Some(c.brokenAt.Sub(c.markAt).Seconds())
		// Recovered when its latest watch request opened a watch that the
		// server did not refuse.
		if n := len(c.opens); n > 0 {
			if o := c.opens[n-1]; !o.expired && !o.failed && !o.at.Before(c.brokenAt) {
				r.RecoverySeconds = Some(o.at.Sub(c.brokenAt).Seconds())
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

// WatchRestartInput is what the scenario observed.
type WatchRestartInput struct {
	Info RunInfo
	// Objects is how many objects the watched namespaces hold together.
	Objects  int
	Watchers []WatcherReport
	// Restarted names the API server process that was restarted and how.
	Restarted string
	// RestartAt is when it was signalled; nil if the run stopped before.
	RestartAt *time.Time
	// RestartReadyAt is when the restarted server answered /readyz again.
	RestartReadyAt *time.Time
	// ChurnWrites are the writes to other objects of the watched resource
	// that moved the API servers' watch cache window along.
	ChurnWrites, ChurnErrors int
	ChurnSeconds             float64
}

// WatchArm is one half of the watchers: with or without bookmarks.
type WatchArm struct {
	Bookmarks bool `json:"bookmarks"`
	Watchers  int  `json:"watchers"`
	Disrupted int  `json:"disrupted"`
	// Relisted and Resumed split the disrupted watchers: sent objects in
	// full again, or resumed their watch from the last resource version.
	Relisted int `json:"relisted"`
	Resumed  int `json:"resumed"`
	// HeldObjects is what the disrupted watchers held at the restart.
	HeldObjects int `json:"heldObjects"`
	// ResentObjects is every object sent in full to this arm after the
	// restart (LIST items and initial events).
	ResentObjects int `json:"resentObjects"`
	// ResentFraction is ResentObjects / HeldObjects: 1 means every
	// disrupted watcher relisted everything it had.
	ResentFraction *float64 `json:"resentFraction,omitempty"`
	// Totals after the restart.
	After WatchTraffic `json:"after"`
	// BookmarksBefore are bookmarks received before the restart.
	BookmarksBefore int `json:"bookmarksBefore"`
	// Broken is restart → stream ended, Recovery stream ended → watch
	// re-established, over the disrupted watchers.
	Broken   Latencies `json:"broken"`
	Recovery Latencies `json:"recovery"`
	// Resent is the arm's cumulative objects re-sent since the restart.
	Resent []CountPoint `json:"resent,omitempty"`
}

// WatchRestartResult is result.json of the watch-restart scenario.
type WatchRestartResult struct {
	RunInfo
	Objects             int        `json:"objects"`
	Watchers            int        `json:"watchers"`
	Restarted           string     `json:"restarted"`
	RestartAt           *time.Time `json:"restartAt,omitempty"`
	RestartReadySeconds *float64   `json:"restartReadySeconds,omitempty"`
	ChurnWritesPerSec   *float64   `json:"churnWritesPerSecond,omitempty"`
	ChurnErrors         int        `json:"churnErrors"`
	On                  WatchArm   `json:"bookmarksOn"`
	Off                 WatchArm   `json:"bookmarksOff"`
	// RelistRatio is On.ResentFraction / Off.ResentFraction: the share of
	// relist traffic left with bookmarks (the seed: ~3%).
	RelistRatio *float64        `json:"relistRatio,omitempty"`
	PerWatcher  []WatcherReport `json:"perWatcher"`
}

// BuildWatchRestartResult reduces the per-watcher counts to the two arms
// and judges the run.
func BuildWatchRestartResult(in WatchRestartInput) *WatchRestartResult {
	r := &WatchRestartResult{RunInfo: in.Info, Objects: in.Objects, Watchers: len(in.Watchers), Restarted: in.Restarted,
		RestartAt: in.RestartAt, ChurnErrors: in.ChurnErrors, PerWatcher: in.Watchers}
	if in.RestartAt != nil && in.RestartReadyAt != nil {
		r.RestartReadySeconds = Some(in.RestartReadyAt.Sub(*in.RestartAt).Seconds())
	}
	if in.ChurnSeconds > 0 {
		r.ChurnWritesPerSec = Some(float64(in.ChurnWrites) / in.ChurnSeconds)
	}
	r.On, r.Off = watchArm(in.Watchers, true), watchArm(in.Watchers, false)
	if r.On.ResentFraction != nil && r.Off.ResentFraction != nil && *r.Off.ResentFraction > 0 {
		r.RelistRatio = Some(*r.On.ResentFraction / *r.Off.ResentFraction)
	}
	var reasons, warnings []string
	switch {
	case in.RestartAt == nil:
		reasons = append(reasons, "the API server was never restarted")
	case r.On.Disrupted+r.Off.Disrupted == 0:
		reasons = append(reasons, "no watcher's stream was broken by the restart (were all connections on another API server?)")
	}
	for _, a := range []WatchArm{r.On, r.Off} {
		if a.Disrupted > 0 && a.Recovery.Count < a.Disrupted {
			reasons = append(reasons, fmt.Sprintf("%d of %d disrupted watchers %s did not re-establish their watch", a.Disrupted-a.Recovery.Count, a.Disrupted, armName(a.Bookmarks)))
		}
	}
	if in.RestartAt != nil && r.On.Watchers > 0 && r.On.BookmarksBefore == 0 {
		warnings = append(warnings, "no bookmark arrived before the restart: the API server sends them about once a minute, so settle for longer")
	}
	if r.Off.BookmarksBefore+r.Off.After.Bookmarks > 0 {
		warnings = append(warnings, fmt.Sprintf("watchers without bookmarks received %d bookmarks", r.Off.BookmarksBefore+r.Off.After.Bookmarks))
	}
	if in.ChurnErrors > 0 {
		warnings = append(warnings, fmt.Sprintf("%d churn writes failed (around the restart, writes through the balancer can hit the server going down)", in.ChurnErrors))
	}
	r.Judge(reasons, warnings)
	return r
}

func armName(bookmarks bool) string {
	if bookmarks {
		return "with bookmarks"
	}
	return "without bookmarks"
}

func watchArm(ws []WatcherReport, bookmarks bool) WatchArm {
	a := WatchArm{Bookmarks: bookmarks}
	var broken, recovery []float64
	var resends []CountPoint
	for _, w := range ws {
		if w.Bookmarks != bookmarks {
			continue
		}
		a.Watchers++
		a.BookmarksBefore += w.Before.Bookmarks
		addTraffic(&a.After, w.After)
		a.ResentObjects += w.After.Resent()
		resends = append(resends, w.Resends...)
		if !w.Disrupted {
			continue
		}
		a.Disrupted++
		a.HeldObjects += w.Held
		if w.Relisted {
			a.Relisted++
		} else {
			a.Resumed++
		}
		if w.BrokenSeconds != nil {
			broken = append(broken, *w.BrokenSeconds)
		}
		if w.RecoverySeconds != nil {
			recovery = append(recovery, *w.RecoverySeconds)
		}
	}
	if a.HeldObjects > 0 {
		a.ResentFraction = Some(float64(a.ResentObjects) / float64(a.HeldObjects))
	}
	a.Broken, a.Recovery = SummarizeLatencies(broken), SummarizeLatencies(recovery)
	sort.Slice(resends, func(i, j int) bool { return resends[i].T < resends[j].T })
	total := 0
	for _, p := range resends {
		total += p.N
		a.Resent = append(a.Resent, CountPoint{T: p.T, N: total})
	}
	return a
}

func addTraffic(sum *WatchTraffic, t WatchTraffic) {
	sum.Lists += t.Lists
	sum.ListItems += t.ListItems
	sum.InitialEvents += t.InitialEvents
	sum.WatchRequests += t.WatchRequests
	sum.Events += t.Events
	sum.Bookmarks += t.Bookmarks
	sum.Expired += t.Expired
	sum.Errors += t.Errors
}
