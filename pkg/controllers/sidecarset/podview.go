package sidecarset

import (
	"encoding/json"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// InPlaceUpdateStateAnnotation is OpenKruise's record of the sidecar
// upgrades in flight on a pod: a JSON object from SidecarSet name to what
// the runtime reported of each changed container before the change. It is
// kept apart from the workload's own apps.kruise.io/inplace-update-state,
// so a CloneSet never mistakes a sidecar upgrade for its own.
const InPlaceUpdateStateAnnotation = "kruise.io/sidecarset-inplace-update-state"

// podView is what one pass knows of a pod injected with the SidecarSet.
type podView struct {
	pod *corev1.Pod
	// updated: the pod's hash annotation names the latest revision.
	updated bool
	// upgradable: the pod's revision differs from the latest in images at
	// most, so the latest can reach it in place.
	upgradable bool
	// consistent: no sidecar upgrade of this SidecarSet is in flight: the
	// runtime runs what the spec says for every container it changed.
	consistent bool
	// upgrading: a sidecar the SidecarSet changed still runs, ready, what
	// it ran before; the next upgrade waits for it. A changed sidecar that
	// is not ready (its image does not pull, it crashes) does not hold the
	// pod back: a newer revision may be the fix (OpenKruise's rule).
	upgrading bool
	// ready: Running and Ready, and every hot-upgrade pair's idle
	// container on the empty image (OpenKruise's IsPodReady).
	ready bool
	// selected: matches updateStrategy.selector (every pod when unset).
	selected bool
	// hotUpgrading: a hot-upgrade pair has both containers on working
	// images; hotReady: every container but the pairs' idle ones is ready.
	hotUpgrading, hotReady bool
}

// view derives a podView from the pod alone, so a restarted controller
// sees what the last one left.
func view(ss *v1beta1.SidecarSet, rev Revision, sel labels.Selector, pod *corev1.Pod) podView {
	v := podView{
		pod:        pod,
		updated:    podHash(pod, ss.Name) == rev.Hash,
		upgradable: podHashWithoutImage(pod, ss.Name) == rev.HashWithoutImage,
		consistent: sidecarsConsistent(ss, pod, false),
		upgrading:  !sidecarsConsistent(ss, pod, true),
		selected:   sel == nil || sel.Matches(labels.Set(pod.Labels)),
	}
	idle := idleContainers(ss, pod)
	emptyIdle := true
	for _, c := range ss.Spec.Containers {
		if c.UpgradeStrategy.UpgradeType != v1beta1.SidecarContainerHotUpgrade {
			continue
		}
		_, i := workingPair(pod, c.Name)
		if img := containerImage(pod, i); img != c.UpgradeStrategy.HotUpgradeEmptyImage {
			emptyIdle = false
			v.hotUpgrading = true
		}
	}
	running := pod.Status.Phase == corev1.PodRunning && podReady(pod)
	v.ready = emptyIdle && running
	v.hotReady = running
	if !running && len(idle) > 0 {
		v.hotReady = len(pod.Status.ContainerStatuses) > 0
		for _, cs := range pod.Status.ContainerStatuses {
			if !cs.Ready && !slices.Contains(idle, cs.Name) {
				v.hotReady = false
			}
		}
	}
	return v
}

// podHashWithoutImage is the pod's kruise.io/sidecarset-hash-without-image
// entry for the SidecarSet.
func podHashWithoutImage(pod *corev1.Pod, sidecarSet string) string {
	var m map[string]upgradeSpec
	if err := json.Unmarshal([]byte(pod.Annotations[v1beta1.SidecarSetHashWithoutImageAnnotation]), &m); err != nil {
		return ""
	}
	return m[sidecarSet].Hash
}

// sidecarNames are the pod containers the SidecarSet owns: its containers,
// a hot-upgrade sidecar as its pair.
func sidecarNames(ss *v1beta1.SidecarSet) []string {
	var out []string
	for _, c := range ss.Spec.Containers {
		if c.UpgradeStrategy.UpgradeType == v1beta1.SidecarContainerHotUpgrade {
			w, i := hotUpgradePair(c.Name)
			out = append(out, w, i)
			continue
		}
		out = append(out, c.Name)
	}
	return out
}

// workingPair names the working and the idle container of a hot-upgrade
// sidecar, from the pod's working-container annotation (the first of the
// pair when it does not say).
func workingPair(pod *corev1.Pod, sidecar string) (working, idle string) {
	a, b := hotUpgradePair(sidecar)
	var m map[string]string
	_ = json.Unmarshal([]byte(pod.Annotations[WorkingHotUpgradeAnnotation]), &m)
	if m[sidecar] == b {
		return b, a
	}
	return a, b
}

// idleContainers are the idle containers of the SidecarSet's hot-upgrade
// pairs in the pod.
func idleContainers(ss *v1beta1.SidecarSet, pod *corev1.Pod) []string {
	var out []string
	for _, c := range ss.Spec.Containers {
		if c.UpgradeStrategy.UpgradeType == v1beta1.SidecarContainerHotUpgrade {
			_, i := workingPair(pod, c.Name)
			out = append(out, i)
		}
	}
	return out
}

func containerImage(pod *corev1.Pod, name string) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}

// readUpgradeStates parses the pod's sidecar upgrade records; a malformed
// annotation reads as none (the runtime's readiness still guards the pod).
func readUpgradeStates(pod *corev1.Pod) map[string]*pub.InPlaceUpdateState {
	out := map[string]*pub.InPlaceUpdateState{}
	if raw := pod.Annotations[InPlaceUpdateStateAnnotation]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			return map[string]*pub.InPlaceUpdateState{}
		}
	}
	return out
}

// sidecarsConsistent reports whether every sidecar container the
// SidecarSet last changed on the pod runs what the spec says (a pod never
// upgraded is consistent). The same rule as the workloads' own in-place
// updates: pkg/inplace judges each container. With readyOnly, only
// containers the runtime reports ready are judged.
func sidecarsConsistent(ss *v1beta1.SidecarSet, pod *corev1.Pod, readyOnly bool) bool {
	st := readUpgradeStates(pod)[ss.Name]
	if st == nil {
		return true
	}
	for name, last := range st.LastContainerStatuses {
		if readyOnly && !containerReady(pod, name) {
			continue
		}
		if !inplace.ContainerUpdated(pod, name, last) {
			return false
		}
	}
	return true
}

// recordUpgrade notes on the pod what the runtime reports of the changed
// containers now, before they change, under the SidecarSet's entry.
func recordUpgrade(pod *corev1.Pod, sidecarSet, revision string, changed []string, now metav1.Time) error {
	states := readUpgradeStates(pod)
	st := states[sidecarSet]
	if st == nil {
		st = &pub.InPlaceUpdateState{}
		states[sidecarSet] = st
	}
	st.Revision, st.UpdateTimestamp = revision, now
	if st.LastContainerStatuses == nil {
		st.LastContainerStatuses = map[string]pub.InPlaceUpdateContainerStatus{}
	}
	for _, name := range changed {
		last := pub.InPlaceUpdateContainerStatus{}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name == name {
				last = pub.InPlaceUpdateContainerStatus{ImageID: cs.ImageID, Image: cs.Image, ContainerID: cs.ContainerID}
			}
		}
		st.LastContainerStatuses[name] = last
	}
	raw, err := json.Marshal(states)
	if err != nil {
		return err
	}
	pod.Annotations[InPlaceUpdateStateAnnotation] = string(raw)
	return nil
}
