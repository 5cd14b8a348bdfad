package daemonset

import (
	"fmt"
	"strconv"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// maxAPIKindsShown keeps the request tables readable; result.json has all.
const maxAPIKindsShown = 14

// flowNote says who the flow schemas are.
const flowNote = "myriad-manager: the Advanced DaemonSet controller; myriad-nodesim: the simulated kubelets' pod work (-heartbeat: Leases and node status); kube-scheduler; kube-system-service-accounts: kube-controller-manager's controllers (the upstream DaemonSet's, the garbage collector); exempt: admin clients, the bench among them."

// Rows are what the command prints: the phases, then the comparison.
func (r *Result) Rows() [][]string {
	rows := append([][]string{phaseHead(r)}, phaseRows(r)...)
	rows = append(rows, []string{""})
	return append(rows, comparisonRows(r)...)
}

// Page is the report page.
func (r *Result) Page() *lab.Page { return page(r) }

func phaseHead(r *Result) []string {
	h := []string{""}
	for _, p := range r.Phases {
		h = append(h, p.Column())
	}
	return h
}

func phaseRows(r *Result) [][]string {
	row := func(name string, f func(Phase) string) []string {
		out := []string{name}
		for _, p := range r.Phases {
			out = append(out, f(p))
		}
		return out
	}
	sec := func(v *float64) string { return lab.FmtOpt(v, "%.1f s") }
	itoa := strconv.Itoa
	rows := [][]string{
		row("agent image", func(p Phase) string { return p.Image }),
		row("nodes owed an agent", func(p Phase) string { return itoa(p.Want) }),
		row("write → every node's agent updated, status agreeing", func(p Phase) string { return sec(p.Seconds) }),
	}
	rows = append(rows, lab.RolloutRows(func(name string, cell func(lab.RolloutPhase) string) []string {
		return row(name, func(p Phase) string { return cell(p.RolloutPhase) })
	})...)
	return append(rows, [][]string{
		row("most nodes without a ready agent at once (allowed)", func(p Phase) string {
			if p.Budget == nil {
				return itoa(p.MaxWithout) + " (creation)"
			}
			return fmt.Sprintf("%d (%d)", p.MaxWithout, *p.Budget)
		}),
		row("agents recreated (UID gone) / UIDs kept", func(p Phase) string { return itoa(p.Recreated) + " / " + itoa(p.UIDsKept) }),
		row("agents created", func(p Phase) string { return itoa(p.Created) }),
		row("API writes, all but Leases (per node)", func(p Phase) string {
			if p.APIWritesPerNode == nil {
				return "—"
			}
			return fmt.Sprintf("%.0f (%.2f)", p.APIWrites, *p.APIWritesPerNode)
		}),
		row("… on pods", func(p Phase) string { return fmt.Sprintf("%.0f", p.PodWrites) }),
		row("requests by myriad-manager (its flow schema)", func(p Phase) string { return lab.FmtOpt(p.ManagerRequests, "%.0f") }),
		row("CPU seconds, every sampled process", func(p Phase) string { return lab.FmtOpt(p.CPUSeconds, "%.1f") }),
		row("CPU seconds of other work on the machine (shared)", func(p Phase) string { return lab.FmtOpt(p.OtherCPUSeconds, "%.1f") }),
		row("result", func(p Phase) string {
			if p.Done {
				return "done"
			}
			return "stopped: " + p.Reached
		}),
	}...)
}

func comparisonRows(r *Result) [][]string {
	c := r.Comparison
	without := func(v *int) string {
		if v == nil {
			return "—"
		}
		return strconv.Itoa(*v)
	}
	return [][]string{
		{"agent rollout in place (InPlaceIfPossible)", lab.FmtOpt(c.InPlaceSeconds, "%.1f s") + ", at most " + without(c.InPlaceMaxWithout) + " nodes without a ready agent, " + lab.FmtOpt(c.InPlaceWritesPerNode, "%.2f") + " writes per node"},
		{"agent rollout recreating (Standard)", lab.FmtOpt(c.RecreateSeconds, "%.1f s") + ", at most " + without(c.RecreateMaxWithout) + " nodes without a ready agent, " + lab.FmtOpt(c.RecreateWritesPerNode, "%.2f") + " writes per node"},
		{"agent rollout by an upstream DaemonSet", lab.FmtOpt(c.UpstreamSeconds, "%.1f s") + ", at most " + without(c.UpstreamMaxWithout) + " nodes without a ready agent, " + lab.FmtOpt(c.UpstreamWritesPerNode, "%.2f") + " writes per node"},
		{"recreate / in place; upstream / in place", lab.FmtOpt(c.RecreateOverInPlace, "%.2f×") + "; " + lab.FmtOpt(c.UpstreamOverInPlace, "%.2f×")},
	}
}

func page(r *Result) *lab.Page {
	intro := []string{
		fmt.Sprintf("An agent on every one of %d simulated nodes: an Advanced DaemonSet (apps.kruise.io/v1beta1) whose one container tolerates every taint is created, "+
			"then its image is rolled with rollingUpdateType InPlaceIfPossible (the node restarts the container, the pod keeps its UID), "+
			"then rolled again with rollingUpdateType Standard (every pod deleted and recreated), both with maxUnavailable %s and no surge.", r.Nodes, r.MaxUnavailable),
		"Each phase is timed from the DaemonSet write until every node's agent runs the new image (spec and status) and is Ready, no other agent is live, " +
			"and the DaemonSet's status for that generation says desired = ready = updated = available = nodes. " +
			"The nodes without a ready agent (no agent of the DaemonSet on the node that is Ready, with InPlaceUpdateReady not False, and not terminating) are counted at every pod event of the watch.",
	}
	if r.HandOverSeconds != nil {
		intro = append(intro, fmt.Sprintf("For comparison, the Advanced DaemonSet was then deleted and its agents were gone after %.1f s (not timed); "+
			"an upstream apps/v1 DaemonSet (kube-controller-manager) was created with the first image and rolled to the second with RollingUpdate and the same maxUnavailable.", *r.HandOverSeconds))
	}
	intro = append(intro, r.Notes...)
	p := lab.NewPage(fmt.Sprintf("Myriad Advanced DaemonSet: an agent image rollout across %d nodes, in place vs recreating vs upstream", r.Nodes), &r.RunInfo, intro...)
	phases := lab.Table{Title: "Phases", Head: phaseHead(r), Rows: phaseRows(r)}
	if r.StartupSeconds != nil {
		phases.Note = fmt.Sprintf("Cluster start-up until every node was Ready: %s (not part of any phase).", lab.SecondsH(*r.StartupSeconds))
	}
	costs, per := make([]rig.PhaseCost, len(r.Phases)), make([]int, len(r.Phases))
	for i, ph := range r.Phases {
		costs[i], per[i] = ph.PhaseCost, ph.Want
	}
	p.Tables = append([]lab.Table{{Title: "The comparison, same run", Rows: comparisonRows(r)}, phases},
		rig.CostTables(phaseHead(r), costs, "per node", per, flowNote, "The Advanced DaemonSet controller's own counters per phase",
			"pod …: its pod writes by operation; expectation waits: passes deferred until its cache showed its own writes.", maxAPIKindsShown)...)
	p.Bars, p.Charts = bars(r), charts(r)
	p.Meaning = []string{
		"In place, the controller marks the pod's InPlaceUpdateReady condition False (the pod leaves Ready), patches the image, and the node restarts that one container: " +
			"the pod keeps its UID, IP and node, and nothing is scheduled. Recreating, every pod is deleted, its node confirms the kill, and a new pod is created for the node and started. " +
			"On simulated nodes a container starts at once, so the gap measured here is the control plane's alone; real nodes widen it by image pulls and start-up.",
		"maxUnavailable bounds the nodes a rollout may leave without an available agent at once; a percentage is of the nodes owed an agent, rounded up, as both DaemonSet controllers resolve it. " +
			"The count is the pod watch's: a moment between two events of the watch is not seen, but every event is.",
	}
	return p
}

func bars(r *Result) []lab.BarChart {
	phases, writes := make([]lab.RolloutPhase, len(r.Phases)), make([]*float64, len(r.Phases))
	for i, ph := range r.Phases {
		phases[i], writes[i] = ph.RolloutPhase, ph.APIWritesPerNode
	}
	return lab.RolloutBars("Agent image rollout", "node", phases, writes)
}

func charts(r *Result) []lab.Chart {
	var rollouts, creations []lab.Line
	budget := -1
	for _, ph := range r.Phases {
		line := lab.CoverageLine(ph.Column(), ph.Coverage)
		if !rollout(ph.Kind) {
			creations = append(creations, line)
			continue
		}
		rollouts = append(rollouts, line)
		if ph.Budget != nil {
			budget = max(budget, *ph.Budget)
		}
	}
	var out []lab.Chart
	if len(rollouts) > 0 {
		if budget >= 0 {
			rollouts = append(rollouts, lab.BudgetLine("maxUnavailable "+r.MaxUnavailable, budget, rollouts))
		}
		out = append(out, lab.NewChart("Rollouts: nodes without a ready agent (most in each second; x: seconds since the write)", "nodes", 0, rollouts))
	}
	if len(creations) > 0 {
		out = append(out, lab.NewChart("Creation: nodes without a ready agent (x: seconds since the create)", "nodes", 0, creations))
	}
	for _, ph := range r.Phases {
		out = append(out, lab.PodSeriesChart(fmt.Sprintf("Phase %s: agents (x: seconds since the write)", ph.Column()), ph.Series))
	}
	return out
}
