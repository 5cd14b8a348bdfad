package containermeta

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/dump"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Field paths a container's env may read from pod metadata, by key.
const (
	Labels      = "metadata.labels"
	Annotations = "metadata.annotations"
)

// excluded are envs SidecarSet hot upgrade sets from annotations: the
// SidecarSet controller changes them on purpose, and they never call for a
// restart (OpenKruise excludes the same two).
var excluded = map[string]bool{"SIDECARSET_VERSION": true, "SIDECARSET_VERSION_ALT": true}

// metadataRef is the field ("metadata.labels" or "metadata.annotations")
// and key an env var reads, ok false for anything else.
func metadataRef(e corev1.EnvVar) (field, key string, ok bool) {
	if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || excluded[e.Name] {
		return "", "", false
	}
	path := e.ValueFrom.FieldRef.FieldPath
	open := strings.Index(path, "['")
	if open < 0 || !strings.HasSuffix(path, "']") || open+2 > len(path)-2 {
		return "", "", false
	}
	field, key = path[:open], path[open+2:len(path)-2]
	if (field != Labels && field != Annotations) || key == "" {
		return "", "", false
	}
	return field, key, true
}

// ReadsMetadata reports whether some env var of c reads a pod label or
// annotation by key.
func ReadsMetadata(c *corev1.Container) bool {
	for _, e := range c.Env {
		if _, _, ok := metadataRef(e); ok {
			return true
		}
	}
	return false
}

// Reads reports whether c's env reads key of field (Labels or Annotations).
func Reads(c *corev1.Container, field, key string) bool {
	for _, e := range c.Env {
		if f, k, ok := metadataRef(e); ok && f == field && k == key {
			return true
		}
	}
	return false
}

// EnvHash hashes the values c's metadata-reading env vars take from labels
// and annotations. A container started when the pod carried them has
// exactly this environment; one started before a change has another.
//
// The hash is OpenKruise's (pkg/util/containermeta): FNV-32a over the dump
// of the JSON of the vars sorted by name, so hashes from its node daemon
// and from Myriad compare.
func EnvHash(c *corev1.Container, labels, annotations map[string]string) uint64 {
	var envs []corev1.EnvVar
	for _, e := range c.Env {
		field, key, ok := metadataRef(e)
		if !ok {
			continue
		}
		v := corev1.EnvVar{Name: e.Name}
		if field == Labels {
			v.Value = labels[key]
		} else {
			v.Value = annotations[key]
		}
		envs = append(envs, v)
	}
	sort.SliceStable(envs, func(i, j int) bool { return envs[i].Name < envs[j].Name })
	b, _ := json.Marshal(envs) // EnvVars with string fields always encode
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(b))
	return uint64(h.Sum32())
}

// Read returns the pod annotation's meta set, nil when the pod has none.
func Read(pod *corev1.Pod) (*pub.RuntimeContainerMetaSet, error) {
	v, ok := pod.Annotations[pub.RuntimeContainerMetaKey]
	if !ok {
		return nil, nil
	}
	var s pub.RuntimeContainerMetaSet
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("pod %s/%s annotation %s: %w", pod.Namespace, pod.Name, pub.RuntimeContainerMetaKey, err)
	}
	return &s, nil
}

// Encode is the annotation's value for s.
func Encode(s *pub.RuntimeContainerMetaSet) string {
	b, _ := json.Marshal(s) // plain strings and integers always encode
	return string(b)
}

// Find is the entry for the container run id, nil if s has none.
func Find(s *pub.RuntimeContainerMetaSet, id string) *pub.RuntimeContainerMeta {
	if s == nil || id == "" {
		return nil
	}
	for i := range s.Containers {
		if s.Containers[i].ContainerID == id {
			return &s.Containers[i]
		}
	}
	return nil
}
