// Package nodesim runs thousands of simulated nodes in one process. Toward the
// Kubernetes API each node behaves like a kubelet: it registers its Node,
// renews its Lease in kube-node-lease, reports NodeStatus, and drives the pods
// bound to it through their lifecycle (init containers, readiness gates, jobs
// that exit, in-place container restarts, probes run against each
// container's sandbox (package sandbox), graceful deletion, eviction when
// its pods' memory or disk models leave it short, or a pod writes past its
// ephemeral-storage limits, with image garbage collection first for disk).
// How long its runtime takes (sandbox, image pulls by size, container
// start) is a Profile, and what it has pulled is kept per node
// (imageStore). Chaos is data: the
// FailureAnnotation on a Node stops that node's heartbeats until removed.
//
// The package owns only the objects a kubelet owns: its Node (labels, spec,
// status), its Lease, and the status of pods bound to it (plus the final
// delete that a kubelet issues). It must never write pods' specs, bind or
// schedule pods, touch nodes it did not register (nodes whose name is outside
// its index range), run a goroutine or timer per node or per pod, or send
// real traffic to the addresses it reports: pod IPs are fiction, and node
// addresses (loopback addresses in NodeAddressRange) are only ever served,
// by the kubelet API (package kubeletapi) on one socket for every node.
//
// The identity it runs as needs: nodes get/list/watch/create/update/patch,
// nodes/status patch, leases get/list/create/update in kube-node-lease,
// pods list/watch/delete, pods/status patch, and persistentvolumeclaims
// list/watch (a pod whose claim is not Bound waits, as on a kubelet).
// Forbidden or Unauthorized answers to registering nodes or watching end Run
// with an error; a refused write to one pod is retried for that pod alone;
// everything else is retried.
//
// Scale shapes the code: one heartbeat dispatcher (a min-heap of due times)
// feeds a bounded worker pool, one shared pod informer feeds one rate-limited
// workqueue, and renewals reuse the Lease returned by the previous write so a
// heartbeat is a single request.
package nodesim
