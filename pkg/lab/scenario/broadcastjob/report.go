package broadcastjob

import (
	"fmt"
	"strconv"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Rows are what the command prints: one column per phase.
func (r *Result) Rows() [][]string {
	head := []string{""}
	for _, p := range r.Phases {
		head = append(head, p.Kind)
	}
	return append([][]string{head}, phaseRows(r)...)
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
	return [][]string{
		row("nodes (one pod each)", func(p Phase) string { return itoa(p.Want) }),
		row("creation → every pod created", func(p Phase) string { return sec(p.CreatedSeconds) }),
		row("creation → every pod has run", func(p Phase) string { return sec(p.RunningSeconds) }),
		row("creation → every pod Succeeded", func(p Phase) string { return sec(p.SucceededSeconds) }),
		row("creation → … and the job's status complete", func(p Phase) string { return sec(p.Seconds) }),
		row("pods created / succeeded / failed", func(p Phase) string {
			return fmt.Sprintf("%d / %d / %d", p.Final.Created, p.Final.Succeeded, p.Final.Failed)
		}),
		row("status desired / succeeded / active / failed", func(p Phase) string {
			s := p.Status
			return fmt.Sprintf("%d / %d / %d / %d", s.Desired, s.Succeeded, s.Active, s.Failed)
		}),
		row("nodes without a pod / with two or more", func(p Phase) string {
			return fmt.Sprintf("%d / %d", p.NodesWithoutPodCount, p.NodesWithTwoCount)
		}),
		row("API writes, all but Leases", func(p Phase) string {
			if p.APIWritesPerNode == nil {
				return "—"
			}
			return fmt.Sprintf("%.0f (%.2f per node)", p.APIWrites, *p.APIWritesPerNode)
		}),
		row("CPU seconds, all processes", func(p Phase) string { return lab.FmtOpt(p.CPUSeconds, "%.1f") }),
	}
}

// Page is the report page.
func (r *Result) Page() *lab.Page {
	pg := lab.NewPage("BroadcastJob: one pod per node, run to completion", &r.RunInfo,
		fmt.Sprintf("One BroadcastJob (completionPolicy Always, parallelism %s) on %d simulated nodes whose container exits 0 after %gs, timed from its creation until every node's pod Succeeded and the job's status said completed; the API writes are what the API server counted meanwhile.", r.Parallelism, r.Nodes, r.RunForSeconds))
	head := []string{""}
	for _, p := range r.Phases {
		head = append(head, p.Kind)
	}
	pg.Tables = append(pg.Tables, lab.Table{Title: "Phases", Head: head, Rows: phaseRows(r)})
	for _, p := range r.Phases {
		t := lab.Table{Title: "API writes of the " + p.Kind + " phase (Leases left out)", Head: []string{"verb resource", "count", "per node"}}
		for _, c := range p.WriteKinds {
			t.Rows = append(t.Rows, []string{c.Verb + " " + c.Resource, fmt.Sprintf("%.0f", c.Count), fmt.Sprintf("%.2f", c.Count/float64(max(p.Want, 1)))})
		}
		if len(t.Rows) == 0 {
			t.Note = lab.NoData("API writes", "the API server's metrics were not scraped")
		}
		pg.Tables = append(pg.Tables, t)
		var created, running, succeeded []lab.XY
		for _, s := range p.Series {
			created = append(created, lab.XY{X: s.T, Y: float64(s.Created)})
			running = append(running, lab.XY{X: s.T, Y: float64(s.Running)})
			succeeded = append(succeeded, lab.XY{X: s.T, Y: float64(s.Succeeded)})
		}
		pg.Charts = append(pg.Charts, lab.NewChart(p.Kind+": pods over time (seconds after creation)", "pods", 0, []lab.Line{
			{Name: "created", Points: created}, {Name: "have run", Points: running}, {Name: "succeeded", Points: succeeded}}))
	}
	pg.Meaning = append([]string{
		"'Have run' counts pods seen Running or already finished: a short container may go from Pending to Succeeded between two watch events.",
		"The job's status is read every half second, so the status time is up to 0.5 s late.",
		"The upstream comparison is a batch/v1 Job of completions = parallelism = nodes with a required pod anti-affinity on kubernetes.io/hostname: the closest upstream way to run a pod to completion on every node (a DaemonSet restarts its pods). It is not the same promise: a pod that already succeeded no longer repels, so a node may get two and another none; its placement is reported, not judged.",
	}, r.Notes...)
	return pg
}
