package rig

import (
	"context"
	"sort"
	"strings"
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

// PhaseMeters opens and closes the phases of one run with one reader of
// the manager's counters, keeping the failed scrapes for the result.
type PhaseMeters struct {
	Rig      *Rig
	Meters   Meters
	Counters func(lab.Families) map[string]float64
	// ScrapeErrors are every failed scrape so far.
	ScrapeErrors []string
}

// Open takes a phase's measurements at its start.
func (m *PhaseMeters) Open(ctx context.Context) PhaseBounds {
	b, errs := m.Rig.OpenPhase(ctx, m.Meters, m.Counters)
	m.ScrapeErrors = append(m.ScrapeErrors, errs...)
	return b
}

// Close ends a phase's measurements: its cost over [ProcFrom, ProcTo].
func (m *PhaseMeters) Close(ctx context.Context, b PhaseBounds) PhaseMeter {
	pm, errs := m.Rig.ClosePhase(ctx, m.Meters, m.Counters, b)
	m.ScrapeErrors = append(m.ScrapeErrors, errs...)
	return pm
}

// PhaseCost is what a workload phase cost the cluster, read from its
// meter: the figures every workload scenario's result states alike (a
// scenario embeds it and adds the writes per pod or per node).
type PhaseCost struct {
	// APIWrites are every write but Leases (node heartbeats go on whatever
	// the workload does); PodWrites those on pods; WriteKinds the same by
	// verb and resource, most first.
	APIWrites   float64               `json:"apiWrites"`
	PodWrites   float64               `json:"podWrites"`
	WriteKinds  []lab.APIRequestCount `json:"writeKinds,omitempty"`
	APIRequests []lab.APIRequestCount `json:"apiRequests,omitempty"`
	APIFlows    []lab.APIFlowCount    `json:"apiFlows,omitempty"`
	// ManagerRequests are the myriad-manager flow schema's requests;
	// Manager the manager's own counters.
	ManagerRequests *float64           `json:"managerRequests,omitempty"`
	Manager         map[string]float64 `json:"manager,omitempty"`
	Processes       []lab.ProcSummary  `json:"processes,omitempty"`
	// CPUSeconds is every sampled process; OtherCPUSeconds the rest of
	// the machine meanwhile.
	CPUSeconds        *float64 `json:"cpuSeconds,omitempty"`
	OtherCPUSeconds   *float64 `json:"otherCPUSeconds,omitempty"`
	MachineCPUSeconds *float64 `json:"machineCPUSeconds,omitempty"`
}

// CostOf reads meter m of a phase from from to to (its bounds when the
// meter has none): the API's requests (the manager's by its flow schema
// managerFlow) and the processes' CPU cut out of the run's series
// (clusterSampled: they are the cluster's).
func CostOf(m PhaseMeter, from, to time.Time, series map[string][]lab.ProcSample, clusterSampled bool, managerFlow string) PhaseCost {
	c := PhaseCost{Manager: m.Manager}
	if m.API != nil {
		c.APIRequests, c.APIFlows = m.API.Kinds, m.API.Flows
		w := m.API.WriteCounts()
		c.APIWrites, c.PodWrites = w.All, w.Pods
		for _, k := range m.API.Kinds {
			if k.Writes() && !strings.HasPrefix(k.Resource, "leases.") {
				c.WriteKinds = append(c.WriteKinds, k)
			}
		}
		sort.SliceStable(c.WriteKinds, func(i, j int) bool { return c.WriteKinds[i].Count > c.WriteKinds[j].Count })
		c.ManagerRequests = m.API.FlowCount(managerFlow)
	}
	if !m.ProcFrom.IsZero() {
		from = m.ProcFrom
	}
	if !m.ProcTo.IsZero() {
		to = m.ProcTo
	}
	cpu := lab.PhaseProcesses(series, from, to, clusterSampled, m.MachineCPUSeconds)
	c.Processes, c.CPUSeconds, c.OtherCPUSeconds, c.MachineCPUSeconds = cpu.Processes, cpu.CPUSeconds, cpu.OtherCPUSeconds, cpu.MachineCPUSeconds
	return c
}

// CostTables are a workload report's tables of what each phase cost (one
// column per phase under head; per[i] is phase i's pods or nodes, which
// unit names, "per pod"): API writes by verb and resource, requests, flow
// schemas (flowNote says who they are), the controller's own counters
// (countersTitle, countersNote) and processes; maxShown bounds the
// request tables' rows.
func CostTables(head []string, costs []PhaseCost, unit string, per []int, flowNote, countersTitle, countersNote string, maxShown int) []lab.Table {
	var writes, reqs [][]lab.APIRequestCount
	var flows [][]lab.APIFlowCount
	var mgr []map[string]float64
	var procs [][]lab.ProcSummary
	for _, c := range costs {
		writes, reqs, flows = append(writes, c.WriteKinds), append(reqs, c.APIRequests), append(flows, c.APIFlows)
		mgr, procs = append(mgr, c.Manager), append(procs, c.Processes)
	}
	var out []lab.Table
	add := func(t lab.Table, ok bool) {
		if ok {
			out = append(out, t)
		}
	}
	add(lab.WritesTable(unit, head, writes, per, maxShown))
	add(lab.APIRequestsTable(head, reqs, maxShown))
	add(lab.FlowsTable(head, flows, flowNote))
	add(lab.CountersTable(countersTitle, countersNote, head, mgr))
	add(lab.ProcessesTable(head, procs))
	return out
}
