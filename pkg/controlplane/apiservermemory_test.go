package controlplane

import (
	"slices"
	"strings"
	"testing"
)

func TestAPIServerMemoryValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    APIServerMemory
		err  string // a part of the error; empty when valid
	}{
		{name: "none", m: APIServerMemory{}},
		{name: "both", m: APIServerMemory{Limit: 8 << 30, WatchCacheSizes: []string{"configmaps#0", "leases.coordination.k8s.io#100"}}},
		{name: "limit too small", m: APIServerMemory{Limit: 100 << 20}, err: "--apiserver-memory-limit must be 0 (none) or at least 512Mi"},
		{name: "negative limit", m: APIServerMemory{Limit: -1}, err: "--apiserver-memory-limit"},
		{name: "no size", m: APIServerMemory{WatchCacheSizes: []string{"configmaps"}}, err: `--watch-cache-sizes: "configmaps" is not RESOURCE[.GROUP]#SIZE`},
		{name: "two sizes", m: APIServerMemory{WatchCacheSizes: []string{"configmaps#0#1"}}, err: "is not RESOURCE[.GROUP]#SIZE"},
		{name: "negative size", m: APIServerMemory{WatchCacheSizes: []string{"secrets#-1"}}, err: "the size must be a whole number"},
		{name: "size not a number", m: APIServerMemory{WatchCacheSizes: []string{"secrets#none"}}, err: "the size must be a whole number"},
		{name: "resource not a name", m: APIServerMemory{WatchCacheSizes: []string{"Config Maps#0"}}, err: "is not a resource name"},
		{name: "empty resource", m: APIServerMemory{WatchCacheSizes: []string{"#0"}}, err: "is not a resource name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("valid settings refused: %v", err)
			case tc.err != "" && err == nil:
				t.Fatalf("accepted; want an error with %q", tc.err)
			case tc.err != "" && !strings.Contains(err.Error(), tc.err):
				t.Fatalf("error %q does not say %q", err, tc.err)
			}
		})
	}
}

// The settings reach the API server as its own flag and the Go runtime's
// environment variable, and only when set.
func TestAPIServerMemoryReachesTheAPIServer(t *testing.T) {
	p := Plan{APIServerPort: []int{6443}, BindAddress: "127.0.0.1"}
	for _, a := range p.APIServerArgs(0) {
		if strings.HasPrefix(a, "--watch-cache-sizes") {
			t.Fatalf("unset, yet passed: %s", a)
		}
	}
	if env := p.APIServerMemory.env(); env != nil {
		t.Fatalf("unset, yet the environment has %v", env)
	}
	p.APIServerMemory = APIServerMemory{Limit: 6 << 30, WatchCacheSizes: []string{"configmaps#0", "secrets#0"}}
	if !slices.Contains(p.APIServerArgs(0), "--watch-cache-sizes=configmaps#0,secrets#0") {
		t.Fatalf("args lack the watch cache sizes: %v", p.APIServerArgs(0))
	}
	if got, want := p.APIServerMemory.env(), []string{"GOMEMLIMIT=6442450944"}; !slices.Equal(got, want) {
		t.Fatalf("environment %v, want %v", got, want)
	}
	if got, want := p.APIServerMemory.String(), "GOMEMLIMIT 6.0 GiB, --watch-cache-sizes=configmaps#0,secrets#0"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
