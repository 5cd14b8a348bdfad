package chaos

import (
	"fmt"
	"strconv"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Rows are the summary the command prints: each check with its target,
// then the time to recovery per component.
func (r *Result) Rows() [][]string {
	kills, pauses := 0, 0
	for _, f := range r.Faults {
		if f.Signal == "KILL" {
			kills++
		} else {
			pauses++
		}
	}
	longest := 0.0
	for _, o := range append(append([]Outaged(nil), r.Reads.Outages...), r.Writes.Outages...) {
		longest = max(longest, o.Seconds)
	}
	longestStall := 0.0
	for _, o := range append(append([]Outaged(nil), r.Reads.Stalls...), r.Writes.Stalls...) {
		longestStall = max(longestStall, o.Seconds)
	}
	rows := [][]string{{"figure", "value", "must be"},
		{"faults injected", fmt.Sprintf("%d (%d SIGKILL, %d SIGSTOP)", len(r.Faults), kills, pauses), "≥ 1"},
		{"acknowledged writes lost", checked(r.Checked, fmt.Sprintf("%d of %d (%d of unknown outcome)", len(r.Lost), r.Acked, r.Unknown)), "0"},
		{"pods created twice", checked(r.Checked, strconv.Itoa(r.Doubled)), "0"},
		{"pods lost", checked(r.Checked, strconv.Itoa(r.PodsLost)), "0"},
		{"availability violations", fmt.Sprintf("%d (%d read and %d write outages, longest %.1f s; %d requests answered after more than %.0f s, longest %.1f s)", r.Violations,
			len(r.Reads.Outages), len(r.Writes.Outages), longest, len(r.Reads.Stalls)+len(r.Writes.Stalls), r.BudgetSecond, longestStall),
			fmt.Sprintf("0 (no outage over %.0f s, no request over %.0f s, but a single instance's)", r.BudgetSecond, r.StallSecond)},
		{"false NotReady nodes", strconv.Itoa(r.FalseNotRdy), "0"},
	}
	for _, k := range r.Kinds {
		rows = append(rows, []string{"time to recovery: " + k.Kind, fmt.Sprintf("leader or only instance killed %s; all %d faults %s", meanMax(k.KilledLeader), k.Faults, meanMax(k.Service)), ""})
	}
	return rows
}

func checked(ok bool, v string) string {
	if !ok {
		return "not checked"
	}
	return v
}

// meanMax is "mean / max s (n)" of l, "-" without samples.
func meanMax(l lab.Latencies) string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%s / %s s (n=%d)", lab.FmtOpt(l.Mean, "%.1f"), lab.FmtOpt(l.Max, "%.1f"), l.Count)
}

// Page is the report page.
func (r *Result) Page() *lab.Page {
	p := lab.NewPage("Myriad chaos: components killed and paused under a steady workload", &r.RunInfo,
		"While ConfigMaps are written (each acknowledged write recorded), read back through the API's front door, a Deployment is scaled up and down and a CloneSet is updated in place, "+
			"one process of the cluster at a time is killed (SIGKILL) or paused (SIGSTOP, then SIGCONT). The next fault comes only once the cluster is whole again. "+
			"At the end every acknowledged write is looked for, and the pods are counted once they had time to settle.")
	rows := r.Rows()
	p.Tables = append(p.Tables, lab.Table{Title: "Checks", Head: rows[0], Rows: rows[1:]})
	kt := [][]string{}
	var bars []lab.BarInput
	for _, k := range r.Kinds {
		kt = append(kt, []string{k.Kind, strconv.Itoa(k.Faults), strconv.Itoa(k.Kills), strconv.Itoa(k.Pauses), strconv.Itoa(k.Leaders),
			meanMax(k.KilledLeader), meanMax(k.Service), meanMax(k.Back), fmt.Sprintf("%.1f s", k.Outage), strconv.Itoa(k.Stalled)})
		bars = append(bars, lab.BarInput{Label: k.Kind, Value: k.KilledLeader.Mean, Text: lab.FmtOpt(k.KilledLeader.Mean, "%.1f s")})
	}
	p.Tables = append(p.Tables, lab.Table{Title: "Per component (seconds after the fault)",
		Head: []string{"component", "faults", "SIGKILL", "SIGSTOP", "leader hit", "service back, leader (or only instance) killed: mean / max", "service back, all faults", "process back", "longest API outage", "requests stalled"}, Rows: kt,
		Note: "Service back: an API server or etcd member, the API answering reads and writes again (0 when it never stopped); a leader-elected component, a live instance holding and renewing its Lease; the simulator, a node's Lease renewed. " +
			"A pause counts from the SIGSTOP, so its service time includes the pause unless a standby took over."})
	ft := [][]string{}
	s := func(v *float64) string { return lab.FmtOpt(v, "%.1f s") }
	for i, f := range r.Faults {
		role := "follower"
		switch {
		case f.SinglePoint:
			role = "only instance"
		case f.Leader:
			role = "leader"
		}
		pause := ""
		if f.Pause > 0 {
			pause = fmt.Sprintf("%.1f s", f.Pause)
		}
		ft = append(ft, []string{strconv.Itoa(i + 1), mmss(f.At), "SIG" + f.Signal, f.Process, role, lab.OrDash(pause), s(f.Back), s(f.Service), fmt.Sprintf("%.1f s", f.Outage), strconv.Itoa(f.Stalled), lab.OrDash(f.Err)})
	}
	p.Tables = append(p.Tables, lab.Table{Title: "Every fault", Head: []string{"#", "at", "signal", "process", "role", "paused", "process back", "service back", "API outage", "requests stalled", "error"}, Rows: ft})
	ot := [][]string{}
	for _, k := range []struct {
		name string
		a    Availability
	}{{"read", r.Reads}, {"write", r.Writes}, {"read (one stalled)", Availability{Outages: r.Reads.Stalls}}, {"write (one stalled)", Availability{Outages: r.Writes.Stalls}}} {
		for _, o := range k.a.Outages {
			after := "no fault"
			if o.Fault >= 0 {
				f := r.Faults[o.Fault]
				after = fmt.Sprintf("#%d SIG%s %s", o.Fault+1, f.Signal, f.Process)
			}
			ot = append(ot, []string{k.name, mmss(o.At), fmt.Sprintf("%.1f s", o.Seconds), strconv.Itoa(o.Failed), after, map[bool]string{true: "yes", false: "no"}[o.Violation]})
		}
	}
	p.Tables = append(p.Tables, lab.Table{Title: "API outages (no probe answered) and stalled requests (one probe unanswered past the budget)", Head: []string{"probe", "at", "length", "failed probes", "after fault", "violation"}, Rows: ot,
		Note: fmt.Sprintf("Reads: %d probes, %d failed, p99 %s. Writes: %d, %d failed, p99 %s. A violation is an outage over %.0f s, or one request over %.0f s, that is not the restart of a component's only instance.",
			r.Reads.Probes, r.Reads.Failed, lab.LatH(r.Reads.Latency.P99), r.Writes.Probes, r.Writes.Failed, lab.LatH(r.Writes.Latency.P99), r.BudgetSecond, r.StallSecond)})
	et := [][]string{}
	for _, k := range []struct {
		name string
		e    []ErrorCount
	}{{"read", r.Reads.Errors}, {"write", r.Writes.Errors}} {
		for _, e := range k.e {
			et = append(et, []string{k.name, strconv.Itoa(e.Count), e.Error})
		}
	}
	p.Tables = append(p.Tables, lab.Table{Title: "Failed probes by cause (numbers blanked as N)", Head: []string{"probe", "count", "error"}, Rows: et})
	p.Bars = append(p.Bars, lab.NewBarChart("Time to recovery when a component's leader (or only instance) is killed, mean", "seconds", bars))
	lines := []lab.Line{
		{Name: "read p99", Points: lab.PercentileSeries(r.reads, r.from, 5*time.Second, 0.99)},
		{Name: "write p99", Points: lab.PercentileSeries(r.writes, r.from, 5*time.Second, 0.99)},
		{Name: "failed probes", Points: failures(append(append([]lab.TimedOp(nil), r.reads...), r.writes...), r.from, 5*time.Second)},
	}
	c := lab.NewChart("API latency (p99 of each 5 s, successful probes) and failed probes per 5 s, a dashed line at each fault", "ms / count", 0, lines)
	for i, f := range r.Faults {
		c.MarkAt(lines, f.At, fmt.Sprintf("%d", i+1))
	}
	p.Charts = append(p.Charts, c)
	if r.Checked {
		pt := [][]string{
			{"Deployment", strconv.Itoa(r.Pods.DeploymentReplicas), fmt.Sprintf("%d (%d Running)", r.Pods.DeploymentPods, r.Pods.DeploymentRunning), fmt.Sprintf("%d scales (%d refused or unanswered)", r.Pods.Scales, r.Pods.ScaleFailures)},
			{"CloneSet", strconv.Itoa(r.Pods.CloneSetReplicas), fmt.Sprintf("%d created in all, %d deleted, %d updated and Ready", r.Pods.CloneSetCreated, r.Pods.CloneSetDeleted, r.Pods.CloneSetUpdated),
				fmt.Sprintf("%d in-place updates (%d refused or unanswered)", r.Pods.Rollouts, r.Pods.RolloutFailures)},
		}
		p.Tables = append(p.Tables, lab.Table{Title: fmt.Sprintf("Pods after the faults (settled: %v, in %.0f s)", r.Pods.Settled, r.Pods.SettledSeconds), Head: []string{"workload", "replicas", "pods", "changes during the faults"}, Rows: pt})
	}
	p.Meaning = []string{
		"Nothing acknowledged may be lost: etcd makes a write durable on a quorum before the API server answers, and every member fsyncs. A write whose answer never came (a timeout, a reset connection) may or may not have landed; it is counted, not judged.",
		"Pods: the CloneSet's pods are updated in place and never scaled, so every pod it created beyond its replicas was created twice, and every pod that went away was lost. The Deployment must end with exactly its replicas Running.",
		"A request in flight when etcd's leader goes away is held by etcd until its request timeout (5 s plus two election timeouts: 7 s) and then fails with \"request timed out\": etcd does not propose it again to the new leader. Such requests are the stalled ones after an etcd leader's fault; the stall budget allows them and nothing longer.",
		"Without --ha the API server and etcd are single instances: killing or pausing one stops the API until it is back, which the report shows as a warning, not a violation. With --ha every outage over the budget is a violation.",
	}
	return p
}

// failures counts failed ops per width since t0.
func failures(ops []lab.TimedOp, t0 time.Time, width time.Duration) []lab.XY {
	n := map[int]int{}
	last := 0
	for _, op := range ops {
		b := int(op.At.Sub(t0) / width)
		last = max(last, b)
		if op.Err {
			n[b]++
		}
	}
	if len(ops) == 0 {
		return nil
	}
	out := make([]lab.XY, 0, last+1)
	for b := 0; b <= last; b++ {
		out = append(out, lab.XY{X: (time.Duration(b)*width + width/2).Seconds(), Y: float64(n[b])})
	}
	return out
}

// mmss is seconds since the faults began as m:ss.
func mmss(sec float64) string {
	d := time.Duration(sec) * time.Second
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
