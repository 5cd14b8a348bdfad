package watchrestart

import (
	"fmt"
	"sort"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Input is what the scenario observed.
type Input struct {
	Info lab.RunInfo
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
	Broken   lab.Latencies `json:"broken"`
	Recovery lab.Latencies `json:"recovery"`
	// Resent is the arm's cumulative objects re-sent since the restart.
	Resent []CountPoint `json:"resent,omitempty"`
}

// Result is result.json of the watch-restart scenario.
type Result struct {
	lab.RunInfo
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

// BuildResult reduces the per-watcher counts to the two arms
// and judges the run.
func BuildResult(in Input) *Result {
	r := &Result{RunInfo: in.Info, Objects: in.Objects, Watchers: len(in.Watchers), Restarted: in.Restarted,
		RestartAt: in.RestartAt, ChurnErrors: in.ChurnErrors, PerWatcher: in.Watchers}
	if in.RestartAt != nil && in.RestartReadyAt != nil {
		r.RestartReadySeconds = lab.Some(in.RestartReadyAt.Sub(*in.RestartAt).Seconds())
	}
	if in.ChurnSeconds > 0 {
		r.ChurnWritesPerSec = lab.Some(float64(in.ChurnWrites) / in.ChurnSeconds)
	}
	r.On, r.Off = watchArm(in.Watchers, true), watchArm(in.Watchers, false)
	if r.On.ResentFraction != nil && r.Off.ResentFraction != nil && *r.Off.ResentFraction > 0 {
		r.RelistRatio = lab.Some(*r.On.ResentFraction / *r.Off.ResentFraction)
	}
	var reasons, warnings []string
	if in.RestartAt == nil {
		reasons = append(reasons, "the API server was never restarted")
	}
	for _, a := range []WatchArm{r.On, r.Off} {
		// The comparison rests on each arm's re-sent share, which only
		// disrupted watchers have: an arm without one has no figure.
		switch {
		case in.RestartAt == nil:
		case a.Watchers == 0:
			reasons = append(reasons, lab.NoData("objects re-sent / held "+armName(a.Bookmarks), "no watcher "+armName(a.Bookmarks)+" ran"))
		case a.Disrupted == 0:
			reasons = append(reasons, lab.NoData("objects re-sent / held "+armName(a.Bookmarks),
				fmt.Sprintf("none of the %d watchers %s was disrupted by the restart: were all their connections on another API server?", a.Watchers, armName(a.Bookmarks))))
		case a.Recovery.Count < a.Disrupted:
			reasons = append(reasons, fmt.Sprintf("%d of %d disrupted watchers %s did not re-establish their watch", a.Disrupted-a.Recovery.Count, a.Disrupted, armName(a.Bookmarks)))
		}
	}
	if r.Off.ResentFraction != nil && *r.Off.ResentFraction == 0 {
		warnings = append(warnings, "no watcher without bookmarks relisted, so there is no relist ratio: their versions were still inside the watch cache's window (churn more or settle longer)")
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
		a.ResentFraction = lab.Some(float64(a.ResentObjects) / float64(a.HeldObjects))
	}
	a.Broken, a.Recovery = lab.SummarizeLatencies(broken), lab.SummarizeLatencies(recovery)
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
