package kubeletapi

import (
	"hash/fnv"
	"testing"
)

// The default share must stay what it was when it hashed the
// concatenation: a pod's usage does not change across an upgrade.
func TestFNVOfPartsIsFNVOfTheConcatenation(t *testing.T) {
	for _, parts := range [][]string{{}, {""}, {"uid-1", "/", "app"}, {"0f3c-77", "/", "sidecar", "x"}} {
		h := fnv.New64a()
		for _, p := range parts {
			h.Write([]byte(p))
		}
		if got, want := fnv64a(parts...), h.Sum64(); got != want {
			t.Errorf("fnv64a(%q) = %x, want %x", parts, got, want)
		}
	}
}
