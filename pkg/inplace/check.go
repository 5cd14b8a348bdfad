package inplace

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/containermeta"
)

// Check reports whether no in-place update is in flight on the pod: every
// container an update changed runs (and is ready) with what the spec now
// says. A pod never updated in place is done. Check reads the pod only, so it
// gives the same answer after a controller restart.
func Check(pod *corev1.Pod) bool { return len(Pending(pod)) == 0 }

// Pending names the containers whose in-place update the runtime has not
// finished yet, for Check and for messages.
//
// An image update of a container is finished when the container is running
// and ready and
//   - its imageID differs from the one recorded before the update, unless
//     the runtime reports, by name, an image other than the spec's (it is
//     still switching, e.g. after a rollback); or
//   - the runtime reports the spec's image and either ran that image already
//     before the update (a rollback that overtook the first update: the
//     runtime may never restart the container) or has restarted it since
//     (a new tag of the same digest keeps the imageID).
//
// A malformed state annotation counts as nothing in flight: a gate stuck
// False would take the pod out of service for good, a kubelet-managed
// container readiness still guards a pod that is in fact restarting.
//
// A restart for the environment (UpdateEnvFromMetadata) is finished when
// the node agent reports the container's current run as started with the
// values the pod's labels and annotations now hold, and it runs and is
// ready.
//
// Containers left for a later batch (NextContainerImages,
// NextContainerRefMetadata) are pending too.
func Pending(pod *corev1.Pod) []string {
	st, ok, err := ReadState(pod)
	if !ok || err != nil {
		return nil
	}
	pending := slices.Concat(batchPending(pod, st), slices.Collect(maps.Keys(st.NextContainerImages)),
		slices.Collect(maps.Keys(st.NextContainerRefMetadata)))
	slices.Sort(pending)
	return slices.Compact(pending)
}

// batchPending names the containers of the batches started so far that
// the runtime has not finished.
func batchPending(pod *corev1.Pod, st pub.InPlaceUpdateState) []string {
	var pending []string
	for name, last := range st.LastContainerStatuses {
		if !imageUpdateDone(pod, name, last) {
			pending = append(pending, name)
		}
	}
	for _, name := range st.ResizedContainers {
		if !resizeDone(pod, name) {
			pending = append(pending, name)
		}
	}
	pending = append(pending, envPending(pod, st)...)
	slices.Sort(pending)
	return slices.Compact(pending)
}

// envPending names the containers reading labels or annotations into their
// environment whose current run the node agent has not reported started
// with the values the pod now holds. A missing or unreadable report counts
// as pending: the agent rewrites it on its next look at the pod.
func envPending(pod *corev1.Pod, st pub.InPlaceUpdateState) []string {
	if !st.UpdateEnvFromMetadata {
		return nil
	}
	meta, _ := containermeta.Read(pod)
	var pending []string
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if !containermeta.ReadsMetadata(c) {
			continue
		}
		cs := containerStatus(pod, c.Name)
		if cs == nil || cs.State.Running == nil || !cs.Ready {
			pending = append(pending, c.Name)
			continue
		}
		run := containermeta.Find(meta, cs.ContainerID)
		if run == nil || run.Hashes.ExtractedEnvFromMetadataHash != containermeta.EnvHash(c, pod.Labels, pod.Annotations) {
			pending = append(pending, c.Name)
		}
	}
	return pending
}

func imageUpdateDone(pod *corev1.Pod, name string, last pub.InPlaceUpdateContainerStatus) bool {
	spec := specContainer(pod, name)
	if spec == nil {
		return true // the container is gone: nothing to wait for
	}
	cs := containerStatus(pod, name)
	if cs == nil || cs.State.Running == nil || !cs.Ready {
		return false
	}
	same, known := sameImage(cs.Image, spec.Image)
	if known && !same {
		return false
	}
	if cs.ImageID != last.ImageID {
		return true
	}
	if !known {
		return false
	}
	if ranBefore, k := sameImage(last.Image, spec.Image); k && ranBefore {
		return true
	}
	return last.ContainerID != "" && cs.ContainerID != last.ContainerID
}

// resizeDone: the kubelet reports the resources it actually applied in
// status and keeps the resize conditions until it is done.
func resizeDone(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Status.Conditions {
		if (c.Type == corev1.PodResizePending || c.Type == corev1.PodResizeInProgress) && c.Status == corev1.ConditionTrue {
			return false
		}
	}
	spec := specContainer(pod, name)
	if spec == nil {
		return true
	}
	cs := containerStatus(pod, name)
	if cs == nil || cs.Resources == nil || cs.State.Running == nil {
		return false
	}
	// Only cpu and memory are resized, and the kubelet may report only those.
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if !sameQuantity(cs.Resources.Requests, spec.Resources.Requests, name) ||
			!sameQuantity(cs.Resources.Limits, spec.Resources.Limits, name) {
			return false
		}
	}
	return true
}

func sameQuantity(a, b corev1.ResourceList, name corev1.ResourceName) bool {
	x, xok := a[name]
	y, yok := b[name]
	return xok == yok && x.Cmp(y) == 0
}

func specContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == name {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// ContainerUpdated reports whether the runtime has finished an image update
// of the named container that started when it reported last (Pending's
// rule for one container). Workloads that keep their own record of an
// update, as SidecarSet does per SidecarSet, judge it with this.
func ContainerUpdated(pod *corev1.Pod, name string, last pub.InPlaceUpdateContainerStatus) bool {
	return imageUpdateDone(pod, name, last)
}
