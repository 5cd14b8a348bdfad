package controlplane

import "fmt"

// API server concurrency.
//
// kube-apiserver's --max-requests-inflight and
// --max-mutating-requests-inflight, summed, are the seats API Priority and
// Fairness shares among its priority levels; a request beyond its level's
// seats (and what it may borrow) waits in that level's queues.
//
// Myriad's default is far above what 2 cores can run at once, and that is
// measured, not assumed (`bench soak --nodes 10000`, quiet machine):
//
//   - 1600/800 (2,400 seats): 400 Lease renewals run at once, each taking
//     about a second; kube-controller-manager's 8 node-lifecycle workers get
//     a small share of the CPU and remove the not-ready taint from only
//     7,132 of 10,000 new nodes in 11m40s; 82 false NotReady.
//   - 100/50 (150 seats): the taint goes faster (8,344 nodes), but every
//     simulated heartbeat is one APF flow (the simulator's one identity),
//     and one flow may queue at most handSize × queueLengthLimit requests
//     (6 × 50 in node-high): the rest are refused with 429, and 1,741 nodes
//     went falsely NotReady.
//
// The simulator's heartbeats now have a level of their own whose queues
// hold them all (NodeSimHeartbeatLevel), and fewer seats no longer refuse
// them. They still do not help on 2 cores (`bench density --nodes 2000
// --pods 20000`, quiet machine, docs/benchmarks/density-2k):
//
//   - 200/100 (300 seats) against 1600/800: 0 heartbeats refused, but
//     heartbeats waited 717 ms at p99 in APF's queues (their level's 43
//     seats do not cover a burst of renewals), Lease PUT p99 went from
//     0.76 s to 0.95 s and pod startup p99 from 107 s to 148 s. The work
//     is the same and the CPU is the limit: queueing moves the wait from
//     the CPU to APF's queues.
//   - The same with the bench's bulk writes made by an ordinary user
//     (global-default) rather than the exempt super-admin: at 300 seats
//     the bulk did queue (156 ms p99), but the heartbeats too (213 ms in
//     the objects phase, 927 ms in the pods phase, against 5–8 ms at
//     2,400), the bulk went no slower (313 against 327 writes/s) and pod
//     startup p99 went from 28 s to 52 s.
//
// The default stays; the flags stay for the study at 10,000 nodes.
const (
	DefaultMaxRequestsInflight         = 1600
	DefaultMaxMutatingRequestsInflight = 800
)

// validInflight checks one in-flight flag (0 means the default).
func validInflight(flag string, v int) error {
	if v < 0 || (v > 0 && v < 10) {
		return fmt.Errorf("%s must be 0 (the default) or at least 10, got %d", flag, v)
	}
	return nil
}
