package watchrestart

import (
	"fmt"
	"strconv"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Rows are the side-by-side figures (report and terminal): a header row,
// then name, bookmarks on, bookmarks off, and the relist ratio last.
func (r *Result) Rows() [][]string {
	rows := r.armRows()
	return append(rows, []string{"relist with bookmarks / without (the seed: ~3%)", lab.FmtOpt(lab.ScaledPtr(r.RelistRatio, 100), "%.1f%%"), ""})
}

func (r *Result) armRows() [][]string {
	pct := func(v *float64) string { return lab.FmtOpt(lab.ScaledPtr(v, 100), "%.1f%%") }
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
			return lab.FmtOpt(a.Broken.P50, "%.2f s") + " / " + lab.FmtOpt(a.Broken.Max, "%.2f s")
		}),
		row("stream broken → watch re-established, p50 / max", func(a WatchArm) string {
			return lab.FmtOpt(a.Recovery.P50, "%.2f s") + " / " + lab.FmtOpt(a.Recovery.Max, "%.2f s")
		}),
	}
}

// Page is the report page.
func (r *Result) Page() *lab.Page {
	p := lab.NewPage(fmt.Sprintf("Myriad watch-restart: %d watchers, %d objects, %s", r.Watchers, r.Objects, r.Restarted), &r.RunInfo,
		"Each pair of watchers (client-go reflectors on ConfigMaps, one namespace per pair, sharing one HTTP/2 connection so both land on the same API server) has one watcher that asks for watch bookmarks and one that does not. "+
			"While other ConfigMaps change at a steady rate (so the API server's watch cache moves on, as it does in a busy cluster), an API server is restarted. "+
			"Every watcher whose stream broke reconnects from the last resource version it knows; the API server either resumes the watch from there or answers 410 Gone, and the reflector relists everything.")
	rows := r.armRows()
	t := lab.Table{Title: "Bookmarks on vs off, same run", Head: rows[0], Rows: rows[1:]}
	t.Note = "Relist ratio (re-sent / held with bookmarks ÷ the same without): " + lab.FmtOpt(lab.ScaledPtr(r.RelistRatio, 100), "%.1f%%") + " — the seed reports ~3%."
	run := lab.Table{Title: "The run", Rows: [][]string{
		{"API server restarted", r.Restarted},
		{"restart → restarted server ready", lab.FmtOpt(r.RestartReadySeconds, "%.1f s")},
		{"churn writes (other ConfigMaps)", lab.FmtOpt(r.ChurnWritesPerSec, "%.1f /s") + fmt.Sprintf(", %d failed", r.ChurnErrors)},
	}}
	p.Tables = []lab.Table{t, run}
	p.Meaning = []string{
		"A watcher remembers the resource version of the last thing it saw. Without bookmarks that is its last event, or its last LIST; in a quiet namespace it stops moving while the rest of the cluster writes on. " +
			"The API server's watch cache keeps a window of recent events (at least 75 s, more if it has room); a watch that resumes from a version older than the window is refused with 410 Gone, and the reflector relists: every object it holds is sent again in full.",
		"With bookmarks the server sends each watcher, about once a minute, an empty event carrying the current resource version, so the watcher's version stays inside the window and the watch resumes: nothing is re-sent but the events actually missed. " +
			"The seed's \"relist reduced to ~3%\" is this ratio for a broken connection that reconnects to a server that has been running (a load balancer moving clients to another API server).",
		"A restarted API server starts a new watch cache at the current etcd revision and has no history before it, so a watch that reconnects to it relists with or without bookmarks; with one API server that is every watcher. " +
			"Bookmarks help when another API server, whose cache has been running, takes the reconnecting watchers.",
	}
	p.Bars = []lab.BarChart{lab.NewBarChart("Objects re-sent after the restart, per object held by the disrupted watchers", "%", []lab.BarInput{
		{Label: "bookmarks on", Value: lab.ScaledPtr(r.On.ResentFraction, 100), Text: lab.FmtOpt(lab.ScaledPtr(r.On.ResentFraction, 100), "%.1f%%")},
		{Label: "bookmarks off", Value: lab.ScaledPtr(r.Off.ResentFraction, 100), Text: lab.FmtOpt(lab.ScaledPtr(r.Off.ResentFraction, 100), "%.1f%%")},
	})}
	var ss []lab.Line
	for _, a := range []WatchArm{r.On, r.Off} {
		pts := []lab.XY{{X: 0, Y: 0}}
		for _, c := range a.Resent {
			pts = append(pts, lab.XY{X: c.T, Y: float64(c.N)})
		}
		ss = append(ss, lab.Line{Name: "bookmarks " + map[bool]string{true: "on", false: "off"}[a.Bookmarks], Points: pts})
	}
	c := lab.NewChart("Objects re-sent since the restart (cumulative; x: time since the restart)", "objects", 0, ss)
	lab.RelabelX(&c, ss, func(x float64) string { return lab.NumH(x) + " s" })
	p.Charts = []lab.Chart{c}
	return p
}
