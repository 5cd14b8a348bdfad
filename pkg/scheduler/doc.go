// Package scheduler runs Myriad's scheduler against a cluster: it wires the
// pure decision core (package core) to the API server.
//
// It owns the runtime: shared informers that keep the core's snapshot and
// the queue current, the scheduling queue (active heap by priority, backoff,
// unschedulable pods parked until a cluster event, gated pods), the one
// decision loop, the bounded pool of binders that POST Bindings
// optimistically and carry out preemptions (DisruptionTarget condition,
// deletion, status.nominatedNodeName), reporting of unschedulable pods
// (condition + event), leader election with a warm standby, and metrics.
//
// It must never make placement or preemption decisions itself (that is
// core's job, so the differential tests cover them) nor start a goroutine
// per pod or node.
package scheduler
