// Package kubeplugins runs kube-scheduler's own plugins for what Myriad's
// core does not decide itself: volumes (VolumeRestrictions,
// NodeVolumeLimits, VolumeBinding, VolumeZone) and dynamic resource
// allocation (DynamicResources). Myriad has no faster idea for these, and
// their semantics (binding WaitForFirstConsumer claims, attach limits per
// CSI driver, device allocation) are large and still moving upstream, so
// the maintained code is run through kube-scheduler's framework instead of
// being written again.
//
// It owns the framework built from those plugins, the listers the plugins
// read (nodes with their pods from the core's snapshot, claims in use), and
// one attempt's cycle: PreFilter, Filter per node, Reserve, PreBind,
// Unreserve.
//
// It must never act on a pod that uses no volume claim and no resource
// claim (Wants says which do; the runtime asks first), never bind pods
// (the runtime's binders do), and it is the only package of the scheduler
// runtime that imports k8s.io/kubernetes.
package kubeplugins
