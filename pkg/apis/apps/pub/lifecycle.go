package pub

// Lifecycle holds the hooks a workload honours around pod operations. A hook
// holds an operation while the pod still carries any of what the hook names;
// the hook owner releases it by removing those labels and finalizers.
type Lifecycle struct {
	// PreDelete holds a pod in PreparingDelete before it is deleted.
	// +optional
	PreDelete *LifecycleHook `json:"preDelete,omitempty"`
	// InPlaceUpdate holds a pod in PreparingUpdate before it is updated in
	// place, and in Updated afterwards until the hook owner is done.
	// +optional
	InPlaceUpdate *LifecycleHook `json:"inPlaceUpdate,omitempty"`
	// PreNormal holds a new pod in PreparingNormal until the hook owner
	// has put all the hook's labels and finalizers on it.
	// +optional
	PreNormal *LifecycleHook `json:"preNormal,omitempty"`
}

// LifecycleHook names what marks a pod as held by a hook. A hook holds a
// pod while it carries any of these labels or finalizers; a hook owner
// re-arms it (preNormal, inPlaceUpdate after an update) by putting all of
// them on the pod.
type LifecycleHook struct {
	// LabelsHandler: the hook holds while the pod has any of these labels
	// with its value.
	// +optional
	LabelsHandler map[string]string `json:"labelsHandler,omitempty"`
	// FinalizersHandler: the hook holds while the pod has any of these
	// finalizers.
	// +optional
	// +listType=set
	FinalizersHandler []string `json:"finalizersHandler,omitempty"`
	// MarkPodNotReady sets the pod's KruisePodReady readiness gate False
	// while the hook holds it (preDelete: PreparingDelete; inPlaceUpdate:
	// PreparingUpdate and Updating), so it leaves Service endpoints before
	// the hook owner acts. The gate is injected into pods created while a
	// hook of the workload sets it.
	// +optional
	MarkPodNotReady bool `json:"markPodNotReady,omitempty"`
}
