package rig

import (
	"strings"
	"testing"
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
