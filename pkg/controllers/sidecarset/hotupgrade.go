package sidecarset

import (
	"encoding/json"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// What OpenKruise writes for a HotUpgrade sidecar: the sidecar runs as a
// pair, <name>-1 with its image (working) and <name>-2 with the empty
// image (idle), each told its own and its twin's version through env vars
// read from pod annotations, and the pod records which of the pair works.
const (
	// WorkingHotUpgradeAnnotation is a JSON object from sidecar name to
	// the name of the container of its pair that is working.
	WorkingHotUpgradeAnnotation = "kruise.io/sidecarset-working-hotupgrade-container"
	versionAnnotationPrefix     = "version.sidecarset.kruise.io/"
	versionAltAnnotationPrefix  = "versionalt.sidecarset.kruise.io/"
	versionEnv                  = "SIDECARSET_VERSION"
	versionAltEnv               = "SIDECARSET_VERSION_ALT"
)

// hotUpgradePair names the two containers of a HotUpgrade sidecar.
func hotUpgradePair(name string) (working, idle string) { return name + "-1", name + "-2" }

// expandHotUpgrade replaces each HotUpgrade sidecar by its pair, in place,
// and returns the annotations the pod gets for them (version and
// alternate version of each container, "1" for the working one).
func expandHotUpgrade(list []v1beta1.SidecarContainer) ([]v1beta1.SidecarContainer, map[string]string, map[string]string) {
	var out []v1beta1.SidecarContainer
	annotations := map[string]string{}
	working := map[string]string{}
	for _, c := range list {
		if c.UpgradeStrategy.UpgradeType != v1beta1.SidecarContainerHotUpgrade {
			out = append(out, c)
			continue
		}
		w, idle := hotUpgradePair(c.Name)
		for _, n := range []struct {
			name, image, version, alt string
		}{{w, c.Image, "1", "0"}, {idle, c.UpgradeStrategy.HotUpgradeEmptyImage, "0", "1"}} {
			twin := *c.DeepCopy()
			twin.Name, twin.Image = n.name, n.image
			twin.Env = append(twin.Env,
				corev1.EnvVar{Name: versionEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
					FieldPath: fmt.Sprintf("metadata.annotations['%s%s']", versionAnnotationPrefix, n.name)}}},
				corev1.EnvVar{Name: versionAltEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
					FieldPath: fmt.Sprintf("metadata.annotations['%s%s']", versionAltAnnotationPrefix, n.name)}}})
			out = append(out, twin)
			annotations[versionAnnotationPrefix+n.name] = n.version
			annotations[versionAltAnnotationPrefix+n.name] = n.alt
		}
		working[c.Name] = w
	}
	return out, annotations, working
}

// hotUpgradeAnnotationOps sets the pair's version annotations and splices
// the working containers into the pod's working-container annotation.
func hotUpgradeAnnotationOps(annotations, working map[string]string, set func(key, value string) string, splice func(key string, entry []byte) string) ([]string, error) {
	if len(working) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ops []string
	for _, k := range keys {
		ops = append(ops, set(k, celString(annotations[k])))
	}
	entry, err := json.Marshal(working)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", WorkingHotUpgradeAnnotation, err)
	}
	return append(ops, splice(WorkingHotUpgradeAnnotation, entry)), nil
}
