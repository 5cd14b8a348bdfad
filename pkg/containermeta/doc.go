// Package containermeta is the node-agent side of in-place updates of a
// container's environment read from pod metadata: a container whose env
// reads a label or annotation (valueFrom fieldRef
// metadata.labels['k'] or metadata.annotations['k']) keeps the value it
// started with, so when an in-place update changes that label the container
// must be restarted, which no kubelet does. A node agent does it and reports
// what every container runs with in the pod's
// apps.kruise.io/runtime-containers-meta annotation.
//
// This package holds the protocol both sides share: the hash of a
// container's metadata-derived environment (EnvHash, the same hash
// OpenKruise's kruise-daemon computes, so Myriad's updater works with that
// daemon and OpenKruise's manager with Myriad's simulated nodes), which
// containers read metadata (ReadsMetadata, Reads), and the annotation's
// encoding (Read, Encode). In-place updates (pkg/inplace) read it; simulated
// nodes (pkg/nodesim) write it.
//
// It is pure: it never talks to the API server and keeps no state.
package containermeta
