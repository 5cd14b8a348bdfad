package longread

import (
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Phase kinds.
const (
	Baseline   = "baseline"        // writes only
	Cache      = "list-cache"      // + LIST resourceVersion=0: the watch cache, possibly stale
	Consistent = "list-consistent" // + LIST without resourceVersion: consistent, from the watch cache in 1.37
	EtcdRange  = "etcd-range"      // + a range read of every ConfigMap on etcd directly
)

// Kinds are the phase kinds with what each reader does.
var Kinds = map[string]string{
	Baseline:   "no reads: writes alone",
	Cache:      "LIST every ConfigMap, resourceVersion=0 (served from the watch cache, may be stale)",
	Consistent: "LIST every ConfigMap, no resourceVersion (consistent; served from the watch cache after a progress check with etcd)",
	EtcdRange:  "range read of /registry/configmaps/ on etcd directly (what a LIST costs without the watch cache)",
}

// PhaseInput is one phase as observed.
type PhaseInput struct {
	Name     string
	Kind     string
	From, To time.Time
	Writes   []lab.TimedOp
	Reads    []lab.TimedOp
	// ReadBytes and ReadObjects are over the successful reads; objects
	// are counted where the reader can count them (etcd).
	ReadBytes, ReadObjects int64
	SkippedWrites          int
	// Server side over the phase (nil when not scraped): the API server's
	// write and list latencies and etcd's commit and WAL fsync latencies.
	APIWrite, APIList, EtcdCommit, EtcdFsync *lab.Histogram
}

// Input is everything the result is built from.
type Input struct {
	Info        lab.RunInfo
	Objects     int
	ObjectBytes int
	WriteRate   float64
	Readers     int
	// Planned names every phase the run was to have, in order; Phases
	// are those that ran.
	Planned []string
	Phases  []PhaseInput
}

// Phase is one phase's figures.
type Phase struct {
	Name              string             `json:"name"`
	Kind              string             `json:"kind"`
	Seconds           float64            `json:"seconds"`
	Writes            lab.Latencies      `json:"writes"`
	WriteErrors       int                `json:"writeErrors"`
	WritesPerSecond   float64            `json:"writesPerSecond"`
	SkippedWrites     int                `json:"skippedWrites"`
	Reads             lab.Latencies      `json:"reads"`
	ReadErrors        int                `json:"readErrors"`
	ReadsPerSecond    float64            `json:"readsPerSecond"`
	BytesPerRead      *float64           `json:"bytesPerRead,omitempty"`
	ObjectsPerRead    *float64           `json:"objectsPerRead,omitempty"`
	ServerWriteP50    *float64           `json:"serverWriteP50Seconds,omitempty"`
	ServerWriteP99    *float64           `json:"serverWriteP99Seconds,omitempty"`
	ServerListP99     *float64           `json:"serverListP99Seconds,omitempty"`
	EtcdCommitP99     *float64           `json:"etcdCommitP99Seconds,omitempty"`
	EtcdFsyncP99      *float64           `json:"etcdFsyncP99Seconds,omitempty"`
	WriteP50VsBase    *float64           `json:"writeP50OverBaseline,omitempty"`
	WriteP99VsBase    *float64           `json:"writeP99OverBaseline,omitempty"`
	ServerP99VsBase   *float64           `json:"serverWriteP99OverBaseline,omitempty"`
	Cores             map[string]float64 `json:"cores,omitempty"`
	WriteP99OverTime  []SeriesPoint      `json:"writeP99OverTime,omitempty"`
	ReadLatencyOfTime []SeriesPoint      `json:"readLatencyOverTime,omitempty"`
}

// SeriesPoint is a value at T seconds since the run started.
type SeriesPoint struct {
	T float64 `json:"t"`
	V float64 `json:"v"`
}

// Result is result.json of the long-read scenario.
type Result struct {
	lab.RunInfo
	Objects     int     `json:"objects"`
	ObjectBytes int     `json:"objectBytes"`
	WriteRate   float64 `json:"writeRate"`
	Readers     int     `json:"readers"`
	// Baseline pools every baseline phase's writes: the reference for the
	// ratios.
	Baseline lab.Latencies `json:"baseline"`
	Phases   []Phase       `json:"phases"`
}

// BuildResult computes each phase's figures, the ratios to the
// baseline, and the verdict against the SIG-scalability SLOs.
func BuildResult(in Input) *Result {
	r := &Result{RunInfo: in.Info, Objects: in.Objects, ObjectBytes: in.ObjectBytes, WriteRate: in.WriteRate, Readers: in.Readers}
	var base []float64
	var baseServer *lab.Histogram
	for _, p := range in.Phases {
		if p.Kind != Baseline {
			continue
		}
		base = append(base, okSeconds(p.Writes)...)
		switch {
		case p.APIWrite == nil:
		case baseServer == nil:
			h := *p.APIWrite
			baseServer = &h
		default:
			sum, _ := addHistograms(*baseServer, *p.APIWrite)
			baseServer = &sum
		}
	}
	r.Baseline = lab.SummarizeLatencies(base)
	var baseServerP99 *float64
	if baseServer != nil {
		baseServerP99 = lab.Finite(baseServer.Quantile(0.99))
	}
	var reasons, warnings []string
	for _, p := range in.Phases {
		ph := longReadPhase(p, in.Info)
		ph.WriteP50VsBase, ph.WriteP99VsBase = lab.Ratio(ph.Writes.P50, r.Baseline.P50), lab.Ratio(ph.Writes.P99, r.Baseline.P99)
		ph.ServerP99VsBase = lab.Ratio(ph.ServerWriteP99, baseServerP99)
		r.Phases = append(r.Phases, ph)
		if ph.Writes.P99 != nil && *ph.Writes.P99 > sloThreshold(lab.SLOMutating) {
			msg := fmt.Sprintf("%s: write p99 %.2fs is over the mutating-call SLO (%gs)", ph.Name, *ph.Writes.P99, sloThreshold(lab.SLOMutating))
			if p.Kind == EtcdRange {
				// Reading etcd directly is the seed's experiment on etcd
				// itself, a load the API server does not generate.
				warnings = append(warnings, msg+" (reads straight from etcd, bypassing the API server)")
			} else {
				reasons = append(reasons, msg)
			}
		}
		if ph.Reads.P99 != nil && *ph.Reads.P99 > sloThreshold(lab.SLOReadCluster) {
			reasons = append(reasons, fmt.Sprintf("%s: read p99 %.1fs is over the cluster-scope LIST SLO (%gs)", ph.Name, *ph.Reads.P99, sloThreshold(lab.SLOReadCluster)))
		}
		// Each phase's verdict rests on its client latencies: a phase
		// without them fails, it does not pass an SLO on nothing.
		switch {
		case len(p.Writes) == 0:
			reasons = append(reasons, lab.NoData(ph.Name+": write latency", "no write was timed in the phase"))
		case ph.Writes.Count == 0:
			reasons = append(reasons, lab.NoData(ph.Name+": write latency", fmt.Sprintf("all %d writes failed", ph.WriteErrors)))
		}
		switch {
		case p.Kind == Baseline:
		case len(p.Reads) == 0:
			reasons = append(reasons, lab.NoData(ph.Name+": read latency", "no read finished within the phase"))
		case ph.Reads.Count == 0:
			reasons = append(reasons, lab.NoData(ph.Name+": read latency", fmt.Sprintf("all %d reads failed", ph.ReadErrors)))
		}
		if ph.WriteErrors > 0 || ph.ReadErrors > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %d writes and %d reads failed", ph.Name, ph.WriteErrors, ph.ReadErrors))
		}
		if ph.SkippedWrites > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %d write slots skipped because every writer was busy: the offered rate was not reached", ph.Name, ph.SkippedWrites))
		}
	}
	for _, name := range in.Planned[min(len(in.Phases), len(in.Planned)):] {
		reasons = append(reasons, lab.NoData(name+": write latency", "the phase did not run"))
	}
	r.Judge(reasons, warnings)
	return r
}

func longReadPhase(p PhaseInput, info lab.RunInfo) Phase {
	ph := Phase{Name: p.Name, Kind: p.Kind, Seconds: p.To.Sub(p.From).Seconds(), SkippedWrites: p.SkippedWrites}
	ph.Writes, ph.WriteErrors = lab.SummarizeLatencies(okSeconds(p.Writes)), errorCount(p.Writes)
	ph.Reads, ph.ReadErrors = lab.SummarizeLatencies(okSeconds(p.Reads)), errorCount(p.Reads)
	if ph.Seconds > 0 {
		ph.WritesPerSecond = float64(ph.Writes.Count) / ph.Seconds
		ph.ReadsPerSecond = float64(ph.Reads.Count) / ph.Seconds
	}
	if ph.Reads.Count > 0 {
		ph.BytesPerRead = lab.Some(float64(p.ReadBytes) / float64(ph.Reads.Count))
		if p.ReadObjects > 0 {
			ph.ObjectsPerRead = lab.Some(float64(p.ReadObjects) / float64(ph.Reads.Count))
		}
	}
	q := func(h *lab.Histogram, q float64) *float64 {
		if h == nil {
			return nil
		}
		return lab.Finite(h.Quantile(q))
	}
	ph.ServerWriteP50, ph.ServerWriteP99 = q(p.APIWrite, 0.5), q(p.APIWrite, 0.99)
	ph.ServerListP99, ph.EtcdCommitP99, ph.EtcdFsyncP99 = q(p.APIList, 0.99), q(p.EtcdCommit, 0.99), q(p.EtcdFsync, 0.99)
	ph.Cores = map[string]float64{}
	for name, samples := range info.ProcessSeries {
		if s := lab.SummarizeProc(name, samples, p.From, p.To); s.Samples > 1 {
			ph.Cores[name] = s.Cores
		}
	}
	for _, pt := range lab.PercentileSeries(p.Writes, info.StartedAt, 2*time.Second, 0.99) {
		ph.WriteP99OverTime = append(ph.WriteP99OverTime, SeriesPoint{pt.X, pt.Y})
	}
	for _, op := range p.Reads {
		if !op.Err {
			ph.ReadLatencyOfTime = append(ph.ReadLatencyOfTime, SeriesPoint{op.At.Sub(info.StartedAt).Seconds(), op.Seconds * 1000})
		}
	}
	return ph
}

func okSeconds(ops []lab.TimedOp) []float64 {
	out := make([]float64, 0, len(ops))
	for _, op := range ops {
		if !op.Err {
			out = append(out, op.Seconds)
		}
	}
	return out
}

func errorCount(ops []lab.TimedOp) int {
	n := 0
	for _, op := range ops {
		if op.Err {
			n++
		}
	}
	return n
}

// sloThreshold is the p99 threshold of an API SLO class, in seconds.
func sloThreshold(class string) float64 {
	for _, s := range lab.APISLOs {
		if s.Class == class {
			return s.ThresholdSeconds
		}
	}
	panic("unknown SLO class " + class)
}

// addHistograms adds two histograms with the same bucket layout (two
// baseline phases of one API server).
func addHistograms(a, b lab.Histogram) (lab.Histogram, bool) {
	if len(a.Buckets) != len(b.Buckets) {
		return a, false
	}
	out := lab.Histogram{Count: a.Count + b.Count, Sum: a.Sum + b.Sum, Buckets: make([]lab.Bucket, len(a.Buckets))}
	for i := range a.Buckets {
		if a.Buckets[i].UpperBound != b.Buckets[i].UpperBound {
			return a, false
		}
		out.Buckets[i] = lab.Bucket{UpperBound: a.Buckets[i].UpperBound, Cumulative: a.Buckets[i].Cumulative + b.Buckets[i].Cumulative}
	}
	return out, true
}
