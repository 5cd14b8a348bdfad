// Package daemonset is `myriad bench daemonset`: an agent image rollout
// across every node of a cluster, by the Advanced DaemonSet in place and
// by recreating the pods, and (with --compare) by an upstream apps/v1
// DaemonSet, in one run on one cluster, with the number of nodes without a
// ready agent followed at every pod event.
//
// Phase create makes an Advanced DaemonSet (the "agent", tolerating every
// taint) and times it until every node runs a ready agent. Phase in-place
// changes its image with rollingUpdateType InPlaceIfPossible; phase
// recreate changes it again with rollingUpdateType Standard, both under
// the same maxUnavailable. With --compare the Advanced DaemonSet is
// deleted (its pods gone before going on), an upstream DaemonSet is
// created (phase upstream create) and its image rolled with RollingUpdate
// and the same maxUnavailable (phase upstream).
//
// It owns the scenario's objects (a namespace of its own) and its result.
// It never changes the cluster beyond that namespace, and it never judges
// a controller by anything but what a user sees: pods, their nodes, UIDs
// and readiness, and the DaemonSet's status. A rollout that left more
// nodes without a ready agent than maxUnavailable allows, or an in-place
// rollout that recreated a pod, fails the run.
package daemonset
