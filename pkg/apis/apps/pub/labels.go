package pub

// Labels and annotations that apps.kruise.io workloads put on the pods they own.
const (
	// ControllerRevisionHashLabelKey names the ControllerRevision a pod was
	// created from (or last updated in place to). Same key as apps/v1 uses.
	ControllerRevisionHashLabelKey = "controller-revision-hash"

	// LifecycleStateKey is the pod label that tells hook owners where a pod
	// is in its lifecycle; its values are the LifecycleStateType constants.
	LifecycleStateKey = "lifecycle.apps.kruise.io/state"
	// LifecycleTimestampKey is the pod annotation holding when the lifecycle
	// state label last changed (RFC 3339).
	LifecycleTimestampKey = "lifecycle.apps.kruise.io/timestamp"

	// SpecifiedDeleteKey marks a pod (with any value) for deletion first on
	// scale-down and for replacement by its workload.
	SpecifiedDeleteKey = "apps.kruise.io/specified-delete"

	// InPlaceUpdateStateKey is the pod annotation holding InPlaceUpdateState
	// as JSON: what an in-place update changed and what the pod ran before.
	InPlaceUpdateStateKey = "apps.kruise.io/inplace-update-state"
	// InPlaceUpdateGraceKey is the pod annotation holding an in-place update
	// that has been decided (the readiness gate is already False) but waits
	// out inPlaceUpdateStrategy.gracePeriodSeconds before it is applied.
	InPlaceUpdateGraceKey = "apps.kruise.io/inplace-update-grace"
	// RuntimeContainerMetaKey is the pod annotation in which a node agent
	// reports, as RuntimeContainerMetaSet JSON, what each container runs
	// with: the environment it read from the pod's labels and annotations
	// when it started. OpenKruise's kruise-daemon and Myriad's simulated
	// nodes write it; in-place updates of such environment wait for it.
	RuntimeContainerMetaKey = "apps.kruise.io/runtime-containers-meta"
)

// LifecycleStateType is a value of the LifecycleStateKey label.
type LifecycleStateType string

// Lifecycle states, in the order a pod passes through them.
const (
	// LifecycleStatePreparingNormal: created, waiting for the preNormal hook.
	LifecycleStatePreparingNormal LifecycleStateType = "PreparingNormal"
	// LifecycleStateNormal: serving; no operation in progress.
	LifecycleStateNormal LifecycleStateType = "Normal"
	// LifecycleStatePreparingUpdate: an in-place update is waiting for the
	// inPlaceUpdate hook to be released.
	LifecycleStatePreparingUpdate LifecycleStateType = "PreparingUpdate"
	// LifecycleStateUpdating: the in-place update has been applied and the
	// runtime has not reported it finished yet.
	LifecycleStateUpdating LifecycleStateType = "Updating"
	// LifecycleStateUpdated: the in-place update finished; the hook owner
	// may now put the pod back into service (the state then returns to Normal).
	LifecycleStateUpdated LifecycleStateType = "Updated"
	// LifecycleStatePreparingDelete: the pod is to be deleted once the
	// preDelete hook is released.
	LifecycleStatePreparingDelete LifecycleStateType = "PreparingDelete"
)
