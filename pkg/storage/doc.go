// Package storage gives clusters of simulated nodes the storage a kind or
// cloud cluster has: a default StorageClass and `myriad storage`, a
// provisioner and a resizer for it, so claims from Helm charts,
// StatefulSets and CloneSet volumeClaimTemplates become Bound and can grow.
//
// Provisioning and reclaiming run on sigs.k8s.io/sig-storage-lib-external-
// provisioner, the library external provisioners are built on: the
// kube-controller-manager's PV controller hands it claims of the class
// (after the scheduler chose a node, for WaitForFirstConsumer) and binds
// the PersistentVolumes it creates; it deletes Released volumes whose
// reclaim policy is Delete. The volumes are `local` volumes pinned to the
// node the scheduler selected. Nothing is ever written to a disk: a
// simulated node has none, and a volume's path is fiction.
//
// The resizer does what external-resizer and the kubelet's node expansion
// do together for a claim whose request grows: the claim's Resizing
// condition and allocatedResources, the volume's new capacity, the
// claim's new capacity, and their events.
//
// The package owns the PersistentVolumes its provisioner created (their
// pv.kubernetes.io/provisioned-by annotation names it) and the status of
// claims bound to them. It must never touch other volumes, claims of other
// classes' volumes, pods or nodes, and it runs no goroutine per claim: a
// fixed set of workers drains the claim and volume queues, on the leader
// only.
package storage
