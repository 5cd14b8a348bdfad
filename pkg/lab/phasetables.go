package lab

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Figures and report tables of a scenario made of phases (the workload
// scenarios: cloneset, sidecarset), one column per phase.

// WriteCounts are the writes of an APIRequestDelta: All but Leases (node
// heartbeats, which go on whatever the workload does), Pods those on pods
// and their subresources, Leases apart.
type WriteCounts struct {
	All, Pods, Leases float64
}

// WriteCounts sums the delta's writes.
func (d *APIRequestDelta) WriteCounts() WriteCounts {
	var w WriteCounts
	for _, c := range d.Kinds {
		if !c.Writes() {
			continue
		}
		switch {
		case strings.HasPrefix(c.Resource, "leases."):
			w.Leases += c.Count
			continue
		case c.Resource == "pods" || strings.HasPrefix(c.Resource, "pods/"):
			w.Pods += c.Count
		}
		w.All += c.Count
	}
	return w
}

// FlowCount is the count of one flow schema in the delta, nil when the
// API server did not count it.
func (d *APIRequestDelta) FlowCount(schema string) *float64 {
	for _, f := range d.Flows {
		if f.FlowSchema == schema {
			return Some(f.Count)
		}
	}
	return nil
}

// PhaseCPU is what the processes did over one phase.
type PhaseCPU struct {
	// Processes are the names with samples in [from, to].
	Processes []ProcSummary
	// CPUSeconds is all of them; OtherCPUSeconds what the rest of the
	// machine used meanwhile, MachineCPUSeconds both. Nil unless the
	// series are the cluster's.
	CPUSeconds, OtherCPUSeconds, MachineCPUSeconds *float64
}

// PhaseProcesses cuts the processes' figures of [from, to] out of the
// run's series. clusterSampled says the series are the cluster's (a
// started one); machineCPU is ReadMachineCPU's increase over the phase,
// nil when unknown.
func PhaseProcesses(series map[string][]ProcSample, from, to time.Time, clusterSampled bool, machineCPU *float64) PhaseCPU {
	var out PhaseCPU
	if len(series) == 0 || to.IsZero() {
		return out
	}
	cpu := 0.0
	for _, s := range SummarizeProcs(series, from, to) {
		if s.Samples == 0 {
			continue // a name the process had only before the phase
		}
		out.Processes = append(out.Processes, s)
		cpu += s.CPUSeconds
	}
	if !clusterSampled {
		return out
	}
	out.CPUSeconds = Some(cpu)
	if machineCPU != nil {
		out.MachineCPUSeconds = machineCPU
		out.OtherCPUSeconds = Some(max(0, *machineCPU-cpu))
	}
	return out
}

// MaxUnavailable parses a maxUnavailable flag (a number of pods or a
// percentage) and resolves it against total pods as the workload
// controllers do: a percentage rounded down. flag names it in errors; a
// result of 0 is refused, since a rollout without surge could never start.
func MaxUnavailable(flag, s string, total int) (intstr.IntOrString, int, error) {
	bad := fmt.Errorf("%s must be a number of pods or a percentage from 0%% to 100%%, got %q", flag, s)
	var v intstr.IntOrString
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(pct)
		if err != nil || n < 0 || n > 100 {
			return v, 0, bad
		}
		v = intstr.FromString(s)
	} else {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return v, 0, bad
		}
		v = intstr.FromInt32(int32(min(n, 1<<30)))
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, total, false)
	if err != nil {
		return v, 0, fmt.Errorf("%s: %w", flag, err)
	}
	if n < 1 {
		return v, 0, fmt.Errorf("%s %s of %d pods is 0: a rollout without surge could never start; give at least 1 pod", flag, s, total)
	}
	return v, n, nil
}

// APIRequestsTable is the API server's requests per phase (one column of
// cols per phase, head naming them), the kinds with the most requests over
// the run first, at most maxShown of them.
func APIRequestsTable(head []string, cols [][]APIRequestCount, maxShown int) (Table, bool) {
	total := map[[2]string]float64{}
	per := make([]map[[2]string]APIRequestCount, len(cols))
	for i, col := range cols {
		per[i] = map[[2]string]APIRequestCount{}
		for _, c := range col {
			k := [2]string{c.Verb, c.Resource}
			total[k] += c.Count
			per[i][k] = c
		}
	}
	if len(total) == 0 {
		return Table{}, false
	}
	keys := make([][2]string, 0, len(total))
	for k := range total {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if total[keys[i]] != total[keys[j]] {
			return total[keys[i]] > total[keys[j]]
		}
		return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1]
	})
	t := Table{Title: "API requests served per phase (apiserver_request_total; failed: a code other than 2xx)", Head: head}
	for i, k := range keys {
		if i == maxShown {
			t.Note = fmt.Sprintf("%d further kinds of request in result.json.", len(keys)-maxShown)
			break
		}
		row := []string{k[0] + " " + k[1]}
		for j := range cols {
			c := per[j][k]
			cell := fmt.Sprintf("%.0f", c.Count)
			if c.Failed > 0 {
				cell += fmt.Sprintf(" (%.0f failed)", c.Failed)
			}
			row = append(row, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t, true
}

// FlowsTable is who made the requests per phase: the API server's count
// per API priority and fairness flow schema, each component having its own.
func FlowsTable(head []string, cols [][]APIFlowCount, note string) (Table, bool) {
	total := map[string]float64{}
	per := make([]map[string]float64, len(cols))
	for i, col := range cols {
		per[i] = map[string]float64{}
		for _, f := range col {
			total[f.FlowSchema] += f.Count
			per[i][f.FlowSchema] = f.Count
		}
	}
	if len(total) == 0 {
		return Table{}, false
	}
	names := make([]string, 0, len(total))
	for n := range total {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if total[names[i]] != total[names[j]] {
			return total[names[i]] > total[names[j]]
		}
		return names[i] < names[j]
	})
	t := Table{Title: "Requests by client per phase (API priority and fairness flow schema, reads included)", Head: head, Note: note}
	for _, n := range names {
		row := []string{n}
		for j := range cols {
			row = append(row, fmt.Sprintf("%.0f", per[j][n]))
		}
		t.Rows = append(t.Rows, row)
	}
	return t, true
}

// CountersTable is named counters per phase; a phase whose map is nil was
// not counted ("—").
func CountersTable(title, note string, head []string, cols []map[string]float64) (Table, bool) {
	keys := map[string]bool{}
	for _, c := range cols {
		for k := range c {
			keys[k] = true
		}
	}
	if len(keys) == 0 {
		return Table{}, false
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	t := Table{Title: title, Head: head, Note: note}
	for _, n := range names {
		row := []string{n}
		for _, c := range cols {
			if c == nil {
				row = append(row, "—")
				continue
			}
			row = append(row, fmt.Sprintf("%.0f", c[n]))
		}
		t.Rows = append(t.Rows, row)
	}
	return t, true
}

// ProcessesTable is every process's CPU and RSS per phase.
func ProcessesTable(head []string, cols [][]ProcSummary) (Table, bool) {
	names := map[string]bool{}
	for _, col := range cols {
		for _, s := range col {
			names[s.Name] = true
		}
	}
	if len(names) == 0 {
		return Table{}, false
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	t := Table{Title: "Processes per phase: CPU seconds (cores) · RSS max", Head: head}
	for _, n := range sorted {
		row := []string{n}
		for _, col := range cols {
			cell := "—"
			for _, s := range col {
				if s.Name == n {
					cell = fmt.Sprintf("%.1f (%.2f) · %s", s.CPUSeconds, s.Cores, BytesH(float64(s.RSSMaxBytes)))
					if s.Restarts > 0 {
						cell += fmt.Sprintf(" · restarted %d×", s.Restarts)
					}
				}
			}
			row = append(row, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t, true
}
