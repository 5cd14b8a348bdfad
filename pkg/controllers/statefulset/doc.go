// Package statefulset is Myriad's Advanced StatefulSet controller
// (apps.kruise.io StatefulSet, stored as v1beta1), run by `myriad manager`.
//
// A pass reads the set's pods from the controller's own cache (pods that
// carry statefulset.kubernetes.io/pod-name, and claims), makes the
// lifecycle transitions that need no decision, then asks the pure planner
// (MakePlan, plan.go: it never talks to the API server, starts no
// goroutine or timer, and reads the time only from its input) which pods
// to create, delete, or update in place or by recreating them, and carries
// that out with bounded bursts. Updates in place go through pkg/inplace,
// lifecycle hooks mean what pkg/controllers/lifecycle says, and writes are
// remembered in pkg/controllers/expectations until the cache shows them.
//
// The controller never deletes a claim itself: the retention policy
// (persistentVolumeClaimRetentionPolicy) is carried out by owner
// references on the claims (ClaimOwners), which the garbage collector
// acts on, as upstream does. Every pod write carries the pod's UID or
// resourceVersion as a precondition, so a pod recreated under the same
// name is never touched by a decision made about its predecessor.
//
// Ordinals: the StatefulSet runs the first spec.replicas ordinals from
// spec.ordinals.start that spec.reserveOrdinals does not reserve; a pod at
// any other ordinal is condemned and deleted, highest ordinal first.
// rollingUpdate.partition counts positions in that ordered list (with no
// reserved ordinals and start 0 that is the ordinal itself, as apps/v1).
//
// Updates run from the highest position down to the partition. Under both
// OrderedReady and Parallel, rollingUpdate.maxUnavailable caps how many of
// the StatefulSet's pods may be unavailable at once, counting pods already
// unavailable; updating a pod that is already unavailable never needs room.
//
// A pod stuck terminating: under Parallel it never holds other ordinals
// back (it counts as unavailable). Under OrderedReady the pass waits for a
// terminating pod during its grace period, as apps/v1 does; once it is
// still there StuckAfter past its deletion deadline the plan reports it
// (Plan.Stuck, which the reconciler turns into the PodsStuckTerminating
// condition, a Warning event and a gauge)
// and carries on with higher ordinals, counting the stuck pod as
// unavailable. That follows OpenKruise's later behaviour (kruise PR #2109,
// where a terminating pod no longer stops every higher ordinal) while
// keeping OrderedReady's wait for an ordinary graceful deletion.
package statefulset
