package controlplane

import (
	"slices"
	"strings"
	"testing"
)

// The limits reach the API server's command line.
func TestInflightReachesTheAPIServer(t *testing.T) {
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
