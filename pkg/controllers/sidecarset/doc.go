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
// Each spec is recorded as a ControllerRevision, as OpenKruise records it
// (its data shape, the kruise.io/sidecarset-name and
// apps.kruise.io/sidecarset-custom-version labels, the hash annotations,
// names <sidecarset>-<hash>), in kube-system (Options.RevisionNamespace):
// a SidecarSet is cluster-scoped, and a revision there decides what every
// pod pinning it gets, so it lives where only administrators write, as
// OpenKruise keeps its in its own system namespace. A spec seen before is
// moved to the head of the history; the history is trimmed to
// spec.revisionHistoryLimit (10 when unset), never deleting the latest, the
// pinned revision, or one a selected pod runs. injectionStrategy.revision
// (revisionName, or the newest revision of a customVersion) compiles the
// policy from that revision's recorded spec and hashes, for every new pod
// (policy Always, or updates paused) or, under Partial, for the pods
// updateStrategy.selector does not select (see injectionMutation for the
// partition). A pin naming no revision of the SidecarSet is said by the
// RevisionPinned condition and an event, and the policy refuses the pods
// the SidecarSet selects: OpenKruise's webhook refuses them too, and
// injecting the current spec would start pods on a revision their owner
// pinned away from, while injecting nothing would start them without their
// sidecars.
//
// The reconciler server-side applies the two objects (deletes them while
// injection is paused), and writes the status from the pods a shared,
// indexed pod informer holds. Matching pods that lack the SidecarSet's
// annotation (created before it, or while injection was paused or its
// policy not yet applied) are counted in the PodsInjected condition,
// Myriad's addition to the status, and reported by an event.
//
// What the policy does not do, and why:
//   - injectionStrategy.revision with policy Partial and a percentage
//     updateStrategy.partition: OpenKruise gives each new pod the pinned
//     revision at random with that probability; CEL in admission has no
//     random source (no clock, no request UID, no name yet for a pod
//     created by generateName), so every such pod gets the pinned one;
//   - patchPodMetadata MergePatchJson merges at the top level only when
//     a pod is created (its members are spliced into the pod's JSON
//     object; CEL has no JSON parser), fully (RFC 7386) when sidecars are
//     upgraded;
//   - resourcesPolicy and shareVolumeDevicePolicy are not applied
//     (evaluating OpenKruise's resource expressions needs more than CEL
//     offers here); sourceContainerNameFrom reads
//     metadata.labels['k'] and metadata.annotations['k'] only;
//   - the hash annotations' updateTimestamp is null: admission CEL has no
//     clock.
//
// Sidecars of running pods are upgraded in place, as OpenKruise does it:
// when the latest revision differs from a pod's in images only, the
// controller changes the sidecar images on the pod (a hot-upgrade sidecar
// by starting the new image in the idle container of its pair, making it
// the working one, and putting the old one back on the empty image once
// the new one is ready), under updateStrategy's type, paused, selector,
// partition, maxUnavailable (default 1), priorityStrategy and
// scatterStrategy (planUpgrade, pure). Each pod write re-reads the pod and
// retries on conflict; what the runtime ran before is recorded in the pod's
// kruise.io/sidecarset-inplace-update-state, and completion is judged from
// the pod by pkg/inplace's rule, so a restarted controller resumes where
// the last one stopped. Pods the latest revision cannot reach in place
// (it changed more than images) keep their revision, get OpenKruise's
// SidecarSetUpgradable pod condition False, and are counted and named in
// the InPlaceUpgradable condition and an event: OpenKruise skips them
// silently.
//
// The package owns the SidecarSet's policy, binding, revisions and
// status, and the sidecar containers and SidecarSet annotations of the
// pods it injected; it never touches a pod's other containers, and never
// creates or deletes pods. It starts no goroutine or timer per SidecarSet or pod.
package sidecarset
