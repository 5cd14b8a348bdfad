// Package broadcastjob is `myriad bench broadcastjob`: one BroadcastJob of
// completionPolicy Always on a cluster of N simulated nodes, timed from its
// creation to every node's pod created, Running and Succeeded with the
// job's status completed, and the API writes it cost per node; then, for
// comparison, the closest upstream equivalent (a Job of N completions whose
// pods repel each other per node). The simulated nodes run each pod for
// --run-for (`myriad nodes --job-duration`) and report exit 0.
//
// The package owns the scenario's objects (a namespace of its own) and its
// result; it never changes the cluster beyond that namespace, and it never
// judges the controller by anything but what a user sees: pods, nodes and
// the job's status.
package broadcastjob
