// Package core is the Myriad scheduler's pure decision core: given a snapshot
// of nodes (with the pods already on them) and a pending pod, it chooses a
// node with kube-scheduler's filter semantics and its default profile's scores.
//
// It owns the node/pod model (NodeInfo, Snapshot), the filters and scores
// (with the Service and controller selectors that kube's default topology
// spreading reads, fed in like namespaces), and the three Borg techniques
// that make it fast at 10^4 nodes: equivalence classes, score caching and
// relaxed randomization; plus the Assume/Forget bookkeeping that lets
// binding run optimistically elsewhere, and preemption: choosing victims
// for a pod that fits nowhere, and the nominations that reserve the room
// they free (the evictions themselves happen elsewhere).
//
// It must never do I/O: no API server, no informers, no goroutines, no wall
// clock. Randomness comes from a seeded source in Config so that tests and
// benchmarks drive 50,000 nodes deterministically in milliseconds. Wiring
// (informers, queue, binder, leader election, metrics) lives outside.
//
// Non-test code must not import k8s.io/kubernetes (it would drag the whole
// kube-scheduler into unit builds); the shared helpers in
// k8s.io/component-helpers give the exact request, taint and node-affinity
// arithmetic kube-scheduler itself uses, so we call them instead of re-deriving.
package core
