package rig

import (
	"strings"
	"testing"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// A report names the scheduler the cluster really ran: Myriad's unless
// --scheduler asked otherwise.
func TestOwnClusterNamesItsScheduler(t *testing.T) {
	for sched, want := range map[string]string{
		"":       "with Myriad's scheduler and myriad-manager, 2 API server(s)",
		"myriad": "with Myriad's scheduler",
		"kube":   "with kube-scheduler",
		"none":   "with no scheduler of its own",
	} {
		got := Options{Scheduler: sched, APIServers: 2}.OwnCluster()
		if !strings.HasPrefix(got, "own cluster: myriad up ") || !strings.Contains(got, want) {
			t.Errorf("--scheduler %q: %q, want it to say %q", sched, got, want)
		}
	}
}

// A report says what the API servers' memory was bounded by, and says
// nothing of it when the defaults ran.
func TestOwnClusterNamesAPIServerMemory(t *testing.T) {
	plain := Options{APIServers: 1}.OwnCluster()
	if strings.Contains(plain, "memory") {
		t.Errorf("defaults, yet %q", plain)
	}
	o := Options{APIServers: 1, APIServerMemory: controlplane.APIServerMemory{Limit: 7 << 29, WatchCacheSizes: []string{"secrets#0"}}}
	if got, want := o.OwnCluster(), "; API server memory: GOMEMLIMIT 3.5 GiB, --watch-cache-sizes=secrets#0"; !strings.HasSuffix(got, want) {
		t.Errorf("%q, want it to end %q", got, want)
	}
}
