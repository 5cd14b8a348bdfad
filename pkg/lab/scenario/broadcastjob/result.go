package broadcastjob

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Phase kinds.
const (
	// Broadcast is the BroadcastJob: one pod per node, run to completion.
	Broadcast = "broadcastjob"
	// UpstreamJob is the comparison: a Job of N completions and
	// the same parallelism whose pods repel each other per node.
	UpstreamJob = "job"
)

// sharedMachineCores is how much CPU other work may use during a phase
// before the result warns that the machine was shared.
const sharedMachineCores = 0.25

// StatusView is the part of the job's status a phase waits on.
type StatusView struct {
	Phase                      string
	Desired, Active, Succeeded int32
	Failed                     int32
	// Complete says the job's status called it finished.
	Complete bool
}

// PhaseInput is one phase as the bench ran it.
type PhaseInput struct {
	Kind       string
	Want       int
	Start, End time.Time
	// Nodes are the Ready nodes at the phase's start.
	Nodes []string
	Pods  PodFigures
	// Status is the job's last status read, StatusDoneAt when it first
	// said complete with every pod succeeded.
	Status       StatusView
	StatusDoneAt *time.Time
	Err          string
	API          *lab.APIRequestDelta
	// ProcFrom and ProcTo bound the phase's process samples.
	ProcFrom, ProcTo  time.Time
	MachineCPUSeconds *float64
}

// Input is everything a result is built from.
type Input struct {
	Info           lab.RunInfo
	Nodes          int
	Parallelism    string
	RunFor         time.Duration
	StartupSeconds *float64
	Phases         []PhaseInput
	Skipped        []string
	Notes          []string
	ScrapeErrors   []string
}

// Result is result.json of `myriad bench broadcastjob`.
type Result struct {
	lab.RunInfo
	Nodes          int      `json:"nodes"`
	Parallelism    string   `json:"parallelism"`
	RunForSeconds  float64  `json:"runForSeconds"`
	StartupSeconds *float64 `json:"startupSeconds,omitempty"`
	Phases         []Phase  `json:"phases"`
	Skipped        []string `json:"skipped,omitempty"`
	Notes          []string `json:"notes,omitempty"`
	ScrapeErrors   []string `json:"scrapeErrors,omitempty"`
}

// Phase is one phase's figures. Seconds are from the job's creation.
type Phase struct {
	Kind             string   `json:"kind"`
	Want             int      `json:"want"`
	Done             bool     `json:"done"`
	CreatedSeconds   *float64 `json:"allCreatedSeconds,omitempty"`
	RunningSeconds   *float64 `json:"allRunningSeconds,omitempty"`
	SucceededSeconds *float64 `json:"allSucceededSeconds,omitempty"`
	// Seconds is creation → every pod succeeded and the status said so.
	Seconds *float64   `json:"seconds,omitempty"`
	Final   Counts     `json:"final"`
	Status  StatusView `json:"status"`
	// NodesWithoutPod and NodesWithTwoOrMore name (up to 20) the nodes
	// that broke one pod per node; their counts are complete.
	NodesWithoutPodCount int      `json:"nodesWithoutPodCount"`
	NodesWithoutPod      []string `json:"nodesWithoutPod,omitempty"`
	NodesWithTwoCount    int      `json:"nodesWithTwoOrMoreCount"`
	NodesWithTwo         []string `json:"nodesWithTwoOrMore,omitempty"`
	Unbound              int      `json:"unboundPods"`
	// APIWrites are every write served in the phase but Leases (node
	// heartbeats go on whatever the workload does), per node too.
	APIWrites        float64               `json:"apiWrites"`
	APIWritesPerNode *float64              `json:"apiWritesPerNode,omitempty"`
	WriteKinds       []lab.APIRequestCount `json:"writeKinds,omitempty"`
	APIRequests      []lab.APIRequestCount `json:"apiRequests,omitempty"`
	APIFlows         []lab.APIFlowCount    `json:"apiFlows,omitempty"`
	Processes        []lab.ProcSummary     `json:"processes,omitempty"`
	CPUSeconds       *float64              `json:"cpuSeconds,omitempty"`
	OtherCPUSeconds  *float64              `json:"otherCPUSeconds,omitempty"`
	Err              string                `json:"error,omitempty"`
	Series           []Point               `json:"series"`
	Start            time.Time             `json:"start"`
	End              time.Time             `json:"end"`
}

// maxNamed bounds the node names a phase lists.
const maxNamed = 20

// Build reduces the phases and judges the run. It fails when a phase did
// not finish, when the BroadcastJob left a node without a pod or gave one
// two, or when its status disagrees with the pods. The upstream Job's
// placement is reported, not judged: nothing in a Job promises one pod
// per node.
func Build(in Input) *Result {
	r := &Result{RunInfo: in.Info, Nodes: in.Nodes, Parallelism: in.Parallelism, RunForSeconds: in.RunFor.Seconds(),
		StartupSeconds: in.StartupSeconds, Skipped: in.Skipped, Notes: in.Notes, ScrapeErrors: in.ScrapeErrors}
	var reasons, warnings []string
	for _, p := range in.Phases {
		ph := buildPhase(p, in.Info.ProcessSeries)
		r.Phases = append(r.Phases, ph)
		if !ph.Done {
			why := ph.Err
			if why == "" {
				why = "not done"
			}
			reasons = append(reasons, fmt.Sprintf("%s stopped: %s (%d created, %d running, %d succeeded of %d)",
				ph.Kind, why, ph.Final.Created, ph.Final.Running, ph.Final.Succeeded, ph.Want))
		}
		if ph.Kind == Broadcast {
			reasons = append(reasons, judgeBroadcast(ph)...)
		} else if ph.NodesWithoutPodCount > 0 || ph.NodesWithTwoCount > 0 {
			warnings = append(warnings, fmt.Sprintf("the upstream Job did not place one pod per node (%d nodes without, %d with two or more): pods that had already succeeded no longer repel, so its time is not exactly the same work",
				ph.NodesWithoutPodCount, ph.NodesWithTwoCount))
		}
		if o := ph.OtherCPUSeconds; o != nil && *o > sharedMachineCores*ph.End.Sub(ph.Start).Seconds() {
			warnings = append(warnings, fmt.Sprintf("%s shared the machine: other work used %.1f cores on average", ph.Kind, *o/ph.End.Sub(ph.Start).Seconds()))
		}
	}
	for _, s := range in.Skipped {
		warnings = append(warnings, "not run: "+s)
	}
	if len(in.ScrapeErrors) > 0 {
		warnings = append(warnings, fmt.Sprintf("%d metrics scrapes failed; API figures of those phases are missing", len(in.ScrapeErrors)))
	}
	r.Judge(reasons, warnings)
	return r
}

// judgeBroadcast is what a BroadcastJob promises: one pod per node, and a
// status that agrees with the pods.
func judgeBroadcast(ph Phase) []string {
	var out []string
	if ph.NodesWithoutPodCount > 0 {
		out = append(out, fmt.Sprintf("%d nodes never got a pod (%s)", ph.NodesWithoutPodCount, strings.Join(ph.NodesWithoutPod, ", ")))
	}
	if ph.NodesWithTwoCount > 0 {
		out = append(out, fmt.Sprintf("%d nodes got two or more pods (%s)", ph.NodesWithTwoCount, strings.Join(ph.NodesWithTwo, ", ")))
	}
	if !ph.Done {
		return out
	}
	s, w := ph.Status, int32(ph.Want)
	if s.Desired != w || s.Succeeded != w || int(s.Succeeded) != ph.Final.Succeeded || s.Active != 0 || s.Failed != int32(ph.Final.Failed) {
		out = append(out, fmt.Sprintf("the status disagrees with the pods: desired %d, succeeded %d, active %d, failed %d; %d nodes, %d pods succeeded, %d failed",
			s.Desired, s.Succeeded, s.Active, s.Failed, ph.Want, ph.Final.Succeeded, ph.Final.Failed))
	}
	if ph.Final.Created != ph.Want {
		out = append(out, fmt.Sprintf("%d pods were created for %d nodes", ph.Final.Created, ph.Want))
	}
	return out
}

func buildPhase(p PhaseInput, procs map[string][]lab.ProcSample) Phase {
	f := p.Pods
	ph := Phase{Kind: p.Kind, Want: p.Want, Final: f.Final, Status: p.Status, Err: p.Err, Series: f.Series,
		Unbound: f.Unbound, Start: p.Start, End: p.End}
	since := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		return lab.Some(t.Sub(p.Start).Seconds())
	}
	ph.CreatedSeconds, ph.RunningSeconds, ph.SucceededSeconds = since(f.Firsts.Created), since(f.Firsts.Running), since(f.Firsts.Succeeded)
	if f.Firsts.Succeeded != nil && p.StatusDoneAt != nil {
		done := *p.StatusDoneAt
		if f.Firsts.Succeeded.After(done) {
			done = *f.Firsts.Succeeded
		}
		ph.Seconds = since(&done)
	}
	ph.Done = ph.Seconds != nil && p.Err == ""
	missing, doubled := NodeCheck(p.Nodes, f.PodsPerNode)
	ph.NodesWithoutPodCount, ph.NodesWithTwoCount = len(missing), len(doubled)
	ph.NodesWithoutPod, ph.NodesWithTwo = missing[:min(len(missing), maxNamed)], doubled[:min(len(doubled), maxNamed)]
	if p.API != nil {
		ph.APIRequests, ph.APIFlows = p.API.Kinds, p.API.Flows
		for _, c := range p.API.Kinds {
			if !c.Writes() || strings.HasPrefix(c.Resource, "leases.") {
				continue
			}
			ph.APIWrites += c.Count
			ph.WriteKinds = append(ph.WriteKinds, c)
		}
		sort.SliceStable(ph.WriteKinds, func(i, j int) bool { return ph.WriteKinds[i].Count > ph.WriteKinds[j].Count })
		if p.Want > 0 {
			ph.APIWritesPerNode = lab.Some(ph.APIWrites / float64(p.Want))
		}
	}
	from, to := p.ProcFrom, p.ProcTo
	if from.IsZero() {
		from = p.Start
	}
	if to.IsZero() {
		to = p.End
	}
	if len(procs) > 0 && !to.IsZero() {
		cpu := 0.0
		for _, name := range sortedKeys(procs) {
			s := lab.SummarizeProc(name, procs[name], from, to)
			if s.Samples == 0 {
				continue
			}
			ph.Processes = append(ph.Processes, s)
			cpu += s.CPUSeconds
		}
		ph.CPUSeconds = lab.Some(cpu)
		if p.MachineCPUSeconds != nil {
			ph.OtherCPUSeconds = lab.Some(max(0, *p.MachineCPUSeconds-cpu))
		}
	}
	return ph
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
