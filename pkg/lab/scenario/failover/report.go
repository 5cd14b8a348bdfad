package failover

import (
	"fmt"
	"strconv"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Rows are the summary the command prints: a row per component and kind
// of round (the Lease left to expire, the Lease handed over), the figures
// the README's failover row shows.
func (r *Result) Rows() [][]string {
	rows := [][]string{{"component", "dead leader's Lease", "standby", "Lease duration", "rounds", "kill → new leader (mean / max)", "kill → first work (mean / max)", "target", "kill → all pods Running (mean)", "vs control"}}
	s := func(v *float64) string { return lab.FmtOpt(v, "%.1f s") }
	for _, c := range r.Components {
		if !c.Measured {
			rows = append(rows, []string{c.Component, "not measured: " + c.NotMeasured, "", "", "", "", "", "", "", ""})
			continue
		}
		for _, k := range []struct {
			how, target string
			m           *Mode
		}{{"expires (upstream)", "", c.Expired}, {"handed over by the supervisor", fmt.Sprintf("≤ %.0f s", c.TargetSeconds), c.HandedOver}} {
			if k.m == nil {
				continue
			}
			rows = append(rows, []string{c.Component, k.how, lab.OrDash(c.Standby), lab.FmtOpt(c.LeaseDurationSeconds, "%.0f s"), strconv.Itoa(k.m.Rounds),
				s(k.m.LeaseTaken.Mean) + " / " + s(k.m.LeaseTaken.Max), s(k.m.FirstWork.Mean) + " / " + s(k.m.FirstWork.Max), lab.OrDash(k.target), s(k.m.AllRunning.Mean),
				lab.FmtOpt(k.m.ExtraSeconds, "%+.1f s")})
		}
	}
	return rows
}

// roundRows is one component's rounds, seconds after the kill (control:
// after the scale).
func roundRows(c Component) [][]string {
	rows := [][]string{{"round", "killed", "Lease", "new leader", "scaled", "process restarted", "new leader seen", "lease acquireTime", "first work", "first pod", "first bound", "all Running"}}
	s := func(v *float64) string { return lab.FmtOpt(v, "%.1f s") }
	add := func(fr Round) {
		name, killed, lease := strconv.Itoa(fr.Round), fr.Leader, map[bool]string{false: "expired", true: "handed over"}[fr.Handover]
		if !fr.Killed {
			name, killed, lease = "control", "no", ""
		}
		rows = append(rows, []string{name, lab.OrDash(killed), lab.OrDash(lease), lab.OrDash(fr.NewLeader), s(fr.Scaled), s(fr.Restarted), s(fr.LeaseTaken), s(fr.LeaseAcquire), s(fr.FirstWork), s(fr.FirstPod), s(fr.FirstBound), s(fr.AllRunning)})
	}
	if c.Control != nil {
		add(*c.Control)
	}
	for _, fr := range c.Rounds {
		add(fr)
	}
	return rows
}

// Page is the report page.
func (r *Result) Page() *lab.Page {
	p := lab.NewPage("Myriad failover: SIGKILL the leader of each leader-elected component, time until a standby works", &r.RunInfo,
		"For each component a second instance (a hot standby with the same identity, kubeconfig and leader-election Lease as the one myriad up runs) is started and left to warm up. "+
			"Each round then kills the process holding the component's Lease (SIGKILL: a crash, the Lease is not released), at once asks for work the component must do "+
			"(scale a Deployment from 0 for kube-controller-manager and the scheduler, a CloneSet for myriad-manager), and times from the kill: the new leader in the Lease, the component's first work, the pods Running. "+
			"The supervisor restarts the killed process, which becomes the next standby. A control round per component asks for the same work without a kill. "+
			"In the rounds marked 'handed over', the supervisor that saw the leader die released its Lease on its behalf (myriad up's failover); in those marked 'expired' it did not (upstream's).")
	p.Tables = append(p.Tables, lab.Table{Title: "Per component, over the killed rounds", Head: r.Rows()[0], Rows: r.Rows()[1:]})
	var bars []lab.BarInput
	for i, c := range r.Components {
		if !c.Measured {
			continue
		}
		rows := roundRows(c)
		p.Tables = append(p.Tables, lab.Table{Title: fmt.Sprintf("%s (Lease %s; first work: %s): seconds after the kill, control after the scale", c.Component, c.Lease, c.Work),
			Head: rows[0], Rows: rows[1:]})
		for _, k := range []struct {
			how string
			m   *Mode
		}{{"Lease expires", c.Expired}, {"Lease handed over", c.HandedOver}} {
			if k.m != nil {
				bars = append(bars, lab.BarInput{Label: c.Component + ", " + k.how + ": kill → first work", Value: k.m.FirstWork.Mean,
					Color: colors[i%len(colors)], Text: lab.FmtOpt(k.m.FirstWork.Mean, "%.1f s")})
			}
		}
	}
	p.Bars = append(p.Bars, lab.NewBarChart("Kill → first work, the time to recovery (mean over the killed rounds), with the Lease left to expire and handed over", "seconds", bars))
	p.Meaning = []string{
		"A killed leader does not release its Lease, so no candidate may lead until the Lease expires: leaseDurationSeconds after the dead leader's last renewal, then up to one retry period until a candidate tries again. " +
			"Kill → new leader is therefore between the Lease duration minus the renew interval and the Lease duration plus the retry period, whichever instance wins.",
		"From the new leader to the first work is what the standby still has to do once it leads. Myriad's scheduler and manager keep their informers synced while standing by, so they act at once; " +
			"kube-controller-manager starts its controllers and informers only once it leads, so it adds their start and cache sync.",
		"Which instance takes over is a race between the warm standby and the killed process restarted by the supervisor (the new-leader column says which won). " +
			"With the handover the Lease is free a few milliseconds after the kill, so the standby takes it at its next try (every retry period, 2 s upstream) or the restarted process at its first.",
	}
	return p
}

var colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"}
