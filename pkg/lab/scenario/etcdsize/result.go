package etcdsize

import (
	"fmt"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Input is what the runs recorded.
type Input struct {
	Info lab.RunInfo
	// Freelists are the types the run was to grow; Runs those it did.
	Freelists []string
	Runs      []Run
	// SideBySide says the runs grew at the same time.
	SideBySide                 bool
	DiskFreeStart, DiskFreeEnd uint64
}

// Result is result.json of the etcd-size scenario.
type Result struct {
	lab.RunInfo
	Runs []Run `json:"runs"`
	// DiskFreeStart and DiskFreeEnd are free bytes where the databases
	// were written, before the first run and after the last.
	DiskFreeStart uint64 `json:"diskFreeStartBytes"`
	DiskFreeEnd   uint64 `json:"diskFreeEndBytes"`
	// SideBySide says the runs grew at the same time; otherwise one after
	// the other.
	SideBySide bool `json:"sideBySide"`
	// Compare is array vs map per size band both runs reached.
	Compare []Compare `json:"compare,omitempty"`
}

// Compare is one size band, array against map.
type Compare struct {
	FromBytes int64    `json:"fromBytes"`
	ToBytes   int64    `json:"toBytes"`
	MapP99    *float64 `json:"mapPutP99Seconds,omitempty"`
	ArrayP99  *float64 `json:"arrayPutP99Seconds,omitempty"`
	// ArrayOverMap is ArrayP99 / MapP99.
	ArrayOverMap    *float64 `json:"arrayOverMap,omitempty"`
	MapCompactP50   *float64 `json:"mapCompactionP50Seconds,omitempty"`
	ArrayCompactP50 *float64 `json:"arrayCompactionP50Seconds,omitempty"`
}

// BuildResult compares the runs and judges them: a run passes if
// it stopped for a planned reason (target, time or disk), not an error.
func BuildResult(in Input) *Result {
	runs := in.Runs
	r := &Result{RunInfo: in.Info, Runs: runs, SideBySide: in.SideBySide, DiskFreeStart: in.DiskFreeStart, DiskFreeEnd: in.DiskFreeEnd}
	byType := map[string]Run{}
	for _, run := range runs {
		byType[run.Freelist] = run
	}
	if m, ok := byType["map"]; ok {
		if a, ok := byType["array"]; ok {
			r.Compare = compareBands(m, a)
		}
	}
	var reasons, warnings []string
	for _, run := range runs {
		switch run.StopReason {
		case StopTarget, StopDuration, StopPartner:
		case StopDisk:
			warnings = append(warnings, fmt.Sprintf("%s: stopped at %s because free disk fell below the limit", run.Freelist, lab.BytesH(float64(run.DBBytes))))
		default:
			reasons = append(reasons, fmt.Sprintf("%s freelist: %s at %s: %s", run.Freelist, lab.OrDash(run.StopReason), lab.BytesH(float64(run.DBBytes)), lab.OrDash(run.Err)))
		}
		// The comparison rests on each run's put latency.
		if run.Put.Count == 0 {
			reasons = append(reasons, lab.NoData(run.Freelist+" freelist: put latency", fmt.Sprintf("no put succeeded in %s", lab.SecondsH(run.Seconds))))
		}
	}
	for _, fl := range in.Freelists {
		if _, ok := byType[fl]; !ok {
			reasons = append(reasons, lab.NoData(fl+" freelist: put latency", "its run did not happen"))
		}
	}
	r.Judge(reasons, warnings)
	return r
}

func compareBands(m, a Run) []Compare {
	ab := map[int64]Band{}
	for _, b := range a.Bands {
		ab[b.FromBytes] = b
	}
	var out []Compare
	for _, mb := range m.Bands {
		b, ok := ab[mb.FromBytes]
		if !ok {
			continue
		}
		out = append(out, Compare{FromBytes: mb.FromBytes, ToBytes: mb.ToBytes, MapP99: mb.Put.P99, ArrayP99: b.Put.P99,
			ArrayOverMap: lab.Ratio(b.Put.P99, mb.Put.P99), MapCompactP50: mb.Compactions.P50, ArrayCompactP50: b.Compactions.P50})
	}
	return out
}
