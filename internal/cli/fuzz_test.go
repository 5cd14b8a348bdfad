package cli

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/validate/content"
)

// FuzzParseCapacity: --capacity either fails naming the flag or yields
// only valid resource names with non-negative quantities, which is what
// a Node's capacity may hold.
func FuzzParseCapacity(f *testing.F) {
	for _, s := range []string{"cpu=16,memory=64Gi", "nvidia.com/gpu=8", "cpu", "=3", "cpu=lots", "cpu=-1", "a b=1", "cpu=1e3,pods=110"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseCapacity(s)
		if err != nil {
			return
		}
		for name, q := range got {
			if q.Sign() < 0 {
				t.Fatalf("%q: accepted negative %s=%s", s, name, q.String())
			}
			if errs := content.IsQualifiedName(string(name)); len(errs) > 0 {
				t.Fatalf("%q: accepted invalid resource name %q: %v", s, name, errs)
			}
		}
	})
}
