// Package chaos is `myriad bench chaos`: a steady workload runs while the
// cluster's components are killed (SIGKILL) or paused (SIGSTOP) one at a
// time, and the run counts what a user would lose: acknowledged writes,
// pods created twice or lost, time the API did not answer, and how long
// each component took to serve again.
//
// The pieces, each in its own file:
//   - plan.go decides, from a seeded random source, which process is hit
//     next, how, and when (pure);
//   - ledger.go keeps the acknowledged writes and finds the lost ones
//     (pure); writer.go makes those writes through the API;
//   - outage.go turns probe outcomes into outages (pure); probe.go reads
//     through the API's front door;
//   - workload.go keeps pods churning (a Deployment scaled up and down, a
//     CloneSet updated in place) and checks them when the faults end;
//   - faults.go injects one fault and times the recovery; targets.go says
//     which processes may be hit and which of them lead;
//   - errors.go groups failed requests by cause for the report;
//   - chaos.go runs it all: the cluster, the workload, the faults until
//     the duration ends, then the checks;
//   - result.go and report.go build the figures and the page.
//
// The scenario must never hit a process of anything but the cluster it
// started, never inject a second fault before the cluster is whole again
// (a second fault would exceed what the cluster is built to survive, and
// its outage would say nothing), and never leave a process paused: every
// SIGSTOP is followed by a SIGCONT, also when the run is interrupted.
package chaos
