package controlplane

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// APIServerMemory is what bounds each API server's memory, the resource
// that runs out first at 10^6 objects (docs/benchmarks/density-1m: ~10–12
// KiB of RSS per small object, half of it the Go heap's headroom between
// collections).
//
// Both levers are kube-apiserver's own; Myriad only passes them on:
//
//   - Limit is the Go runtime's soft memory limit (GOMEMLIMIT) of the API
//     server process: near it the collector runs more often instead of
//     letting the heap double, trading CPU for memory.
//   - WatchCacheSizes are --watch-cache-sizes entries (resource[.group]#size).
//     Since Kubernetes 1.25 the watch cache sizes itself, so only 0 means
//     anything: that resource is served from etcd, not kept decoded in
//     memory. Lists and watches of it then cost etcd reads.
type APIServerMemory struct {
	Limit           int64
	WatchCacheSizes []string
}

// MinAPIServerMemoryLimit is the smallest Limit accepted: below it the API
// server of even an empty cluster would collect without pause.
const MinAPIServerMemoryLimit = 512 << 20

// Validate rejects bad settings with a line that names the flag.
func (m APIServerMemory) Validate() error {
	if m.Limit != 0 && m.Limit < MinAPIServerMemoryLimit {
		return fmt.Errorf("--apiserver-memory-limit must be 0 (none) or at least 512Mi, got %d bytes", m.Limit)
	}
	for _, e := range m.WatchCacheSizes {
		if err := validWatchCacheSize(e); err != nil {
			return fmt.Errorf("--watch-cache-sizes: %w", err)
		}
	}
	return nil
}

// validWatchCacheSize checks one entry as kube-apiserver parses it
// (resource, optionally ".group", "#", a size of 0 or more), and also that
// the resource is a name, so a typo stops `myriad up` with one line
// rather than the API server in a crash loop.
func validWatchCacheSize(e string) error {
	resource, size, ok := strings.Cut(e, "#")
	if !ok || strings.Contains(size, "#") {
		return fmt.Errorf("%q is not RESOURCE[.GROUP]#SIZE, e.g. configmaps#0", e)
	}
	if errs := validation.IsDNS1123Subdomain(resource); len(errs) > 0 {
		return fmt.Errorf("%q: %q is not a resource name: %s", e, resource, strings.Join(errs, "; "))
	}
	if n, err := strconv.Atoi(size); err != nil || n < 0 {
		return fmt.Errorf("%q: the size must be a whole number, 0 or more (0: no watch cache)", e)
	}
	return nil
}

// args are the API server's flags for m.
func (m APIServerMemory) args() []string {
	if len(m.WatchCacheSizes) == 0 {
		return nil
	}
	return []string{"--watch-cache-sizes=" + strings.Join(m.WatchCacheSizes, ",")}
}

// env is the API server process's environment for m.
func (m APIServerMemory) env() []string {
	if m.Limit == 0 {
		return nil
	}
	return []string{"GOMEMLIMIT=" + strconv.FormatInt(m.Limit, 10)}
}

// String says what m sets, for reports; empty when it sets nothing.
func (m APIServerMemory) String() string {
	var parts []string
	if m.Limit != 0 {
		parts = append(parts, fmt.Sprintf("GOMEMLIMIT %.1f GiB", float64(m.Limit)/(1<<30)))
	}
	if len(m.WatchCacheSizes) > 0 {
		parts = append(parts, "--watch-cache-sizes="+strings.Join(m.WatchCacheSizes, ","))
	}
	return strings.Join(parts, ", ")
}
