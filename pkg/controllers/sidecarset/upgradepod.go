package sidecarset

import (
	"encoding/json"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// upgradePod gives the pod the SidecarSet's sidecar images in place and
// records it, as OpenKruise does: a cold sidecar's container takes the new
// image; a hot-upgrade sidecar's idle container takes it and becomes the
// working one (with the pair's version annotations), its twin keeps
// serving until the flip; the pod's hash annotation entry moves to the
// latest revision; what the runtime ran before is recorded so completion
// can be judged from the pod; patchPodMetadata is applied again. Only
// images change: planUpgrade sends no pod whose revision differs in more.
func upgradePod(pod *corev1.Pod, ss *v1beta1.SidecarSet, rev Revision, now metav1.Time) error {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	var changed []string
	for _, sc := range ss.Spec.Containers {
		if sc.UpgradeStrategy.UpgradeType != v1beta1.SidecarContainerHotUpgrade {
			if c := podContainer(pod, sc.Name); c != nil && c.Image != sc.Image {
				c.Image = sc.Image
				changed = append(changed, sc.Name)
			}
			continue
		}
		target, other := hotUpgradeTarget(pod, sc)
		c, o := podContainer(pod, target), podContainer(pod, other)
		if c == nil || o == nil || o.Image == sc.Image {
			continue
		}
		c.Image = sc.Image
		changed = append(changed, target)
		working := map[string]string{}
		_ = json.Unmarshal([]byte(pod.Annotations[WorkingHotUpgradeAnnotation]), &working)
		working[sc.Name] = target
		raw, err := json.Marshal(working)
		if err != nil {
			return fmt.Errorf("encode %s: %w", WorkingHotUpgradeAnnotation, err)
		}
		pod.Annotations[WorkingHotUpgradeAnnotation] = string(raw)
		pod.Annotations[versionAnnotationPrefix+target] = ss.ResourceVersion
		pod.Annotations[versionAltAnnotationPrefix+target] = pod.Annotations[versionAnnotationPrefix+other]
		pod.Annotations[versionAltAnnotationPrefix+other] = ss.ResourceVersion
	}
	if err := setHashEntry(pod, ss, v1beta1.SidecarSetHashAnnotation, rev.Hash, rev.ControllerRevision, now); err != nil {
		return err
	}
	if err := recordUpgrade(pod, ss.Name, rev.Hash, changed, now); err != nil {
		return fmt.Errorf("encode %s: %w", InPlaceUpdateStateAnnotation, err)
	}
	patchMetadata(pod, ss.Spec.PatchPodMetadata)
	return nil
}

// flipPod puts the idle container of each hot-upgrade pair whose new
// container works back on the empty image, so the pair is ready for the
// next upgrade; the hash annotation stays (the revision did not change).
func flipPod(pod *corev1.Pod, ss *v1beta1.SidecarSet, now metav1.Time) error {
	var changed []string
	for _, sc := range ss.Spec.Containers {
		if sc.UpgradeStrategy.UpgradeType != v1beta1.SidecarContainerHotUpgrade {
			continue
		}
		working, idle := workingPair(pod, sc.Name)
		c := podContainer(pod, idle)
		if c == nil || c.Image == sc.UpgradeStrategy.HotUpgradeEmptyImage {
			continue
		}
		c.Image = sc.UpgradeStrategy.HotUpgradeEmptyImage
		changed = append(changed, idle)
		pod.Annotations[versionAnnotationPrefix+idle] = "0"
		pod.Annotations[versionAltAnnotationPrefix+working] = "0"
	}
	if len(changed) == 0 {
		return nil
	}
	if err := recordUpgrade(pod, ss.Name, podHash(pod, ss.Name), changed, now); err != nil {
		return fmt.Errorf("encode %s: %w", InPlaceUpdateStateAnnotation, err)
	}
	return nil
}

// hotUpgradeTarget picks the container of a hot-upgrade pair that takes
// the new image, OpenKruise's order: the one on the empty image; else the
// one not ready while its twin is; else the idle one.
func hotUpgradeTarget(pod *corev1.Pod, sc v1beta1.SidecarContainer) (target, other string) {
	a, b := hotUpgradePair(sc.Name)
	empty := sc.UpgradeStrategy.HotUpgradeEmptyImage
	switch {
	case containerImage(pod, a) == empty:
		return a, b
	case containerImage(pod, b) == empty:
		return b, a
	}
	ra, rb := containerReady(pod, a), containerReady(pod, b)
	switch {
	case ra && !rb:
		return b, a
	case rb && !ra:
		return a, b
	}
	w, i := workingPair(pod, sc.Name)
	return i, w
}

func containerReady(pod *corev1.Pod, name string) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == name {
			return cs.Ready
		}
	}
	return false
}

func podContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// setHashEntry points the SidecarSet's entry of a hash annotation at hash,
// leaving other SidecarSets' entries (and any keys Myriad does not know)
// as they are.
func setHashEntry(pod *corev1.Pod, ss *v1beta1.SidecarSet, key, hash, controllerRevision string, now metav1.Time) error {
	all := map[string]json.RawMessage{}
	if raw := pod.Annotations[key]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &all); err != nil {
			all = map[string]json.RawMessage{} // someone else's format: start over
		}
	}
	entry := map[string]any{}
	if raw, ok := all[ss.Name]; ok {
		_ = json.Unmarshal(raw, &entry)
	}
	sidecars := []string{}
	for _, c := range ss.Spec.Containers {
		sidecars = append(sidecars, c.Name)
	}
	entry["hash"], entry["sidecarSetName"], entry["sidecarList"], entry["updateTimestamp"] = hash, ss.Name, sidecars, now
	if controllerRevision != "" {
		entry["controllerRevision"] = controllerRevision
	}
	raw, err := json.Marshal(entry)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	all[ss.Name] = raw
	out, err := json.Marshal(all)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	pod.Annotations[key] = string(out)
	return nil
}

// patchMetadata applies patchPodMetadata to the pod's annotations, as
// injection does; a MergePatchJson annotation is merged as a JSON merge
// patch (RFC 7386) into the pod's value (a value that is not JSON is
// replaced).
func patchMetadata(pod *corev1.Pod, patches []v1beta1.SidecarSetPatchPodMetadata) {
	for _, p := range patches {
		for k, v := range p.Annotations {
			switch p.PatchPolicy {
			case v1beta1.SidecarSetMergePatchJSONPatchPolicy:
				cur, ok := pod.Annotations[k]
				if !ok {
					pod.Annotations[k] = v
					continue
				}
				if merged, err := jsonpatch.MergePatch([]byte(cur), []byte(v)); err == nil {
					pod.Annotations[k] = string(merged)
				} else {
					pod.Annotations[k] = v
				}
			case v1beta1.SidecarSetOverwritePatchPolicy:
				pod.Annotations[k] = v
			case v1beta1.SidecarSetRetainPatchPolicy, "":
				if _, ok := pod.Annotations[k]; !ok {
					pod.Annotations[k] = v
				}
			}
		}
	}
}
