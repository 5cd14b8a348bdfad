// Package tenancy is `myriad bench tenancy`: the experiment of the
// VirtualCluster paper (ICDCS 2021) scaled to one machine. In one run it
// creates the same pods directly on the cluster and through tenants
// (virtual clusters whose syncer places their pods on the cluster), and
// compares creation-to-Running latency and total time; it measures what a
// tenant control plane costs at idle and under load, and what the syncer
// costs per 1,000 pods; and it has greedy tenants burst while regular
// tenants create a few pods each, to show whether the syncer's fair
// queuing keeps the regular tenants fast.
//
// It must never touch what it did not create: its pods carry the run's
// label, direct pods live in the run's namespaces, tenant pods in a
// namespace of each tenant the run created.
package tenancy
