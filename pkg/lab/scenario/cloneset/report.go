package cloneset

import (
	"fmt"
	"strconv"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// palette colours the bars: in place, ReCreate.
var palette = []string{"#1f77b4", "#d62728"}

// Rows are what the command prints: the figures per phase, then in place
// against ReCreate.
func (r *Result) Rows() [][]string {
	head := []string{""}
	for _, p := range r.Phases {
		head = append(head, PhaseName(p))
	}
	rows := append([][]string{head}, PhaseRows(r)...)
	rows = append(rows, []string{""})
	return append(rows, ComparisonRows(r)...)
}

// Page is the report page.
func (r *Result) Page() *lab.Page { return page(r) }

// maxAPIKindsShown keeps the request table readable; result.json has all.
const maxAPIKindsShown = 14

// PhaseName is a phase's column heading: "2 in-place".
func PhaseName(p Phase) string {
	if p.Kind == Scale {
		return fmt.Sprintf("%d scale 0→%d", p.Order, p.Want)
	}
	return fmt.Sprintf("%d %s", p.Order, p.Kind)
}

// PhaseRows are the per-phase figures (report and terminal): a
// name, then one cell per phase.
func PhaseRows(r *Result) [][]string {
	row := func(name string, f func(Phase) string) []string {
		out := []string{name}
		for _, p := range r.Phases {
			out = append(out, f(p))
		}
		return out
	}
	sec := func(v *float64) string { return lab.FmtOpt(v, "%.1f s") }
	lat := func(l lab.Latencies) string {
		return lab.FmtOpt(l.P50, "%.1f") + " / " + lab.FmtOpt(l.P90, "%.1f") + " / " + lab.FmtOpt(l.P99, "%.1f") + " / " + lab.FmtOpt(l.Max, "%.1f s")
	}
	count := func(v float64, per *float64) string {
		if v == 0 && per == nil {
			return "—"
		}
		return fmt.Sprintf("%.0f (%s per pod)", v, lab.FmtOpt(per, "%.2f"))
	}
	itoa := strconv.Itoa
	return [][]string{
		row("image", func(p Phase) string { return p.Image }),
		row("write → every pod updated and status agreeing", func(p Phase) string { return sec(p.Seconds) }),
		row("… every pod updated, as the pod watch saw it", func(p Phase) string { return sec(p.PodsSeconds) }),
		row("… CloneSet status said so", func(p Phase) string { return sec(p.StatusSeconds) }),
		row("pods per second", func(p Phase) string { return lab.FmtOpt(p.PodsPerSecond, "%.1f") }),
		row("per pod, write → updated: p50 / p90 / p99 / max", func(p Phase) string { return lat(p.UpdateLatency) }),
		row("pods recreated (deleted and replaced)", func(p Phase) string { return itoa(p.Recreated) }),
		row("pods created", func(p Phase) string { return itoa(p.Created) }),
		row("pods whose container restarted in place", func(p Phase) string { return itoa(p.RestartedInPlace) }),
		row(fmt.Sprintf("most pods unavailable at once (maxUnavailable %s = %d)", r.MaxUnavailable, r.MaxUnavailablePods), func(p Phase) string {
			if p.MaxUnavailable == nil {
				return "—"
			}
			return itoa(*p.MaxUnavailable)
		}),
		row("API writes, all but Leases", func(p Phase) string { return count(p.APIWrites, p.APIWritesPerPod) }),
		row("… on pods (incl. status, binding)", func(p Phase) string { return count(p.PodWrites, p.PodWritesPerPod) }),
		row("requests by myriad-manager, reads included (its flow schema)", func(p Phase) string {
			if p.ManagerRequests == nil {
				return "—"
			}
			return count(*p.ManagerRequests, p.ManagerRequestsPerPod)
		}),
		row("Lease writes (node heartbeats, not the workload)", func(p Phase) string { return fmt.Sprintf("%.0f", p.LeaseWrites) }),
		row("CPU seconds, every sampled process", func(p Phase) string { return lab.FmtOpt(p.CPUSeconds, "%.1f") }),
		row("CPU seconds of other work on the machine (shared)", func(p Phase) string {
			if p.OtherCPUSeconds == nil {
				return "—"
			}
			secs := p.End.Sub(p.Start).Seconds()
			return fmt.Sprintf("%.1f (%.2f cores)", *p.OtherCPUSeconds, *p.OtherCPUSeconds/max(secs, 1e-9))
		}),
		row("result", func(p Phase) string {
			if p.Done {
				return "done"
			}
			return "stopped: " + p.Reached
		}),
	}
}

// ComparisonRows are in place against ReCreate.
func ComparisonRows(r *Result) [][]string {
	c := r.Comparison
	runs := func(v []float64) string {
		if len(v) == 0 {
			return "—"
		}
		s := ""
		for i, x := range v {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("%.1f s", x)
		}
		return s
	}
	return [][]string{
		{"rollout time, in place (runs)", lab.FmtOpt(c.InPlaceMean, "%.1f s") + " (" + runs(c.InPlaceSeconds) + ")"},
		{"rollout time, ReCreate (runs)", lab.FmtOpt(c.RecreateMean, "%.1f s") + " (" + runs(c.RecreateSeconds) + ")"},
		{"ReCreate / in place", lab.FmtOpt(c.RecreateOverInPlace, "%.2f×")},
		{"in place is faster by", lab.FmtOpt(c.InPlaceFasterPercent, "%.0f%%") + " (the seed: \"up to 80%\")"},
		{"API writes per pod (all but Leases), in place / ReCreate", lab.FmtOpt(c.InPlaceWritesPerPod, "%.2f") + " / " + lab.FmtOpt(c.RecreateWritesPerPod, "%.2f") +
			" (ReCreate " + lab.FmtOpt(lab.Ratio(c.RecreateWritesPerPod, c.InPlaceWritesPerPod), "%.2f×") + ")"},
		{"CPU seconds of every process, in place / ReCreate", lab.FmtOpt(c.InPlaceCPUSeconds, "%.1f") + " / " + lab.FmtOpt(c.RecreateCPUSeconds, "%.1f") +
			" (ReCreate " + lab.FmtOpt(lab.Ratio(c.RecreateCPUSeconds, c.InPlaceCPUSeconds), "%.2f×") + ")"},
	}
}

func page(r *Result) *lab.Page {
	intro := []string{fmt.Sprintf("One CloneSet (updateStrategy InPlaceIfPossible, maxUnavailable %s, no surge) is scaled from 0 to %d pods on %d nodes, "+
		"then its container image is changed: in place, then with updateStrategy.type ReCreate (every pod deleted and replaced), then in place again so that drift over the run cancels out. "+
		"Each phase is timed from the write that starts it to the pod-watch event after which every pod is Running, Ready (InPlaceUpdateReady not False) and runs the new image, "+
		"and the CloneSet's status says the same (updatedReadyReplicas = replicas for the new generation).", r.MaxUnavailable, r.Pods, r.Nodes)}
	intro = append(intro, r.Notes...)
	p := lab.NewPage(fmt.Sprintf("Myriad CloneSet: %d pods on %d nodes, in place vs ReCreate", r.Pods, r.Nodes), &r.RunInfo, intro...)

	head := []string{""}
	for _, ph := range r.Phases {
		head = append(head, PhaseName(ph))
	}
	phases := lab.Table{Title: "Phases", Head: head, Rows: PhaseRows(r)}
	if r.StartupSeconds != nil {
		phases.Note = fmt.Sprintf("Cluster start-up until every node was Ready: %s (not part of any phase).", lab.SecondsH(*r.StartupSeconds))
	}
	cmp := lab.Table{Title: "In place vs ReCreate, same run", Rows: ComparisonRows(r)}
	p.Tables = []lab.Table{cmp, phases}
	var reqs [][]lab.APIRequestCount
	var flows [][]lab.APIFlowCount
	var mgr []map[string]float64
	var procs [][]lab.ProcSummary
	for _, ph := range r.Phases {
		reqs, flows = append(reqs, ph.APIRequests), append(flows, ph.APIFlows)
		mgr, procs = append(mgr, ph.Manager), append(procs, ph.Processes)
	}
	if t, ok := lab.APIRequestsTable(head, reqs, maxAPIKindsShown); ok {
		p.Tables = append(p.Tables, t)
	}
	if t, ok := lab.FlowsTable(head, flows, "myriad-manager: the CloneSet controller; myriad-nodesim: the simulated kubelets' pod work (-heartbeat: Leases and node status); kube-scheduler; kube-system-service-accounts: kube-controller-manager's controllers; exempt: admin clients, the bench among them."); ok {
		p.Tables = append(p.Tables, t)
	}
	if t, ok := lab.CountersTable("myriad-manager's own counters per phase", "pod …: the CloneSet controller's pod operations by step (an in-place update is a gate write and a pod update, retried on conflict).", head, mgr); ok {
		p.Tables = append(p.Tables, t)
	}
	if t, ok := lab.ProcessesTable(head, procs); ok {
		p.Tables = append(p.Tables, t)
	}
	p.Meaning = cloneSetMeaning(r)

	var bars []lab.BarInput
	for _, ph := range r.Phases {
		if ph.Kind == Scale {
			continue
		}
		color := palette[0]
		if ph.Kind == Recreate {
			color = palette[1]
		}
		bars = append(bars, lab.BarInput{Label: PhaseName(ph), Value: ph.Seconds, Color: color, Text: lab.FmtOpt(ph.Seconds, "%.1f s")})
	}
	if len(bars) > 0 {
		p.Bars = []lab.BarChart{lab.NewBarChart("Rollout time, write → every pod updated", "s", bars)}
	}
	for _, ph := range r.Phases {
		var updated, avail, live, running, term []lab.XY
		for _, pt := range ph.Series {
			updated = append(updated, lab.XY{X: pt.T, Y: float64(pt.Updated)})
			avail = append(avail, lab.XY{X: pt.T, Y: float64(pt.Available)})
			live = append(live, lab.XY{X: pt.T, Y: float64(pt.Live)})
			running = append(running, lab.XY{X: pt.T, Y: float64(pt.Running)})
			term = append(term, lab.XY{X: pt.T, Y: float64(pt.Terminating)})
		}
		ss := []lab.Line{{Name: "updated (new image, available)", Points: updated}, {Name: "available", Points: avail}, {Name: "live (not terminating)", Points: live}, {Name: "terminating", Points: term}}
		if ph.Kind == Scale {
			ss = []lab.Line{{Name: "Running", Points: running}, {Name: "Running and Ready", Points: avail}, {Name: "created (live)", Points: live}}
		}
		p.Charts = append(p.Charts, lab.NewChart(fmt.Sprintf("Phase %s: pods (x: time since the write)", PhaseName(ph)), "pods", 0, ss))
	}
	return p
}

func cloneSetMeaning(r *Result) []string {
	out := []string{
		"In place, the controller takes a pod out of service (InPlaceUpdateReady False), changes its image in one pod update, and the node restarts that one container: the pod keeps its UID, IP, node and volumes, and nothing is scheduled. " +
			"With ReCreate every pod is deleted and a new one created, scheduled, bound and started, each step a write the API server, etcd and the scheduler must absorb; " +
			"both are paced by maxUnavailable, so a rollout is a series of batches of that size and its time is set by how fast one batch turns round.",
		"On simulated nodes a container starts at once: there is no image to pull, no network or volume to set up. Real nodes add those costs to every recreated pod and only the container restart to an in-place one, " +
			"so the gap measured here is what the control plane alone accounts for; on real nodes it is wider.",
	}
	c := r.Comparison
	if c.InPlaceFasterPercent != nil && c.RecreateOverInPlace != nil {
		out = append(out, fmt.Sprintf("In this run in place was %.0f%% faster than ReCreate (ReCreate took %.2f× as long), with %s API writes per pod against %s.",
			*c.InPlaceFasterPercent, *c.RecreateOverInPlace, lab.FmtOpt(c.InPlaceWritesPerPod, "%.1f"), lab.FmtOpt(c.RecreateWritesPerPod, "%.1f")))
	}
	return out
}
