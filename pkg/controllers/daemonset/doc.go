// Package daemonset is Myriad's Advanced DaemonSet controller: OpenKruise's
// apps.kruise.io DaemonSet (stored as v1beta1), one pod per eligible node
// with Deployment-style rollouts, reconciled level-based from shared
// informer caches (nodes, ControllerRevisions and DaemonSets from the
// manager's cache; daemon pods, and only those, from a label-filtered cache
// of its own).
//
// One reconcile of a DaemonSet:
//
//  1. claim pods (adopt orphans carrying PodLabel that the selector
//     matches) and wait while the cache misses the controller's own earlier
//     writes (expectations);
//  2. find or create the ControllerRevision of the template;
//  3. decide each node's eligibility as upstream does (nodeName,
//     nodeSelector, required node affinity, taints against the template's
//     tolerations plus the daemon tolerations) through
//     k8s.io/component-helpers, and classify pods by the node their
//     metadata.name affinity pins them to;
//  4. finish what earlier passes started: delete pods the preDelete hook
//     released, open the InPlaceUpdateReady gate of pods whose in-place
//     update the runtime finished;
//  5. plan (makePlan, pure): one pod per node that should run one, none on
//     nodes that may not keep one (a node whose pods keep failing waits out
//     a backoff between replacements, as upstream); then the rolling update within
//     maxUnavailable (or maxSurge, where the old pod goes only once the new
//     one is available), partition, the node-label rollout selector and
//     paused, in place when only images or metadata changed and
//     rollingUpdateType is InPlaceIfPossible; creates and deletes capped by
//     burstReplicas;
//  6. carry out the plan, then write the status OpenKruise reports.
//
// A node that leaves the rollout selector mid-rollout is never left
// half-way: a surge pair completes (the old pod goes once the new one is
// available) and an in-place update finishes; such nodes are named in the
// RolloutSelectorExcluded condition and an event.
//
// The package writes pods, ControllerRevisions and DaemonSet status; it
// never binds pods (the scheduler does, to the pinned node) and never
// imports k8s.io/kubernetes.
package daemonset
