package controlplane

import "fmt"

// API server concurrency sized for the machine.
//
// kube-apiserver's --max-requests-inflight and
// --max-mutating-requests-inflight, summed, are the seats API Priority and
// Fairness shares among its priority levels; a request beyond its level's
// seats waits in that level's queues, ordered fairly. Seats beyond what the
// cores can run do not add throughput: they only let every admitted request
// share the CPU with hundreds of others. At 10,000 nodes on 2 cores, with
// 2,400 seats, 400 Lease renewals ran at once (node-high's share), each
// taking a second, and kube-controller-manager's 8 node-lifecycle workers
// got a thirtieth of the CPU: removing the not-ready taint from 10,000 new
// nodes took over ten minutes. With seats in proportion to the cores,
// renewals beyond node-high's share queue in APF (as designed) and other
// levels' requests finish in milliseconds.
//
// perCore is read-only seats per core; mutating seats are half of them,
// upstream's own 400:200 ratio. Upstream's defaults (400 and 200) are the
// ceiling: they are sized for the large control-plane machines upstream
// tunes for.
const (
	inflightPerCore = 50
	maxInflight     = 400
)

// DefaultInflight is the API server's read-only and mutating in-flight
// limits for a machine of cpus cores.
func DefaultInflight(cpus int) (readOnly, mutating int) {
	readOnly = min(max(cpus, 1)*inflightPerCore, maxInflight)
	return readOnly, readOnly / 2
}

// validInflight checks one in-flight flag (0 means sized for the machine).
func validInflight(flag string, v int) error {
	if v < 0 || (v > 0 && v < 10) {
		return fmt.Errorf("%s must be 0 (sized for the machine) or at least 10, got %d", flag, v)
	}
	return nil
}
