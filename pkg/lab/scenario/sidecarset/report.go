package sidecarset

import (
	"fmt"
	"strconv"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// maxAPIKindsShown keeps the request table readable; result.json has all.
const maxAPIKindsShown = 14

// flowNote says who the flow schemas are.
const flowNote = "myriad-manager: the SidecarSet controller; myriad-nodesim: the simulated kubelets' pod work (-heartbeat: Leases and node status); kube-scheduler; kube-system-service-accounts: kube-controller-manager's controllers (the Deployment's); exempt: admin clients, the bench among them."

// Rows are what the command prints: creation, then the upgrade, then the
// comparisons.
func (r *Result) Rows() [][]string {
	rows := append([][]string{createHead(r)}, createRows(r)...)
	rows = append(rows, []string{""}, upgradeHead(r))
	rows = append(rows, upgradeRows(r)...)
	rows = append(rows, []string{""})
	return append(rows, comparisonRows(r)...)
}

// Page is the report page.
func (r *Result) Page() *lab.Page { return page(r) }

func createName(p CreatePhase) string {
	return fmt.Sprintf("%d create, %s", p.Order, setsN(p.SidecarSets))
}

func upgradeName(p UpgradePhase) string { return fmt.Sprintf("%d %s", p.Order, p.Kind) }

func createHead(r *Result) []string {
	h := []string{""}
	for _, p := range r.Create {
		h = append(h, createName(p))
	}
	return h
}

func upgradeHead(r *Result) []string {
	h := []string{""}
	for _, p := range r.Upgrades {
		h = append(h, upgradeName(p))
	}
	return h
}

func lat(l lab.Latencies) string {
	ms := func(v *float64) string { return lab.FmtOpt(lab.ScaledPtr(v, 1000), "%.1f") }
	return ms(l.P50) + " / " + ms(l.P90) + " / " + ms(l.P99) + " / " + ms(l.Max) + " ms"
}

func count(v float64, per *float64) string {
	if v == 0 && per == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f (%s per pod)", v, lab.FmtOpt(per, "%.2f"))
}

func costRows(cols []Cost) [][]string {
	row := func(name string, f func(Cost) string) []string {
		out := []string{name}
		for _, c := range cols {
			out = append(out, f(c))
		}
		return out
	}
	return [][]string{
		row("API writes, all but Leases", func(c Cost) string { return count(c.APIWrites, c.APIWritesPerPod) }),
		row("… on pods", func(c Cost) string { return fmt.Sprintf("%.0f", c.PodWrites) }),
		row("requests by myriad-manager (its flow schema)", func(c Cost) string { return lab.FmtOpt(c.ManagerRequests, "%.0f") }),
		row("CPU seconds, every sampled process", func(c Cost) string { return lab.FmtOpt(c.CPUSeconds, "%.1f") }),
		row("CPU seconds of other work on the machine (shared)", func(c Cost) string { return lab.FmtOpt(c.OtherCPUSeconds, "%.1f") }),
	}
}

func createRows(r *Result) [][]string {
	row := func(name string, f func(CreatePhase) string) []string {
		out := []string{name}
		for _, p := range r.Create {
			out = append(out, f(p))
		}
		return out
	}
	itoa := strconv.Itoa
	rows := [][]string{
		row("pods created / asked", func(p CreatePhase) string { return itoa(p.Created) + " / " + itoa(p.Want) }),
		row("first create → last answer", func(p CreatePhase) string { return fmt.Sprintf("%.1f s", p.Seconds) }),
		row(fmt.Sprintf("pods per second (%d in flight)", r.Concurrency), func(p CreatePhase) string { return lab.FmtOpt(p.PodsPerSecond, "%.1f") }),
		row("create latency p50 / p90 / p99 / max", func(p CreatePhase) string { return lat(p.Latency) }),
		row("create errors", func(p CreatePhase) string { return itoa(p.Errors) }),
		row("pods without exactly their sidecars", func(p CreatePhase) string { return itoa(p.Wrong) }),
		row("SidecarSets written → policies in force (not timed)", func(p CreatePhase) string { return fmt.Sprintf("%.1f s", p.PolicyWaitSeconds) }),
		row("deleting the pods afterwards (not timed)", func(p CreatePhase) string { return fmt.Sprintf("%.1f s", p.DeleteSeconds) }),
	}
	cols := make([]Cost, len(r.Create))
	for i, p := range r.Create {
		cols[i] = p.Cost
	}
	rows = append(rows, costRows(cols)...)
	return append(rows, row("result", func(p CreatePhase) string {
		if p.Done {
			return "done"
		}
		return "stopped: " + p.Err
	}))
}

func upgradeRows(r *Result) [][]string {
	row := func(name string, f func(UpgradePhase) string) []string {
		out := []string{name}
		for _, p := range r.Upgrades {
			out = append(out, f(p))
		}
		return out
	}
	sec := func(v *float64) string { return lab.FmtOpt(v, "%.1f s") }
	itoa := strconv.Itoa
	rows := [][]string{
		row("sidecar image", func(p UpgradePhase) string { return p.Image }),
		row("write → every pod updated and status agreeing", func(p UpgradePhase) string { return sec(p.Seconds) }),
		row("… every pod updated, as the pod watch saw it", func(p UpgradePhase) string { return sec(p.PodsSeconds) }),
		row("… SidecarSet status said so", func(p UpgradePhase) string { return sec(p.StatusSeconds) }),
		row("pods per second", func(p UpgradePhase) string { return lab.FmtOpt(p.PodsPerSecond, "%.1f") }),
		row("per pod, write → updated: p50 / p90 / p99 / max", func(p UpgradePhase) string {
			l := p.UpdateLatency
			return lab.FmtOpt(l.P50, "%.1f") + " / " + lab.FmtOpt(l.P90, "%.1f") + " / " + lab.FmtOpt(l.P99, "%.1f") + " / " + lab.FmtOpt(l.Max, "%.1f s")
		}),
		row("pods recreated (UID gone)", func(p UpgradePhase) string { return itoa(p.Recreated) }),
		row("pods created", func(p UpgradePhase) string { return itoa(p.Created) }),
		row("pods whose sidecar restarted in place", func(p UpgradePhase) string { return itoa(p.RestartedInPlace) }),
		row(fmt.Sprintf("most pods unavailable at once (maxUnavailable %s = %d)", r.MaxUnavailable, r.MaxUnavailablePods), func(p UpgradePhase) string {
			if p.MaxUnavailable == nil {
				return "—"
			}
			return itoa(*p.MaxUnavailable)
		}),
	}
	cols := make([]Cost, len(r.Upgrades))
	for i, p := range r.Upgrades {
		cols[i] = p.Cost
	}
	rows = append(rows, costRows(cols)...)
	return append(rows, row("result", func(p UpgradePhase) string {
		if p.Done {
			return "done"
		}
		return "stopped: " + p.Reached
	}))
}

func comparisonRows(r *Result) [][]string {
	c := r.Comparison
	var rows [][]string
	for i, p := range r.Create {
		rows = append(rows, []string{fmt.Sprintf("creation with %s: pods/s, p99 (vs none)", setsN(p.SidecarSets)),
			lab.FmtOpt(c.CreatePodsPerSecond[i], "%.1f") + " pods/s (" + lab.FmtOpt(c.ThroughputVsNone[i], "%.2f×") + "), p99 " +
				lab.FmtOpt(lab.ScaledPtr(c.CreateP99Seconds[i], 1000), "%.1f ms") + " (" + lab.FmtOpt(c.P99VsNone[i], "%.2f×") + ")"})
	}
	return append(rows,
		[]string{"sidecar upgrade in place", lab.FmtOpt(c.InPlaceSeconds, "%.1f s")},
		[]string{"sidecar upgrade by recreating the pods", lab.FmtOpt(c.RecreateSeconds, "%.1f s")},
		[]string{"recreate / in place", lab.FmtOpt(c.RecreateOverInPlace, "%.2f×") + " (in place faster by " + lab.FmtOpt(c.InPlaceFasterPercent, "%.0f%%") + ")"},
		[]string{"API writes per pod, in place / recreate", lab.FmtOpt(c.InPlaceWritesPerPod, "%.2f") + " / " + lab.FmtOpt(c.RecreateWritesPerPod, "%.2f")},
	)
}

func page(r *Result) *lab.Page {
	intro := []string{
		fmt.Sprintf("Pod creation: %d bare pods (never scheduled, so a phase is admission and storage alone) are created %d at a time, three times: with no SidecarSet, "+
			"with one selecting every pod, and with %d each selecting its own 1/%d of the pods by a label, so each pod gets one sidecar but meets all %d MutatingAdmissionPolicy bindings. "+
			"Each create is timed request to answer, and every answer is checked to carry exactly its sidecars. The policies are in force (dry-run probes injected) before timing starts.",
			r.Pods, r.Concurrency, r.SidecarSets, r.SidecarSets, r.SidecarSets),
		fmt.Sprintf("Sidecar upgrade: a Deployment of %d pods on %d nodes with a SidecarSet's sidecar injected; the sidecar's image is changed in place (updateStrategy RollingUpdate, maxUnavailable %s), "+
			"then changed again with updateStrategy NotUpdate and the Deployment rolled (same maxUnavailable, no surge) so every pod is recreated and re-injected. "+
			"Each is timed from the SidecarSet write until every pod's sidecar runs the new image (spec and status) and the pod is Ready, with the SidecarSet's status "+
			"(updatedPods = updatedReadyPods = matchedPods, current generation) agreeing.", r.Pods, r.Nodes, r.MaxUnavailable),
	}
	intro = append(intro, r.Notes...)
	p := lab.NewPage(fmt.Sprintf("Myriad SidecarSet: pod creation with 0, 1 and %d SidecarSets; a sidecar upgrade across %d pods in place vs recreating", r.SidecarSets, r.Pods), &r.RunInfo, intro...)
	cmp := lab.Table{Title: "The comparisons, same run", Rows: comparisonRows(r)}
	create := lab.Table{Title: "Pod creation", Head: createHead(r), Rows: createRows(r)}
	upgrade := lab.Table{Title: "Sidecar upgrade", Head: upgradeHead(r), Rows: upgradeRows(r)}
	if r.StartupSeconds != nil {
		upgrade.Note = fmt.Sprintf("Cluster start-up until every node was Ready: %s (not part of any phase).", lab.SecondsH(*r.StartupSeconds))
	}
	p.Tables = []lab.Table{cmp, create, upgrade}

	head := []string{""}
	var reqs [][]lab.APIRequestCount
	var flows [][]lab.APIFlowCount
	var mgr []map[string]float64
	var procs [][]lab.ProcSummary
	add := func(name string, c Cost) {
		head = append(head, name)
		reqs, flows, mgr, procs = append(reqs, c.APIRequests), append(flows, c.APIFlows), append(mgr, c.Manager), append(procs, c.Processes)
	}
	for _, ph := range r.Create {
		add(createName(ph), ph.Cost)
	}
	for _, ph := range r.Upgrades {
		add(upgradeName(ph), ph.Cost)
	}
	if t, ok := lab.APIRequestsTable(head, reqs, maxAPIKindsShown); ok {
		p.Tables = append(p.Tables, t)
	}
	if t, ok := lab.FlowsTable(head, flows, flowNote); ok {
		p.Tables = append(p.Tables, t)
	}
	if t, ok := lab.CountersTable("The SidecarSet controller's own counters per phase", "policy …: its MutatingAdmissionPolicy and binding writes.", head, mgr); ok {
		p.Tables = append(p.Tables, t)
	}
	if t, ok := lab.ProcessesTable(head, procs); ok {
		p.Tables = append(p.Tables, t)
	}

	var bars []lab.BarInput
	for _, ph := range r.Create {
		bars = append(bars, lab.BarInput{Label: createName(ph), Value: ph.PodsPerSecond, Color: "#2ca02c", Text: lab.FmtOpt(ph.PodsPerSecond, "%.0f pods/s")})
	}
	upBars := []lab.BarInput{}
	for _, ph := range r.Upgrades {
		if ph.Kind == Deploy {
			continue
		}
		color := "#1f77b4"
		if ph.Kind == Recreate {
			color = "#d62728"
		}
		upBars = append(upBars, lab.BarInput{Label: upgradeName(ph), Value: ph.Seconds, Color: color, Text: lab.FmtOpt(ph.Seconds, "%.1f s")})
	}
	if len(bars) > 0 {
		p.Bars = append(p.Bars, lab.NewBarChart("Pod creation throughput", "pods/s", bars))
	}
	if len(upBars) > 0 {
		p.Bars = append(p.Bars, lab.NewBarChart("Sidecar upgrade, write → every pod updated", "s", upBars))
	}
	for _, ph := range r.Upgrades {
		var updated, avail, live, term []lab.XY
		for _, pt := range ph.Series {
			updated = append(updated, lab.XY{X: pt.T, Y: float64(pt.Updated)})
			avail = append(avail, lab.XY{X: pt.T, Y: float64(pt.Available)})
			live = append(live, lab.XY{X: pt.T, Y: float64(pt.Live)})
			term = append(term, lab.XY{X: pt.T, Y: float64(pt.Terminating)})
		}
		p.Charts = append(p.Charts, lab.NewChart(fmt.Sprintf("Phase %s: pods (x: time since the write)", upgradeName(ph)), "pods", 0,
			[]lab.Line{{Name: "updated (new sidecar image, available)", Points: updated}, {Name: "available", Points: avail}, {Name: "live (not terminating)", Points: live}, {Name: "terminating", Points: term}}))
	}
	p.Meaning = []string{
		"Injection is a MutatingAdmissionPolicy per SidecarSet, evaluated inside the API server: no webhook call, nothing to be down. Its cost is what the creation phases compare: " +
			"each binding's selector is matched against every pod, and the matching policy's CEL builds the patch. With one policy per bucket every pod meets all of them and matches one.",
		"In place, the controller changes the sidecar's image on the running pod and the node restarts that one container: the pod keeps its UID, IP, node and volumes. " +
			"Without in-place upgrade a user must recreate the pods (a Deployment rollout) for them to meet the new policy at admission: every pod deleted, created, scheduled and started. " +
			"On simulated nodes a container starts at once, so the gap measured here is the control plane's alone; real nodes widen it.",
	}
	return p
}

// setsN is "1 SidecarSet", "N SidecarSets".
func setsN(n int) string {
	if n == 1 {
		return "1 SidecarSet"
	}
	return fmt.Sprintf("%d SidecarSets", n)
}
