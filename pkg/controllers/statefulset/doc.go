// Package statefulset is the decision logic of Myriad's Advanced
// StatefulSet (apps.kruise.io StatefulSet, stored as v1beta1): which
// ordinals a StatefulSet should run, which pods to create, delete or update
// (in place or by recreating them) in one pass, and the status counts
// OpenKruise reports. It owns the plan only: it never talks to the API
// server, starts no goroutine or timer, and reads the time only from the
// clock value its caller passes in.
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
// (Plan.Stuck, which the reconciler turns into a condition and an event)
// and carries on with higher ordinals, counting the stuck pod as
// unavailable. That follows OpenKruise's later behaviour (kruise PR #2109,
// where a terminating pod no longer stops every higher ordinal) while
// keeping OrderedReady's wait for an ordinary graceful deletion.
package statefulset
