package lab

import (
	"fmt"
	"strconv"
)

// WriteWatchRestartReport writes dir/result.json and dir/report.html.
func WriteWatchRestartReport(dir string, r *WatchRestartResult) (string, error) {
	return writeScenarioReport(dir, r, watchRestartPage(r))
}

// WatchRestartRows are the side-by-side figures (report and terminal): a
// header row, then name, bookmarks on, bookmarks off.
func WatchRestartRows(r *WatchRestartResult) [][]string {
	pct := func(v *float64) string { return FmtOpt(ScaledPtr(v, 100), "%.1f%%") }
	arm := func(f func(WatchArm) string) (string, string) { return f(r.On), f(r.Off) }
	row := func(name string, f func(WatchArm) string) []string {
		on, off := arm(f)
		return []string{name, on, off}
	}
	itoa := strconv.Itoa
	return [][]string{
		{"", "bookmarks on", "bookmarks off"},
		row("watchers", func(a WatchArm) string { return itoa(a.Watchers) }),
		row("disrupted by the restart", func(a WatchArm) string { return itoa(a.Disrupted) }),
		row("… resumed from their resource version", func(a WatchArm) string { return itoa(a.Resumed) }),
		row("… relisted", func(a WatchArm) string { return itoa(a.Relisted) }),
		row("objects the disrupted watchers held", func(a WatchArm) string { return itoa(a.HeldObjects) }),
		row("objects re-sent in full after the restart", func(a WatchArm) string { return itoa(a.ResentObjects) }),
		row("re-sent / held", func(a WatchArm) string { return pct(a.ResentFraction) }),
		row("410 Gone (too old resource version) answers", func(a WatchArm) string { return itoa(a.After.Expired) }),
		row("LIST requests / watch requests after the restart", func(a WatchArm) string {
			return fmt.Sprintf("%d / %d", a.After.Lists, a.After.WatchRequests)
		}),
		row("watch events after the restart", func(a WatchArm) string { return itoa(a.After.Events) }),
		row("bookmarks before / after the restart", func(a WatchArm) string {
			return fmt.Sprintf("%d / %d", a.BookmarksBefore, a.After.Bookmarks)
		}),
		row("restart → stream broken, p50 / max", func(a WatchArm) string {
			return FmtOpt(a.Broken.P50, "%.2f s") + " / " + FmtOpt(a.Broken.Max, "%.2f s")
		}),
		row("stream broken → watch re-established, p50 / max", func(a WatchArm) string {
			return FmtOpt(a.Recovery.P50, "%.2f s") + " / " + FmtOpt(a.Recovery.Max, "%.2f s")
		}),
	}
}

func watchRestartPage(r *WatchRestartResult) *Page {
	p := NewPage(fmt.Sprintf("Myriad watch-restart: %d watchers, %d objects, %s", r.Watchers, r.Objects, r.Restarted), &r.RunInfo,
		"Each pair of watchers (client-go reflectors on ConfigMaps, one namespace per pair, sharing one HTTP/2 connection so both land on the same API server) has one watcher that asks for watch bookmarks and one that does not. "+
			"While other ConfigMaps change at a steady rate (so the API server's watch cache moves on, as it does in a busy cluster), an API server is restarted. "+
			"Every watcher whose stream broke reconnects from the last resource version it knows; the API server either resumes the watch from there or answers 410 Gone, and the reflector relists everything.")
	rows := WatchRestartRows(r)
	t := Table{Title: "Bookmarks on vs off, same run", Head: rows[0], Rows: rows[1:]}
	t.Note = "Relist ratio (re-sent / held with bookmarks ÷ the same without): " + FmtOpt(ScaledPtr(r.RelistRatio, 100), "%.1f%%") + " — the seed reports ~3%."
	run := Table{Title: "The run", Rows: [][]string{
		{"API server restarted", r.Restarted},
		{"restart → restarted server ready", FmtOpt(r.RestartReadySeconds, "%.1f s")},
		{"churn writes (other ConfigMaps)", FmtOpt(r.ChurnWritesPerSec, "%.1f /s") + fmt.Sprintf(", %d failed", r.ChurnErrors)},
	}}
	p.Tables = []Table{t, run}
	p.Meaning = []string{
		"A watcher remembers the resource version of the last thing it saw. Without bookmarks that is its last event, or its last LIST; in a quiet namespace it stops moving while the rest of the cluster writes on. " +
			"The API server's watch cache keeps a window of recent events (at least 75 s, more if it has room); a watch that resumes from a version older than the window is refused with 410 Gone, and the reflector relists: every object it holds is sent again in full.",
		"With bookmarks the server sends each watcher, about once a minute, an empty event carrying the current resource version, so the watcher's version stays inside the window and the watch resumes: nothing is re-sent but the events actually missed. " +
			"The seed's \"relist reduced to ~3%\" is this ratio for a broken connection that reconnects to a server that has been running (a load balancer moving clients to another API server).",
		"A restarted API server starts a new watch cache at the current etcd revision and has no history before it, so a watch that reconnects to it relists with or without bookmarks; with one API server that is every watcher. " +
			"Bookmarks help when another API server, whose cache has been running, takes the reconnecting watchers.",
	}
	p.Bars = []BarChart{NewBarChart("Objects re-sent after the restart, per object held by the disrupted watchers", "%", []BarInput{
		{"bookmarks on", ScaledPtr(r.On.ResentFraction, 100), palette[0], FmtOpt(ScaledPtr(r.On.ResentFraction, 100), "%.1f%%")},
		{"bookmarks off", ScaledPtr(r.Off.ResentFraction, 100), palette[1], FmtOpt(ScaledPtr(r.Off.ResentFraction, 100), "%.1f%%")},
	})}
	var ss []Line
	for _, a := range []WatchArm{r.On, r.Off} {
		pts := []XY{{0, 0}}
		for _, c := range a.Resent {
			pts = append(pts, XY{c.T, float64(c.N)})
		}
		ss = append(ss, Line{"bookmarks " + map[bool]string{true: "on", false: "off"}[a.Bookmarks], pts})
	}
	c := NewChart("Objects re-sent since the restart (cumulative; x: time since the restart)", "objects", 0, ss)
	RelabelX(&c, ss, func(x float64) string { return NumH(x) + " s" })
	p.Charts = []Chart{c}
	return p
}
