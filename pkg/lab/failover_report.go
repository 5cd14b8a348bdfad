package lab

import (
	"fmt"
	"strconv"
)

// WriteFailoverReport writes dir/result.json and dir/report.html.
func WriteFailoverReport(dir string, r *FailoverResult) (string, error) {
	return writeScenarioReport(dir, r, failoverPage(r))
}

// FailoverRows is the per-round table (report and terminal): a header row
// and a row per round, seconds after the kill (control: after the scale).
func FailoverRows(r *FailoverResult) [][]string {
	rows := [][]string{{"round", "killed", "scaled", "process restarted", "new leader seen", "lease acquireTime", "first work", "first pod", "first bound", "all Running"}}
	s := func(v *float64) string { return FmtOpt(v, "%.1f s") }
	add := func(fr FailoverRound) {
		name := strconv.Itoa(fr.Round)
		killed := "yes"
		if !fr.Killed {
			name, killed = "control", "no"
		}
		rows = append(rows, []string{name, killed, s(fr.Scaled), s(fr.Restarted), s(fr.LeaseTaken), s(fr.LeaseAcquire), s(fr.FirstWork), s(fr.FirstPod), s(fr.FirstBound), s(fr.AllRunning)})
	}
	if r.Control != nil {
		add(*r.Control)
	}
	for _, fr := range r.Rounds {
		add(fr)
	}
	return rows
}

func failoverPage(r *FailoverResult) *Page {
	replicas := 0
	if len(r.Rounds) > 0 {
		replicas = r.Rounds[0].Replicas
	}
	p := NewPage(fmt.Sprintf("Myriad failover: kill the %s leader, time until work resumes", r.Component), &r.RunInfo,
		fmt.Sprintf("Each round kills the %s process that holds the Lease %s (SIGKILL: a crash, the Lease is not released), then at once scales a Deployment from 0 to %d replicas, "+
			"and times, from the kill: the supervisor's restart of the process, the new leader in the Lease, the component's first action, the first pod, the first pod bound, all pods Running. "+
			"The control round scales the same Deployment without a kill. Between rounds the Deployment is scaled back to 0 and its pods are gone.", r.Component, r.Lease, replicas))
	rows := FailoverRows(r)
	p.Tables = append(p.Tables, Table{Title: "Rounds (seconds after the kill; control: after the scale)", Head: rows[0], Rows: rows[1:]})
	sum := Table{Title: "Over the killed rounds", Head: []string{"", "p50", "max", "mean"}}
	for _, l := range []struct {
		name string
		l    Latencies
	}{{"kill → new leader seen", r.LeaseTaken}, {"kill → first work", r.FirstWork}, {"kill → all pods Running", r.AllRunning}} {
		sum.Rows = append(sum.Rows, []string{l.name, FmtOpt(l.l.P50, "%.1f s"), FmtOpt(l.l.Max, "%.1f s"), FmtOpt(l.l.Mean, "%.1f s")})
	}
	sum.Rows = append(sum.Rows, []string{"extra time to all Running vs control (mean)", FmtOpt(r.ExtraSeconds, "%.1f s"), "", ""},
		[]string{"Lease duration", FmtOpt(r.LeaseDurationSeconds, "%.0f s"), "", ""})
	p.Tables = append(p.Tables, sum)
	p.Meaning = []string{
		"A killed leader does not release its Lease. The restarted process is a new candidate with a new identity, so it must wait until the old holder's Lease expires (leaseDurationSeconds after its last renewal) before it may lead; " +
			"then it starts its informers, waits for their caches, and only then acts. The time from the kill to the first work is therefore roughly the Lease duration minus the time since the last renewal, plus start-up and cache sync.",
		"The seed's \"minutes → seconds\" came from hot standbys: a second instance with warm caches and a short Lease takes over as soon as the Lease expires, without a process start or a cache sync. " +
			"This scenario is the single-instance baseline that such standbys will be measured against.",
	}
	var bars []BarInput
	for _, fr := range r.Rounds {
		bars = append(bars, BarInput{fmt.Sprintf("round %d: first work", fr.Round), fr.FirstWork, palette[1], FmtOpt(fr.FirstWork, "%.1f s")})
	}
	if r.Control != nil {
		bars = append(bars, BarInput{"control: first work", r.Control.FirstWork, palette[2], FmtOpt(r.Control.FirstWork, "%.1f s")})
	}
	p.Bars = append(p.Bars, NewBarChart("Kill (or scale) → the component's first work", "seconds", bars))
	return p
}
