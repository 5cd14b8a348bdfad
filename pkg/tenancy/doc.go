// Package tenancy holds what the tenant host, the syncer and the CLI agree
// on about virtual clusters: how a tenant's namespace maps to a super-cluster
// namespace, the labels and annotations that say where a super-cluster
// object came from, and the names of the Secrets that carry a tenant's
// kubeconfigs. It is pure: no client, no clock, no I/O.
package tenancy
