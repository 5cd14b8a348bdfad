// Package failover is `myriad bench failover`: for each leader-elected
// component under test — upstream kube-controller-manager, Myriad's
// scheduler and `myriad manager`, in one run on one cluster — it starts a
// hot standby (a second instance with the same identity, kubeconfig and
// Lease as the one `myriad up` runs), waits until it is warm, SIGKILLs
// whichever instance leads, asks at once for work only a leader does, and
// times from the kill: the new leader in the Lease, the component's first
// work, all pods Running. A control round per component does the same
// work without a kill.
//
// It must never report a component it could not measure as measured: a
// component without a standby (an attached cluster, a standby that would
// not start) is "not measured" with the reason, and fails the run. It
// kills only the processes of a cluster it started.
package failover
