package controlplane

import (
	"slices"
	"strings"
	"testing"
)

// Seats grow with the cores up to upstream's defaults, mutating ones at
// upstream's 2:1 ratio, and reach the API server's command line.
func TestInflightIsSizedForTheMachine(t *testing.T) {
	for _, c := range []struct{ cpus, ro, mut int }{{0, 50, 25}, {2, 100, 50}, {4, 200, 100}, {8, 400, 200}, {96, 400, 200}} {
		if ro, mut := DefaultInflight(c.cpus); ro != c.ro || mut != c.mut {
			t.Errorf("DefaultInflight(%d) = %d, %d; want %d, %d", c.cpus, ro, mut, c.ro, c.mut)
		}
	}
	p := Plan{APIServerPort: []int{6443}, MaxRequestsInflight: 100, MaxMutatingRequestsInflight: 50}
	args := p.APIServerArgs(0)
	for _, want := range []string{"--max-requests-inflight=100", "--max-mutating-requests-inflight=50"} {
		if !slices.Contains(args, want) {
			t.Errorf("API server args lack %s", want)
		}
	}
}

func TestInflightFlagsAreChecked(t *testing.T) {
	o := Options{DataDir: "d", APIServers: 1, Port: 6443, EtcdPort: 2379, BindAddress: "127.0.0.1", EtcdQuota: 1 << 30,
		NodeMonitorGracePeriod: 40e9, MaxRequestsInflight: 5}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--max-requests-inflight") {
		t.Errorf("Validate() = %v; want --max-requests-inflight named", err)
	}
	o.MaxRequestsInflight, o.MaxMutatingRequestsInflight = 0, -1
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--max-mutating-requests-inflight") {
		t.Errorf("Validate() = %v; want --max-mutating-requests-inflight named", err)
	}
	o.MaxMutatingRequestsInflight = 0
	if err := o.Validate(); err != nil {
		t.Errorf("Validate() = %v for the defaults", err)
	}
}
