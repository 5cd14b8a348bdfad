package rig

import (
	"context"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// PhaseMeter is what a workload phase measured besides its own figures:
// the counters and samples taken at both of its ends.
type PhaseMeter struct {
	// ProcFrom and ProcTo bound the process samples of the phase.
	ProcFrom, ProcTo time.Time
	// MachineCPUSeconds is every core's busy time over the phase; nil when
	// unknown.
	MachineCPUSeconds *float64
	// API is what the API server(s) served; nil when a scrape failed.
	API *lab.APIRequestDelta
	// Manager is the manager's counters as the scenario reads them; nil
	// when not scraped.
	Manager map[string]float64
}

// PhaseBounds are a phase's measurements at its start, for ClosePhase.
type PhaseBounds struct {
	before     Snapshot
	machine    float64
	machineErr error
	procFrom   time.Time
}

// OpenPhase takes a phase's measurements at its start: the counters
// (manager's read by counters), the machine's CPU and a process sample.
// Failed scrapes are returned as errors.
func (r *Rig) OpenPhase(ctx context.Context, m Meters, counters func(lab.Families) map[string]float64) (PhaseBounds, []string) {
	var b PhaseBounds
	var errs []string
	b.before, errs = m.Snapshot(ctx, counters)
	b.machine, b.machineErr = lab.ReadMachineCPU("")
	b.procFrom, _ = r.SampleNow()
	return b, errs
}

// ClosePhase ends a phase's measurements opened by OpenPhase: its cost
// over [ProcFrom, ProcTo].
func (r *Rig) ClosePhase(ctx context.Context, m Meters, counters func(lab.Families) map[string]float64, b PhaseBounds) (PhaseMeter, []string) {
	pm := PhaseMeter{ProcFrom: b.procFrom}
	_, pm.ProcTo = r.SampleNow()
	if to, err := lab.ReadMachineCPU(""); err == nil && b.machineErr == nil {
		pm.MachineCPUSeconds = lab.Some(to - b.machine)
	}
	after, errs := m.Snapshot(ctx, counters)
	pm.API, pm.Manager = after.Since(b.before)
	return pm, errs
}
