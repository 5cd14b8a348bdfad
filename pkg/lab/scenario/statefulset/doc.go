// Package statefulset is `myriad bench statefulset`: a 1,000-replica
// Advanced StatefulSet (apps.kruise.io/v1beta1) created and its image
// rolled in place, then by recreating its pods, and (with --compare) an
// upstream apps/v1 StatefulSet of the same size created and rolled by
// kube-controller-manager, in one run on one cluster, with the pods
// unavailable followed at every pod event.
//
// Phase create makes the Advanced StatefulSet (Parallel pod management,
// podUpdatePolicy InPlaceIfPossible, --max-unavailable) and times it
// until every pod is Ready and its status agrees. Phase in-place changes
// its image; phase recreate changes it again with podUpdatePolicy
// ReCreate. With --compare the Advanced StatefulSet is deleted (its pods
// gone before going on), an upstream StatefulSet is created (phase
// upstream create) and its image rolled with RollingUpdate (phase
// upstream), with the same maxUnavailable when the API server keeps the
// field (feature gate MaxUnavailableStatefulSet) and one pod at a time,
// said plainly, when it does not.
//
// It owns the scenario's objects (a namespace of its own) and its result.
// It never changes the cluster beyond that namespace, and it never judges
// a controller by anything but what a user sees: pods, their names, UIDs
// and readiness, and the StatefulSet's status. An Advanced StatefulSet
// rollout that left more pods unavailable than maxUnavailable allows, an
// in-place rollout that recreated a pod, or a recreating one that did not
// replace every pod fails the run.
package statefulset
