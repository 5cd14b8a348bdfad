package containermeta

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

var sample = &corev1.Container{Env: []corev1.EnvVar{
	{Name: "PLAIN", Value: "x"},
	fieldEnv("TRACK", "metadata.labels['track']"),
	fieldEnv("CONFIG", "metadata.annotations['config']"),
	fieldEnv("SIDECARSET_VERSION", "metadata.annotations['v']"),
	fieldEnv("NAME", "metadata.name"),
}}

// The hashes OpenKruise v1.9.0's EnvFromMetadataHasher.GetExpectHash gives
// for the same containers and metadata: Myriad's updater and its daemon,
// and its manager and Myriad's simulated nodes, must agree on them.
func TestEnvHashMatchesOpenKruise(t *testing.T) {
	labels, annotations := map[string]string{"track": "canary"}, map[string]string{"config": "bar", "v": "1"}
	if got := EnvHash(sample, labels, annotations); got != 1064693304 {
		t.Errorf("EnvHash(sample) = %d, OpenKruise gives 1064693304", got)
	}
	if got := EnvHash(&corev1.Container{}, labels, annotations); got != 86995377 {
		t.Errorf("EnvHash(no env) = %d, OpenKruise gives 86995377", got)
	}
}

func TestEnvHashFollowsOnlyWhatIsRead(t *testing.T) {
	base := EnvHash(sample, map[string]string{"track": "canary"}, map[string]string{"config": "bar"})
	for name, tc := range map[string]struct {
		labels, annotations map[string]string
		same                bool
	}{
		"label read changed":               {map[string]string{"track": "stable"}, map[string]string{"config": "bar"}, false},
		"annotation read changed":          {map[string]string{"track": "canary"}, map[string]string{"config": "baz"}, false},
		"other label changed":              {map[string]string{"track": "canary", "x": "y"}, map[string]string{"config": "bar"}, true},
		"sidecar version is not a restart": {map[string]string{"track": "canary"}, map[string]string{"config": "bar", "v": "2"}, true},
	} {
		if got := EnvHash(sample, tc.labels, tc.annotations); (got == base) != tc.same {
			t.Errorf("%s: hash equal %v, want %v", name, got == base, tc.same)
		}
	}
}

func TestReads(t *testing.T) {
	for _, tc := range []struct {
		field, key string
		want       bool
	}{
		{Labels, "track", true}, {Annotations, "config", true}, {Labels, "config", false},
		{Annotations, "v", false}, // SIDECARSET_VERSION is excluded
	} {
		if got := Reads(sample, tc.field, tc.key); got != tc.want {
			t.Errorf("Reads(%s, %s) = %v, want %v", tc.field, tc.key, got, tc.want)
		}
	}
	for _, path := range []string{"metadata.labels", "metadata.labels['']", "metadata.labels['x'", "spec.nodeName", "metadata.labels[x]"} {
		if c := (&corev1.Container{Env: []corev1.EnvVar{fieldEnv("E", path)}}); ReadsMetadata(c) {
			t.Errorf("%q counted as reading metadata", path)
		}
	}
}

func TestReadEncodeFind(t *testing.T) {
	set := &pub.RuntimeContainerMetaSet{Containers: []pub.RuntimeContainerMeta{{Name: "app", ContainerID: "containerd://1", Hashes: pub.RuntimeContainerHashes{ExtractedEnvFromMetadataHash: 7}}}}
	pod := &corev1.Pod{}
	if got, err := Read(pod); got != nil || err != nil {
		t.Fatalf("no annotation: %v, %v", got, err)
	}
	pod.Annotations = map[string]string{pub.RuntimeContainerMetaKey: Encode(set)}
	got, err := Read(pod)
	if err != nil || Find(got, "containerd://1") == nil || Find(got, "containerd://1").Hashes.ExtractedEnvFromMetadataHash != 7 || Find(got, "containerd://2") != nil || Find(got, "") != nil {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	pod.Annotations[pub.RuntimeContainerMetaKey] = "{"
	if _, err := Read(pod); err == nil {
		t.Error("malformed annotation read without error")
	}
}

// FuzzEnvRef: whatever a fieldRef path holds, parsing it never panics and
// only labels or annotations with a non-empty key count.
func FuzzEnvRef(f *testing.F) {
	for _, s := range []string{"metadata.labels['a']", "metadata.annotations['b.c/d']", "['']", "metadata.labels['", "']"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		field, key, ok := metadataRef(fieldEnv("E", path))
		if ok && (key == "" || (field != Labels && field != Annotations)) {
			t.Fatalf("%q parsed as %q %q", path, field, key)
		}
	})
}
