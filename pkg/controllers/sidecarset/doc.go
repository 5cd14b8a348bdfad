// Package sidecarset is Myriad's SidecarSet controller: OpenKruise's
// apps.kruise.io SidecarSet (stored as v1beta1), sidecar containers,
// volumes and image pull secrets added to the pods it selects when they are
// created.
//
// Injection never leaves the API server. Compile, a pure function, turns
// each SidecarSet into a MutatingAdmissionPolicy and its binding, named
// after the SidecarSet and owned by it: the binding matches pod CREATE by the
// SidecarSet's selector and namespace selector, and the policy's CEL
// JSONPatch adds the containers (podInjectPolicy order; a HotUpgrade sidecar
// as OpenKruise's pair <name>-1 working and <name>-2 on the empty image,
// with their version annotations and env vars), init containers,
// volumes, shared volume mounts, transferred env vars and pull secrets, and
// records OpenKruise's pod annotations (kruise.io/sidecarset-hash,
// -hash-without-image, -injected-list); a pod whose injected list already
// names the SidecarSet is left alone. No webhook sits in the pod path, so
// nothing can be down or slow: pods the SidecarSet does not select never
// meet its policy, and pods it selects get their sidecars or, if the CEL
// fails, are refused (failurePolicy Fail) rather than started without them.
//
// The reconciler server-side applies the two objects (deletes them while
// injection is paused), and writes the status from the pods a shared,
// indexed pod informer holds. Matching pods that lack the SidecarSet's
// annotation (created before it, or while injection was paused or its
// policy not yet applied) are counted in the PodsInjected condition,
// Myriad's addition to the status, and reported by an event.
//
// What the policy does not do, and why:
//   - injectionStrategy.revision (pinning new pods to an older revision)
//     needs the older spec, which is not kept (no ControllerRevisions yet):
//     new pods get the current spec;
//   - patchPodMetadata MergePatchJson, resourcesPolicy and
//     shareVolumeDevicePolicy are not applied (merging JSON in an
//     annotation and evaluating OpenKruise's resource expressions need more
//     than CEL offers here), nor is the copying of env vars that a shared
//     mount's subPathExpr names; sourceContainerNameFrom reads
//     metadata.labels['k'] and metadata.annotations['k'] only;
//   - the hash annotations' updateTimestamp is null: admission CEL has no
//     clock.
//
// The package owns the SidecarSet's policy, binding and status. It never
// writes pods: upgrading sidecars of running pods in place is not done
// here. It starts no goroutine or timer per SidecarSet.
package sidecarset
