package lab

import (
	"fmt"
	"sort"
)

// The workload scenarios' reports (`myriad bench daemonset`,
// `statefulset`) show the same figures per phase; this file draws them
// once. A scenario keeps its own titles and words.

// WritesTable is the API writes of each phase (cols, under head's phase
// names; head[0] is the corner) by verb and resource, with the count per
// unit (per[i] of phase i: its pods, its nodes), the most written first;
// unit names it in the title ("per pod").
func WritesTable(unit string, head []string, cols [][]APIRequestCount, per []int, maxShown int) (Table, bool) {
	total := map[[2]string]float64{}
	counts := make([]map[[2]string]float64, len(cols))
	for i, col := range cols {
		counts[i] = map[[2]string]float64{}
		for _, c := range col {
			k := [2]string{c.Verb, c.Resource}
			total[k] += c.Count
			counts[i][k] += c.Count
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
	t := Table{Title: "API writes per phase by verb and resource, Leases left out: count (" + unit + ")", Head: head}
	for i, k := range keys {
		if i == maxShown {
			t.Note = fmt.Sprintf("%d further kinds of write in result.json.", len(keys)-maxShown)
			break
		}
		row := []string{k[0] + " " + k[1]}
		for j := range cols {
			n := counts[j][k]
			row = append(row, fmt.Sprintf("%.0f (%.2f)", n, n/float64(max(per[j], 1))))
		}
		t.Rows = append(t.Rows, row)
	}
	return t, true
}

// CoverageLine is a phase's slots without a ready pod, the most in each
// second, as a chart's line called name.
func CoverageLine(name string, series []CoveragePoint) Line {
	pts := make([]XY, 0, len(series))
	for _, c := range series {
		pts = append(pts, XY{X: c.T, Y: float64(c.Peak)})
	}
	return Line{Name: name, Points: pts}
}

// BudgetLine is a flat line at budget from 0 to the end of the longest of
// lines: maxUnavailable on a chart of unavailability.
func BudgetLine(name string, budget int, lines []Line) Line {
	xmax := 0.0
	for _, l := range lines {
		if n := len(l.Points); n > 0 {
			xmax = max(xmax, l.Points[n-1].X)
		}
	}
	return Line{Name: name, Points: []XY{{X: 0, Y: float64(budget)}, {X: xmax, Y: float64(budget)}}}
}

// PodSeriesChart is a phase's pods over time: updated, available, live
// and terminating (x: seconds since the write).
func PodSeriesChart(title string, series []PodPoint) Chart {
	var updated, avail, live, term []XY
	for _, pt := range series {
		updated = append(updated, XY{X: pt.T, Y: float64(pt.Updated)})
		avail = append(avail, XY{X: pt.T, Y: float64(pt.Available)})
		live = append(live, XY{X: pt.T, Y: float64(pt.Live)})
		term = append(term, XY{X: pt.T, Y: float64(pt.Terminating)})
	}
	return NewChart(title, "pods", 0, []Line{{Name: "updated (new image, Ready)", Points: updated}, {Name: "available", Points: avail},
		{Name: "live (not terminating)", Points: live}, {Name: "terminating", Points: term}})
}
