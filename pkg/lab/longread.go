package lab

import (
	"fmt"
	"time"
)

// The long-read scenario (`myriad bench long-read`) writes at a fixed rate
// through the API server and times every write, first alone, then while
// readers run large LISTs (from the watch cache, stale or consistent) or
// range reads on etcd itself, then alone again. The seed's claim is etcd
// 3.4's: with fully concurrent reads, write p99 under long reads fell by
// 90%. This file reduces the timings to per-phase figures and ratios.

// Long-read phase kinds.
const (
	LongReadBaseline   = "baseline"        // writes only
	LongReadCache      = "list-cache"      // + LIST resourceVersion=0: the watch cache, possibly stale
	LongReadConsistent = "list-consistent" // + LIST without resourceVersion: consistent, from the watch cache in 1.37
	LongReadEtcd       = "etcd-range"      // + a range read of every ConfigMap on etcd directly
)

// LongReadKinds are the phase kinds with what each reader does.
var LongReadKinds = map[string]string{
	LongReadBaseline:   "no reads: writes alone",
	LongReadCache:      "LIST every ConfigMap, resourceVersion=0 (served from the watch cache, may be stale)",
	LongReadConsistent: "LIST every ConfigMap, no resourceVersion (consistent; served from the watch cache after a progress check with etcd)",
	LongReadEtcd:       "range read of /registry/configmaps/ on etcd directly (what a LIST costs without the watch cache)",
}

// LongReadPhaseInput is one phase as observed.
type LongReadPhaseInput struct {
	Name     string
	Kind     string
	From, To time.Time
	Writes   []TimedOp
	Reads    []TimedOp
	// ReadBytes and ReadObjects are over the successful reads; objects
	// are counted where the reader can count them (etcd).
	ReadBytes, ReadObjects int64
	SkippedWrites          int
	// Server side over the phase (nil when not scraped): the API server's
	// write and list latencies and etcd's commit and WAL fsync latencies.
	APIWrite, APIList, EtcdCommit, EtcdFsync *Histogram
}

// LongReadInput is everything the result is built from.
type LongReadInput struct {
	Info        RunInfo
	Objects     int
	ObjectBytes int
	WriteRate   float64
	Readers     int
	Phases      []LongReadPhaseInput
}

// LongReadPhase is one phase's figures.
type LongReadPhase struct {
	Name              string             `json:"name"`
	Kind              string             `json:"kind"`
	Seconds           float64            `json:"seconds"`
	Writes            Latencies          `json:"writes"`
	WriteErrors       int                `json:"writeErrors"`
	WritesPerSecond   float64            `json:"writesPerSecond"`
	SkippedWrites     int                `json:"skippedWrites"`
	Reads             Latencies          `json:"reads"`
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

// LongReadResult is result.json of the long-read scenario.
type LongReadResult struct {
	RunInfo
	Objects     int     `json:"objects"`
	ObjectBytes int     `json:"objectBytes"`
	WriteRate   float64 `json:"writeRate"`
	Readers     int     `json:"readers"`
	// Baseline pools every baseline phase's writes: the reference for the
	// ratios.
	Baseline Latencies       `json:"baseline"`
	Phases   []LongReadPhase `json:"phases"`
}

// BuildLongReadResult computes each phase's figures, the ratios to the
// baseline, and the verdict against the SIG-scalability SLOs.
func BuildLongReadResult(in LongReadInput) *LongReadResult {
	r := &LongReadResult{RunInfo: in.Info, Objects: in.Objects, ObjectBytes: in.ObjectBytes, WriteRate: in.WriteRate, Readers: in.Readers}
	var base []float64
	var baseServer *Histogram
	for _, p := range in.Phases {
		if p.Kind != LongReadBaseline {
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
	r.Baseline = SummarizeLatencies(base)
	var baseServerP99 *float64
	if baseServer != nil {
		baseServerP99 = Finite(baseServer.Quantile(0.99))
	}
	var reasons, warnings []string
	for _, p := range in.Phases {
		ph := longReadPhase(p, in.Info)
		ph.WriteP50VsBase, ph.WriteP99VsBase = Ratio(ph.Writes.P50, r.Baseline.P50), Ratio(ph.Writes.P99, r.Baseline.P99)
		ph.ServerP99VsBase = Ratio(ph.ServerWriteP99, baseServerP99)
		r.Phases = append(r.Phases, ph)
		if ph.Writes.P99 != nil && *ph.Writes.P99 > sloThreshold(SLOMutating) {
			msg := fmt.Sprintf("%s: write p99 %.2fs is over the mutating-call SLO (%gs)", ph.Name, *ph.Writes.P99, sloThreshold(SLOMutating))
			if p.Kind == LongReadEtcd {
				// Reading etcd directly is the seed's experiment on etcd
				// itself, a load the API server does not generate.
				warnings = append(warnings, msg+" (reads straight from etcd, bypassing the API server)")
			} else {
				reasons = append(reasons, msg)
			}
		}
		if ph.Reads.P99 != nil && *ph.Reads.P99 > sloThreshold(SLOReadCluster) {
			reasons = append(reasons, fmt.Sprintf("%s: read p99 %.1fs is over the cluster-scope LIST SLO (%gs)", ph.Name, *ph.Reads.P99, sloThreshold(SLOReadCluster)))
		}
		if ph.Writes.Count == 0 {
			reasons = append(reasons, ph.Name+": no write succeeded")
		}
		if p.Kind != LongReadBaseline && ph.Reads.Count == 0 {
			reasons = append(reasons, ph.Name+": no read finished within the phase")
		}
		if ph.WriteErrors > 0 || ph.ReadErrors > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %d writes and %d reads failed", ph.Name, ph.WriteErrors, ph.ReadErrors))
		}
		if ph.SkippedWrites > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %d write slots skipped because every writer was busy: the offered rate was not reached", ph.Name, ph.SkippedWrites))
		}
	}
	r.Judge(reasons, warnings)
	return r
}

func longReadPhase(p LongReadPhaseInput, info RunInfo) LongReadPhase {
	ph := LongReadPhase{Name: p.Name, Kind: p.Kind, Seconds: p.To.Sub(p.From).Seconds(), SkippedWrites: p.SkippedWrites}
	ph.Writes, ph.WriteErrors = SummarizeLatencies(okSeconds(p.Writes)), errorCount(p.Writes)
	ph.Reads, ph.ReadErrors = SummarizeLatencies(okSeconds(p.Reads)), errorCount(p.Reads)
	if ph.Seconds > 0 {
		ph.WritesPerSecond = float64(ph.Writes.Count) / ph.Seconds
		ph.ReadsPerSecond = float64(ph.Reads.Count) / ph.Seconds
	}
	if ph.Reads.Count > 0 {
		ph.BytesPerRead = Some(float64(p.ReadBytes) / float64(ph.Reads.Count))
		if p.ReadObjects > 0 {
			ph.ObjectsPerRead = Some(float64(p.ReadObjects) / float64(ph.Reads.Count))
		}
	}
	q := func(h *Histogram, q float64) *float64 {
		if h == nil {
			return nil
		}
		return Finite(h.Quantile(q))
	}
	ph.ServerWriteP50, ph.ServerWriteP99 = q(p.APIWrite, 0.5), q(p.APIWrite, 0.99)
	ph.ServerListP99, ph.EtcdCommitP99, ph.EtcdFsyncP99 = q(p.APIList, 0.99), q(p.EtcdCommit, 0.99), q(p.EtcdFsync, 0.99)
	ph.Cores = map[string]float64{}
	for name, samples := range info.ProcessSeries {
		if s := SummarizeProc(name, samples, p.From, p.To); s.Samples > 1 {
			ph.Cores[name] = s.Cores
		}
	}
	for _, pt := range PercentileSeries(p.Writes, info.StartedAt, 2*time.Second, 0.99) {
		ph.WriteP99OverTime = append(ph.WriteP99OverTime, SeriesPoint{pt.X, pt.Y})
	}
	for _, op := range p.Reads {
		if !op.Err {
			ph.ReadLatencyOfTime = append(ph.ReadLatencyOfTime, SeriesPoint{op.At.Sub(info.StartedAt).Seconds(), op.Seconds * 1000})
		}
	}
	return ph
}

func okSeconds(ops []TimedOp) []float64 {
	out := make([]float64, 0, len(ops))
	for _, op := range ops {
		if !op.Err {
			out = append(out, op.Seconds)
		}
	}
	return out
}

func errorCount(ops []TimedOp) int {
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
	for _, s := range APISLOs {
		if s.Class == class {
			return s.ThresholdSeconds
		}
	}
	panic("unknown SLO class " + class)
}
