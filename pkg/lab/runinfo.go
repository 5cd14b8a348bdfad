package lab

import (
	"os"
	"sort"
	"strings"
	"time"
)

// RunInfo opens every scenario's result.json: what ran, where, when, and
// whether it finished.
type RunInfo struct {
	Scenario   string            `json:"scenario"`
	Machine    Machine           `json:"machine"`
	Parameters map[string]string `json:"parameters"`
	StartedAt  time.Time         `json:"startedAt"`
	FinishedAt time.Time         `json:"finishedAt"`
	// StoppedEarly says where a run that did not reach its end stopped and
	// why; empty when it finished.
	StoppedEarly string  `json:"stoppedEarly,omitempty"`
	Verdict      Verdict `json:"verdict"`
	// LoadAtStart and LoadAtEnd are /proc/loadavg's 1, 5 and 15 minute
	// load averages: on a shared machine they say how busy it was.
	LoadAtStart string `json:"loadAverageAtStart,omitempty"`
	LoadAtEnd   string `json:"loadAverageAtEnd,omitempty"`
	// MachineBusy says the machine did other work before or during the
	// run (see JudgeLoad): its figures are not the run's own and are not
	// published. Load holds the readings behind that judgement.
	MachineBusy bool        `json:"machineBusy"`
	BusyReason  string      `json:"machineBusyReason,omitempty"`
	Load        MachineLoad `json:"machineLoad"`
	// Processes are the cluster's components and the bench over the run.
	Processes     []ProcSummary           `json:"processes,omitempty"`
	ProcessSeries map[string][]ProcSample `json:"processSeries,omitempty"`
}

// Head makes a RunInfo a Result's head by embedding.
func (r *RunInfo) Head() *RunInfo { return r }

// SetLoad judges the machine's load over the run (after the processes are
// set) and adds a warning to the verdict when it was busy.
func (r *RunInfo) SetLoad(points []LoadPoint) {
	r.Load, r.BusyReason = JudgeLoad(points, r.ProcessSeries, r.Machine.Cores)
	r.MachineBusy = r.BusyReason != ""
	if r.MachineBusy {
		r.Verdict.Warnings = append(r.Verdict.Warnings, "machine busy ("+r.BusyReason+"): these figures are not for publication")
	}
}

// NewRunInfo starts a result head for scenario on this machine.
func NewRunInfo(scenario string, m Machine, params map[string]string, startedAt time.Time) RunInfo {
	return RunInfo{Scenario: scenario, Machine: m, Parameters: params, StartedAt: startedAt, LoadAtStart: loadAverage()}
}

// Finish records the end of the run and the process samples, summarized
// over the whole run.
func (r *RunInfo) Finish(at time.Time, series map[string][]ProcSample) {
	r.FinishedAt, r.LoadAtEnd = at, loadAverage()
	r.SetProcesses(series, r.StartedAt, at)
}

// SetProcesses records the process samples and their summary over
// [from, to].
func (r *RunInfo) SetProcesses(series map[string][]ProcSample, from, to time.Time) {
	r.ProcessSeries = series
	r.Processes = SummarizeProcs(series, from, to)
}

// Took is the run's wall time, rounded for people.
func (r *RunInfo) Took() string {
	if r.FinishedAt.IsZero() {
		return ""
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Second).String()
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Judge fills the verdict: a run that stopped early fails with that
// reason first, then every other reason given.
func (r *RunInfo) Judge(reasons, warnings []string) {
	if r.StoppedEarly != "" {
		reasons = append([]string{"stopped early: " + r.StoppedEarly}, reasons...)
	}
	r.Verdict = Verdict{Pass: len(reasons) == 0, Reasons: reasons, Warnings: warnings}
}

// SummarizeProcs is every process's summary over [from, to], by name.
func SummarizeProcs(series map[string][]ProcSample, from, to time.Time) []ProcSummary {
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]ProcSummary, 0, len(names))
	for _, n := range names {
		out = append(out, SummarizeProc(n, series[n], from, to))
	}
	return out
}

// NoData is the verdict's reason for a figure the verdict rests on that
// was not measured: a run without data fails, it never passes by default.
func NoData(figure, why string) string {
	if why == "" {
		why = "nothing was measured"
	}
	return "no data: " + figure + " (" + why + ")"
}

// StopEarly records that the run stopped before its end because of err
// (nothing when err is nil) and tells the user in one line; the full
// error goes to the report.
func (r *RunInfo) StopEarly(con *Console, err error) {
	if err == nil {
		return
	}
	r.StoppedEarly = err.Error()
	if con != nil {
		con.EndProgress()
		con.Printf("stopped: %s", OneLine(err.Error(), 300))
	}
}
