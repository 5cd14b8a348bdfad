package statefulset

import (
	"fmt"
	"strconv"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// maxAPIKindsShown keeps the request tables readable; result.json has all.
const maxAPIKindsShown = 14

// flowNote says who the flow schemas are.
const flowNote = "myriad-manager: the Advanced StatefulSet controller; myriad-nodesim: the simulated kubelets' pod work (-heartbeat: Leases and node status); kube-scheduler; kube-system-service-accounts: kube-controller-manager's controllers (the upstream StatefulSet's, the garbage collector); exempt: admin clients, the bench among them."

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
		row("image", func(p Phase) string { return p.Image }),
		row("replicas", func(p Phase) string { return itoa(p.Want) }),
		row("write → every pod updated and Ready, status agreeing", func(p Phase) string { return sec(p.Seconds) }),
	}
	rows = append(rows, lab.RolloutRows(func(name string, cell func(lab.RolloutPhase) string) []string {
		return row(name, func(p Phase) string { return cell(p.RolloutPhase) })
	})...)
	return append(rows, [][]string{
		row("most pods unavailable at once (allowed)", func(p Phase) string {
			switch {
			case p.Budget == nil:
				return itoa(p.MaxUnavailable) + " (creation)"
			case !p.Judged:
				return fmt.Sprintf("%d (%d, not judged)", p.MaxUnavailable, *p.Budget)
			}
			return fmt.Sprintf("%d (%d)", p.MaxUnavailable, *p.Budget)
		}),
		row("pods recreated (UID gone) / UIDs kept / names kept", func(p Phase) string {
			return itoa(p.Recreated) + " / " + itoa(p.UIDsKept) + " / " + itoa(p.NamesKept)
		}),
		row("pods created", func(p Phase) string { return itoa(p.Created) }),
		row("API writes, all but Leases (per pod)", func(p Phase) string {
			if p.APIWritesPerPod == nil {
				return "—"
			}
			return fmt.Sprintf("%.0f (%.2f)", p.APIWrites, *p.APIWritesPerPod)
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
	most := func(v *int) string {
		if v == nil {
			return "—"
		}
		return strconv.Itoa(*v)
	}
	line := func(secs *float64, unavailable *int, writes *float64, mu string) string {
		return lab.FmtOpt(secs, "%.1f s") + ", at most " + most(unavailable) + " pods unavailable (maxUnavailable " + mu + "), " +
			lab.FmtOpt(writes, "%.2f") + " writes per pod"
	}
	upstreamMU := r.UpstreamMaxUnavailable
	if upstreamMU == "" {
		upstreamMU = "—"
	}
	return [][]string{
		{"image rollout in place (Advanced StatefulSet, InPlaceIfPossible)", line(c.InPlaceSeconds, c.InPlaceMaxUnavailable, c.InPlaceWritesPerPod, r.MaxUnavailable)},
		{"image rollout recreating (Advanced StatefulSet, ReCreate)", line(c.RecreateSeconds, c.RecreateMaxUnavailable, c.RecreateWritesPerPod, r.MaxUnavailable)},
		{"image rollout by an upstream StatefulSet (recreating)", line(c.UpstreamSeconds, c.UpstreamMaxUnavailable, c.UpstreamWritesPerPod, upstreamMU)},
		{"recreate / in place; upstream / in place", lab.FmtOpt(c.RecreateOverInPlace, "%.2f×") + "; " + lab.FmtOpt(c.UpstreamOverInPlace, "%.2f×")},
	}
}

func page(r *Result) *lab.Page {
	intro := []string{
		fmt.Sprintf("An Advanced StatefulSet (apps.kruise.io/v1beta1) of %d replicas, podManagementPolicy Parallel, is created, "+
			"then its image is rolled with podUpdatePolicy InPlaceIfPossible (the node restarts the container, the pod keeps its UID and name), "+
			"then rolled again with podUpdatePolicy ReCreate (every pod deleted and created anew under its name), both with maxUnavailable %s.", r.Replicas, r.MaxUnavailable),
		"Each phase is timed from the StatefulSet write until every pod runs the new image (spec and status) and is Ready, no other pod is live, " +
			"and the StatefulSet's status for that generation says replicas = ready = updated = updatedReady. " +
			"The pods unavailable (an ordinal whose pod is missing, terminating, not Ready, or InPlaceUpdateReady False) are counted at every pod event of the watch.",
	}
	if r.HandOverSeconds != nil {
		intro = append(intro, fmt.Sprintf("For comparison, the Advanced StatefulSet was then deleted and its pods were gone after %.1f s (not timed); "+
			"an upstream apps/v1 StatefulSet (kube-controller-manager) of the same replicas, Parallel, was created with the first image and rolled to the second with RollingUpdate, maxUnavailable %s.",
			*r.HandOverSeconds, r.UpstreamMaxUnavailable))
	}
	intro = append(intro, r.Notes...)
	p := lab.NewPage(fmt.Sprintf("Myriad Advanced StatefulSet: %d replicas rolled in place vs recreating vs upstream", r.Replicas), &r.RunInfo, intro...)
	phases := lab.Table{Title: "Phases", Head: phaseHead(r), Rows: phaseRows(r)}
	if r.StartupSeconds != nil {
		phases.Note = fmt.Sprintf("Cluster start-up until every node was Ready: %s (not part of any phase).", lab.SecondsH(*r.StartupSeconds))
	}
	costs, per := make([]rig.PhaseCost, len(r.Phases)), make([]int, len(r.Phases))
	for i, ph := range r.Phases {
		costs[i], per[i] = ph.PhaseCost, ph.Want
	}
	p.Tables = append([]lab.Table{{Title: "The comparison, same run", Rows: comparisonRows(r)}, phases},
		rig.CostTables(phaseHead(r), costs, "per pod", per, flowNote, "The Advanced StatefulSet controller's own counters per phase",
			"pod …: its pod writes by operation; expectation waits: passes deferred until its cache showed its own writes.", maxAPIKindsShown)...)
	p.Bars, p.Charts = bars(r), charts(r)
	p.Meaning = []string{
		"In place, the controller marks the pod's InPlaceUpdateReady condition False (the pod leaves Ready), patches the image, and the node restarts that one container: " +
			"the pod keeps its UID, name, IP and node, and nothing is scheduled. Recreating, each pod is deleted, its node confirms the kill, and a pod of the same name is created, scheduled and started. " +
			"On simulated nodes a container starts at once, so the gap measured here is the control plane's alone; real nodes widen it by image pulls and start-up.",
		"maxUnavailable bounds the pods a rollout may have unavailable at once; a percentage is of the replicas, rounded up, as both StatefulSet controllers resolve it. " +
			"The count is the pod watch's: a moment between two events of the watch is not seen, but every event is. Only the Advanced StatefulSet's rollouts are held to it.",
	}
	return p
}

func bars(r *Result) []lab.BarChart {
	phases, writes := make([]lab.RolloutPhase, len(r.Phases)), make([]*float64, len(r.Phases))
	for i, ph := range r.Phases {
		phases[i], writes[i] = ph.RolloutPhase, ph.APIWritesPerPod
	}
	return lab.RolloutBars("Image rollout", "ordinal", phases, writes)
}

// charts are one chart of unavailable pods per rollout with its budget
// line (the budgets may differ: upstream without the feature gate), one of
// the creations, and each phase's progress.
func charts(r *Result) []lab.Chart {
	var out, creations []lab.Chart
	var createLines []lab.Line
	for _, ph := range r.Phases {
		line := lab.CoverageLine(ph.Column(), ph.UnavailableSeries)
		if !rollout(ph.Kind) {
			createLines = append(createLines, line)
			continue
		}
		lines := []lab.Line{line}
		if ph.Budget != nil {
			lines = append(lines, lab.BudgetLine(fmt.Sprintf("maxUnavailable: %d pods", *ph.Budget), *ph.Budget, lines))
		}
		out = append(out, lab.NewChart(fmt.Sprintf("Rollout %s: pods unavailable (most in each second; x: seconds since the write)", ph.Column()), "pods", 0, lines))
	}
	if len(createLines) > 0 {
		creations = append(creations, lab.NewChart("Creation: pods unavailable (x: seconds since the create)", "pods", 0, createLines))
	}
	out = append(out, creations...)
	for _, ph := range r.Phases {
		out = append(out, lab.PodSeriesChart(fmt.Sprintf("Phase %s: pods (x: seconds since the write)", ph.Column()), ph.Series))
	}
	return out
}
