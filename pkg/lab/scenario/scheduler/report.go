package scheduler

import (
	"fmt"
	"sort"

	"github.com/myriad-dev/myriad/pkg/lab"
)

var colors = map[string]string{Kube: "#1f77b4", Myriad: "#d62728", Ceiling: "#7f7f7f"}

func num(v *float64, format string) string { return lab.FmtOpt(v, format) }

func sec(v *float64) string { return lab.FmtOpt(v, "%.2f s") }

func pct(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f%%", *v*100)
}

func rss(v *int64) string {
	if v == nil {
		return "—"
	}
	return lab.BytesH(float64(*v))
}

func times(v *float64) string { return lab.FmtOpt(v, "%.2f×") }

func orDash(s string) string { return lab.OrDash(s) }

// Rows are the headline figures side by side, then the ratios.
func (r *Result) Rows() [][]string {
	k, m, c := r.Kube, r.Myriad, r.Ceiling
	pending, drain := "—", "—"
	if c.EventsPendingAtLastBinding != nil {
		pending = fmt.Sprint(*c.EventsPendingAtLastBinding)
	}
	if c.EventsDrainSeconds != nil {
		drain = sec(c.EventsDrainSeconds)
	}
	return [][]string{
		{"", "kube", "myriad", "ceiling"},
		{"runs (finished / all)", runsH(k.Runs), runsH(m.Runs), runsH(c.Runs)},
		{"pods/s, scheduler start → last bound", num(k.PodsPerSecond, "%.0f"), num(m.PodsPerSecond, "%.0f"), num(c.BindsPerSecond, "%.0f")},
		{"pods/s, first → last bound (warm-up excluded)", num(k.PodsPerSecondAfterFirstBind, "%.0f"), num(m.PodsPerSecondAfterFirstBind, "%.0f"), num(c.BindsPerSecondAfterFirstBind, "%.0f")},
		{"latency p50, scheduler start → bound", sec(k.LatencyP50), sec(m.LatencyP50), "—"},
		{"latency p99, scheduler start → bound", sec(k.LatencyP99), sec(m.LatencyP99), "—"},
		{"CPU seconds per 1,000 pods (scheduler process)", num(k.CPUSecondsPer1000Pods, "%.2f"), num(m.CPUSecondsPer1000Pods, "%.2f"), "—"},
		{"idle CPU after the last binding (cores)", num(k.IdleCPUCores, "%.3f"), num(m.IdleCPUCores, "%.3f"), "—"},
		{"CPU seconds per 1,000 pods above idle", num(k.CPUSecondsPer1000PodsAboveIdle, "%.2f"), num(m.CPUSecondsPer1000PodsAboveIdle, "%.2f"), "—"},
		{"RSS max (scheduler process)", rss(k.RSSMaxBytes), rss(m.RSSMaxBytes), "—"},
		{"placements feasible (lowest run)", pct(k.FeasibleFraction), pct(m.FeasibleFraction), "—"},
		{"node CPU requested: stddev", pct(k.UtilizationStddev), pct(m.UtilizationStddev), "—"},
		{"node CPU requested: max − min", pct(k.UtilizationRange), pct(m.UtilizationRange), "—"},
		{"APF priority level of the writes", orDash(k.WritesPriorityLevel), orDash(m.WritesPriorityLevel), orDash(c.WritesPriorityLevel)},
		{"event writes pending at the last binding (most)", "—", "—", pending},
		{"… returned after the last binding (longest)", "—", "—", drain},
		{"myriad / kube, pods/s", times(r.Ratios.MyriadOverKubePodsPerSecond)},
		{"myriad / ceiling, pods/s", times(r.Ratios.MyriadOverCeiling)},
		{"kube / myriad, CPU per pod", times(r.Ratios.KubeOverMyriadCPUPerPod)},
		{"kube / myriad, CPU per pod above idle", times(r.Ratios.KubeOverMyriadCPUPerPodAboveIdle)},
	}
}

func runsH(runs []Run) string { return fmt.Sprintf("%d / %d", len(finishedRuns(runs)), len(runs)) }

// allRuns are every phase in the order they ran.
func (r *Result) allRuns() []Run {
	var runs []Run
	for _, group := range [][]Run{r.Kube.Runs, r.Myriad.Runs, r.Ceiling.Runs} {
		runs = append(runs, group...)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Order < runs[j].Order })
	return runs
}

// Page is the report: the side-by-side table, ratios, bars, the bound-pods
// timelines, every run, and where each phase's writes waited in APF.
func (r *Result) Page() *lab.Page {
	title := fmt.Sprintf("Myriad scheduler vs kube-scheduler: %s nodes, pods %s", r.Parameters["nodes"], r.Parameters["pods"])
	events := "Bindings only (the schedulers also record a Scheduled event per pod)"
	if r.Ceiling.Events {
		events = "while as many writers record the Scheduled event per pod that both schedulers record (the same writes, without the decisions)"
	}
	p := lab.NewPage(title, &r.RunInfo,
		fmt.Sprintf("One cluster, no scheduler of its own; phases in the order %s (the reverse half cancels drift). Each phase creates the same pods before its scheduler starts, so latency is from scheduler start (process start and informer sync included) to the pod being seen bound by the bench's watch. Cluster ready in %.1f s.", r.Parameters["order"], r.StartupSeconds),
		fmt.Sprintf("The ceiling is the bench binding the pods itself to precomputed nodes, round-robin, with %d parallel binders, %s. It writes as %s, with the schedulers' own kubeconfig, so its requests meet the same RBAC and wait in the same API Priority and Fairness priority level as the schedulers' (not as the bench's own identity, whose system:masters group APF exempts). Its phase ends when every binding and every event write has returned.",
			r.Ceiling.Binders, events, r.Ceiling.Identity))
	runs := r.allRuns()
	p.Tables = []lab.Table{
		{Title: "Side by side (mean over finished runs)", Rows: r.Rows()[1:16], Head: []string{"", "kube-scheduler", "myriad scheduler", "ceiling"},
			Note: "RSS is the largest and feasibility the lowest of the runs; the ceiling's pods/s run to its last write's return. Idle CPU is the scheduler's rate over --idle-window, which opens once the last pods have settled after its last binding: the cost of following the cluster with nothing to schedule. Above idle takes that rate times the phase's length off the phase's CPU."},
		{Title: "Ratios", Rows: ratioRows(r)},
		runsTable(runs),
	}
	if t := ceilingTable(r.Ceiling.Runs); t != nil {
		p.Tables = append(p.Tables, *t)
	}
	p.Tables = append(p.Tables, apfTable(r, runs), componentsTable(runs))
	p.Bars = bars(r, runs)
	var lines []lab.Line
	for _, run := range runs {
		var pts []lab.XY
		for _, t := range run.Timeline {
			pts = append(pts, lab.XY{X: t.T, Y: float64(t.Bound)})
		}
		lines = append(lines, lab.Line{Name: fmt.Sprintf("#%d %s", run.Order, run.Scheduler), Points: pts})
	}
	ch := lab.NewChart("Bound pods since scheduler start, per run", "pods", 0, lines)
	p.Charts = []lab.Chart{ch}
	p.Meaning = []string{
		"pods/s (start → last bound) includes each scheduler's start-up and informer sync; first → last bound is the steady rate.",
		"myriad / ceiling near 1 means Myriad's scheduler binds about as fast as the API server accepts the same writes from the same identity: the decisions cost little beside the writes.",
		"The APF priority level of the ceiling's writes is what the API server named in each response; a scheduler's is the level of the flow that carried at least as many requests of its identity as it bound pods during its phase (nothing else writes as that identity then).",
	}
	return p
}

func ratioRows(r *Result) [][]string {
	x := r.Ratios
	return [][]string{
		{"myriad / kube, pods/s (start → last bound)", times(x.MyriadOverKubePodsPerSecond)},
		{"myriad / kube, pods/s (first → last bound)", times(x.MyriadOverKubeAfterFirstBind)},
		{"myriad / ceiling, pods/s (start → last bound)", times(x.MyriadOverCeiling)},
		{"myriad / ceiling, pods/s (first → last bound)", times(x.MyriadOverCeilingAfterFirstBnd)},
		{"kube / ceiling, pods/s (start → last bound)", times(x.KubeOverCeiling)},
		{"kube / myriad, CPU per pod", times(x.KubeOverMyriadCPUPerPod)},
		{"kube / myriad, CPU per pod above idle", times(x.KubeOverMyriadCPUPerPodAboveIdle)},
	}
}

func runsTable(runs []Run) lab.Table {
	t := lab.Table{Title: "Runs", Head: []string{"#", "scheduler", "bound", "pods/s", "pods/s after 1st bind", "first bind", "last bind", "p50", "p90", "p99", "CPU s", "CPU s / 1000 pods", "idle cores", "CPU s / 1000 above idle", "RSS max", "feasible", "util. stddev", "util. max−min", "CPU profile", "error"},
		Note: "Times in seconds from scheduler start. CPU is the scheduler process's utime + stime from its start to the last bind. A CPU profile (with --cpu-profiles) covers the process from start to stop, with its allocations beside it (NAME-PID.allocs.pprof); read them with go tool pprof."}
	for _, run := range runs {
		var feas, sd, rg *float64
		if q := run.Quality; q != nil {
			feas, sd, rg = &q.FeasibleFraction, &q.UtilizationStddev, &q.UtilizationRange
		}
		t.Rows = append(t.Rows, []string{fmt.Sprint(run.Order), run.Scheduler, fmt.Sprintf("%d / %d", run.Bound, run.Pods),
			num(run.PodsPerSecond, "%.0f"), num(run.PodsPerSecondAfterFirstBind, "%.0f"), num(run.FirstBindSeconds, "%.2f"), num(run.LastBindSeconds, "%.2f"),
			num(run.LatencyP50, "%.2f"), num(run.LatencyP90, "%.2f"), num(run.LatencyP99, "%.2f"), num(run.CPUSeconds, "%.2f"), num(run.CPUSecondsPer1000Pods, "%.2f"),
			num(run.IdleCPUCores, "%.3f"), num(run.CPUSecondsPer1000PodsAboveIdle, "%.2f"), rss(run.RSSMaxBytes), pct(feas), pct(sd), pct(rg), orDash(run.CPUProfile), orDash(run.Error)})
	}
	return t
}

func ceilingTable(runs []Run) *lab.Table {
	if len(runs) == 0 {
		return nil
	}
	t := &lab.Table{Title: "The ceiling's writes", Head: []string{"#", "identity", "bindings", "event writes", "failed", "pending at the last binding", "returned after it", "all writes done", "APF flows (its responses)"},
		Note: "An event write still out when the last binding returns is work the API server has yet to do: the ceiling's phase, and its pods/s, end when the last one returns."}
	for _, run := range runs {
		w := run.CeilingWrites
		if w == nil {
			t.Rows = append(t.Rows, []string{fmt.Sprint(run.Order), "—", "—", "—", "—", "—", "—", "—", "—"})
			continue
		}
		t.Rows = append(t.Rows, []string{fmt.Sprint(run.Order), w.Identity, fmt.Sprint(w.Bindings), fmt.Sprint(w.EventWrites), fmt.Sprint(w.EventErrors),
			fmt.Sprint(w.EventsPendingAtLastBinding), sec(w.EventsDrainSeconds), sec(w.WritesDoneSeconds), flowsH(w.Flows)})
	}
	return t
}

func apfTable(r *Result, runs []Run) lab.Table {
	t := lab.Table{Title: "Where each phase's requests waited in API Priority and Fairness", Head: []string{"#", "scheduler", "writes' priority level", "requests dispatched during the phase (flow schema / priority level)"}}
	if f := r.IdentityFlow; f != nil {
		t.Note = fmt.Sprintf("A Scheduled event write as %s (dry run) matches flow schema %s, priority level %s.", CeilingIdentity, f.FlowSchema, f.PriorityLevel)
	}
	for _, run := range runs {
		t.Rows = append(t.Rows, []string{fmt.Sprint(run.Order), run.Scheduler, orDash(run.WritesPriorityLevel), flowsH(run.APFDispatched)})
	}
	return t
}

func flowsH(fs []FlowCount) string {
	if len(fs) == 0 {
		return "—"
	}
	s := ""
	for i, f := range fs {
		if i == 6 {
			s += ", …"
			break
		}
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s / %s: %.0f", f.FlowSchema, f.PriorityLevel, f.Requests)
	}
	return s
}

func componentsTable(runs []Run) lab.Table {
	seen := map[string]bool{}
	var names []string
	for _, run := range runs {
		for n := range run.ComponentCPUSeconds {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	t := lab.Table{Title: "CPU seconds of other processes per run (scheduler start → last bind)", Head: append([]string{"#", "scheduler"}, names...)}
	for _, run := range runs {
		row := []string{fmt.Sprint(run.Order), run.Scheduler}
		for _, n := range names {
			v, ok := run.ComponentCPUSeconds[n]
			if !ok {
				row = append(row, "—")
				continue
			}
			row = append(row, fmt.Sprintf("%.1f", v))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func bars(r *Result, runs []Run) []lab.BarChart {
	bar := func(label string, v *float64, kind, format string) lab.BarInput {
		return lab.BarInput{Label: label, Value: v, Color: colors[kind], Text: lab.FmtOpt(v, format)}
	}
	var rate []lab.BarInput
	for _, run := range runs {
		rate = append(rate, bar(fmt.Sprintf("#%d %s", run.Order, run.Scheduler), run.PodsPerSecond, run.Scheduler, "%.0f"))
	}
	rate = append(rate,
		bar("kube (mean)", r.Kube.PodsPerSecond, Kube, "%.0f"),
		bar("myriad (mean)", r.Myriad.PodsPerSecond, Myriad, "%.0f"),
		bar("ceiling (bench binder)", r.Ceiling.BindsPerSecond, Ceiling, "%.0f"))
	steady := []lab.BarInput{
		bar("kube (mean)", r.Kube.PodsPerSecondAfterFirstBind, Kube, "%.0f"),
		bar("myriad (mean)", r.Myriad.PodsPerSecondAfterFirstBind, Myriad, "%.0f"),
		bar("ceiling (bench binder)", r.Ceiling.BindsPerSecondAfterFirstBind, Ceiling, "%.0f"),
	}
	cpu := []lab.BarInput{
		bar("kube-scheduler", r.Kube.CPUSecondsPer1000Pods, Kube, "%.2f"),
		bar("myriad scheduler", r.Myriad.CPUSecondsPer1000Pods, Myriad, "%.2f"),
	}
	lat := []lab.BarInput{
		bar("kube p50", r.Kube.LatencyP50, Kube, "%.2f"),
		bar("kube p99", r.Kube.LatencyP99, Kube, "%.2f"),
		bar("myriad p50", r.Myriad.LatencyP50, Myriad, "%.2f"),
		bar("myriad p99", r.Myriad.LatencyP99, Myriad, "%.2f"),
	}
	return []lab.BarChart{
		lab.NewBarChart("Pods bound per second, scheduler start → last bound", "pods/s", rate),
		lab.NewBarChart("Pods bound per second, first → last bound (warm-up excluded)", "pods/s", steady),
		lab.NewBarChart("CPU of the scheduler process per 1,000 pods", "CPU seconds", cpu),
		lab.NewBarChart("Scheduling latency, scheduler start → bound", "seconds", lat),
	}
}
