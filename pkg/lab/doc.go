// Package lab owns the instruments of Myriad's scale experiments
// (`myriad bench`) and the contract every experiment follows.
//
// The contract, stated once:
//
//   - A Scenario runs with an Env (an injected clock and a console) and
//     returns a Result. Run always returns a Result, also when the run stops
//     early (the context ends, the cluster fails, a phase times out): what
//     was measured is kept, and the Result's verdict says where and why the
//     run stopped. Run never writes files and never exits the process.
//   - A Result knows its head (RunInfo: what ran, where, when, on how busy a
//     machine, with which processes), its summary rows, its verdict and its
//     report page. Write puts result.json and report.html side by side;
//     every scenario's report is the one page Page describes.
//   - A verdict cannot pass without data: a figure the verdict rests on that
//     was not measured is "no data", which fails the run (NoData says so in
//     one line), never a silent pass. A run on a machine busier than its
//     cores is marked MachineBusy and its figures are not for publication.
//
// The instruments: process sampling from /proc (ProcSampler), Prometheus
// scrapes (Scraper, Families, Histogram), API latency against the
// SIG-scalability SLOs in 5-minute windows (APIRecorder, JudgeAPILatency),
// node readiness (Readiness), pod startup (PodStartup), a workload's pods through a rollout
// (WorkloadPods), statistics, charts,
// and the per-phase figures and tables of the workload scenarios. The cluster under test is pkg/lab/rig; the scenarios are
// pkg/lab/scenario/<name>.
//
// The workload scenarios (a controller of `myriad manager` driven through
// one kind: cloneset, sidecarset, and the ones to come) share more than
// instruments. rig.Workload owns their run skeleton: the head, starting or
// attaching the cluster, the CRD client, Meters, the preflight (the
// scenario's API, nodes and room, the manager's Lease, the namespace),
// and, however the run ended, stopping watches and recording, closing the
// head and cleaning up; rig.CheckWorkload and rig.CheckImages their shared
// flags. A scenario gives only its own parts as rig.WorkloadSteps (its API
// check, its phases, its watches' stop, what it made outside its
// namespace) and fills its own Input from the WorkloadRun head.
// WorkloadPods.Watch feeds its tracker from one pod informer and one
// informer of the workload, and RolloutOf, JudgeRollout, SharedMachine and
// RunWarnings read and judge rollout phases by the same rules everywhere.
// These shared pieces never decide a scenario's own figures, never write
// to the cluster beyond the run's namespace, and never print lines a run
// did not print before; a scenario's result.json layout and report stay
// its own.
//
// lab must never change the cluster it measures: its instruments only read
// (one shared informer, /proc reads every few seconds, one scrape per
// component per interval), and what a scenario writes it declares in its
// own package. Time comes from an injected clock so every calculation can
// be tested without a cluster.
package lab
