// Package sidecarset is Myriad's SidecarSet controller: OpenKruise's
// apps.kruise.io SidecarSet (stored as v1beta1), sidecar containers,
// volumes and image pull secrets added to the pods it selects when they are
// created.
//
// Injection never leaves the API server. Compile, a pure function, turns
// each SidecarSet into a MutatingAdmissionPolicy and its binding, named
// after the SidecarSet and owned by it: the binding matches pod CREATE by the
// SidecarSet's selector and namespace selector, and the policy's CEL
// JSONPatch adds the containers (podInjectPolicy order), init containers,
// volumes, shared volume mounts, transferred env vars and pull secrets, and
// records OpenKruise's pod annotations (kruise.io/sidecarset-hash,
// -hash-without-image, -injected-list). No webhook sits in the pod path, so
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
// The package owns the SidecarSet's policy, binding and status. It never
// writes pods: upgrading sidecars of running pods in place is not done
// here. It starts no goroutine or timer per SidecarSet.
package sidecarset
