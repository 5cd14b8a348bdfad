package lab

import (
	"fmt"
	"strings"
	"testing"
)

// apfScrape is an API server's APF metrics: heartbeats dispatched with
// little queueing, bulk work queued and partly refused.
func apfScrape(t *testing.T, heartbeats, bulk, refused float64, bulkSlow float64) Families {
	t.Helper()
	text := fmt.Sprintf(`# TYPE apiserver_flowcontrol_dispatched_requests_total counter
apiserver_flowcontrol_dispatched_requests_total{flow_schema="myriad-nodesim-heartbeat",priority_level="myriad-node-high"} %[1]g
apiserver_flowcontrol_dispatched_requests_total{flow_schema="kube-system-service-accounts",priority_level="workload-high"} %[2]g
apiserver_flowcontrol_dispatched_requests_total{flow_schema="exempt",priority_level="exempt"} 7
# TYPE apiserver_flowcontrol_rejected_requests_total counter
apiserver_flowcontrol_rejected_requests_total{flow_schema="kube-system-service-accounts",priority_level="workload-high",reason="queue-full"} %[3]g
# TYPE apiserver_flowcontrol_nominal_limit_seats gauge
apiserver_flowcontrol_nominal_limit_seats{priority_level="myriad-node-high"} 42
apiserver_flowcontrol_nominal_limit_seats{priority_level="workload-high"} 42
apiserver_flowcontrol_nominal_limit_seats{priority_level="exempt"} 0
# TYPE apiserver_flowcontrol_request_wait_duration_seconds histogram
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="myriad-nodesim-heartbeat",priority_level="myriad-node-high",le="0.01"} %[1]g
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="myriad-nodesim-heartbeat",priority_level="myriad-node-high",le="1"} %[1]g
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="myriad-nodesim-heartbeat",priority_level="myriad-node-high",le="+Inf"} %[1]g
apiserver_flowcontrol_request_wait_duration_seconds_sum{execute="true",flow_schema="myriad-nodesim-heartbeat",priority_level="myriad-node-high"} 0
apiserver_flowcontrol_request_wait_duration_seconds_count{execute="true",flow_schema="myriad-nodesim-heartbeat",priority_level="myriad-node-high"} %[1]g
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="kube-system-service-accounts",priority_level="workload-high",le="0.01"} %[5]g
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="kube-system-service-accounts",priority_level="workload-high",le="1"} %[2]g
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="true",flow_schema="kube-system-service-accounts",priority_level="workload-high",le="+Inf"} %[2]g
apiserver_flowcontrol_request_wait_duration_seconds_sum{execute="true",flow_schema="kube-system-service-accounts",priority_level="workload-high"} 0
apiserver_flowcontrol_request_wait_duration_seconds_count{execute="true",flow_schema="kube-system-service-accounts",priority_level="workload-high"} %[2]g
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="false",flow_schema="kube-system-service-accounts",priority_level="workload-high",le="0.01"} 0
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="false",flow_schema="kube-system-service-accounts",priority_level="workload-high",le="1"} 0
apiserver_flowcontrol_request_wait_duration_seconds_bucket{execute="false",flow_schema="kube-system-service-accounts",priority_level="workload-high",le="+Inf"} %[3]g
apiserver_flowcontrol_request_wait_duration_seconds_sum{execute="false",flow_schema="kube-system-service-accounts",priority_level="workload-high"} 0
apiserver_flowcontrol_request_wait_duration_seconds_count{execute="false",flow_schema="kube-system-service-accounts",priority_level="workload-high"} %[3]g
`, heartbeats, bulk, refused, bulk-bulkSlow, bulkSlow)
	f, err := ParseText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A phase's APF figures are the increase of each level's counters, its
// queue wait taken from admitted requests only, and two API servers add up.
func TestAPFLevelsOverAPhase(t *testing.T) {
	before := ReadAPF(apfScrape(t, 100, 50, 0, 0))
	// 1,000 heartbeats more, none queued past 10 ms; 200 bulk requests
	// more, 100 of which waited up to 1 s, and 30 refused.
	after := ReadAPF(apfScrape(t, 1100, 250, 30, 100))
	got := after.Since(before)
	if len(got) != 2 {
		t.Fatalf("levels %+v, want myriad-node-high and workload-high (exempt did nothing in between)", got)
	}
	hb, bulk := got[0], got[1]
	if hb.Level != "myriad-node-high" || hb.Dispatched != 1000 || hb.Rejected != 0 || hb.NominalSeats != 42 {
		t.Errorf("heartbeats %+v", hb)
	}
	if hb.QueueWaitP99 == nil || *hb.QueueWaitP99 > 0.01 {
		t.Errorf("heartbeats waited p99 %v, want ≤ 10 ms", SecOpt(hb.QueueWaitP99))
	}
	if bulk.Level != "workload-high" || bulk.Dispatched != 200 || bulk.Rejected != 30 {
		t.Errorf("bulk %+v", bulk)
	}
	// Half the 200 admitted waited between 10 ms and 1 s: the median sits
	// at the first bucket's edge, the p99 near 1 s. Refused requests
	// (execute="false") are not in it.
	if bulk.QueueWaitP99 == nil || *bulk.QueueWaitP99 < 0.9 || *bulk.QueueWaitP50 > 0.011 {
		t.Errorf("bulk waited p50 %s p99 %s", SecOpt(bulk.QueueWaitP50), SecOpt(bulk.QueueWaitP99))
	}

	two := after.Add(after)
	if l := two["workload-high"]; l.Dispatched != 500 || l.Rejected != 60 || l.Seats != 84 || l.Wait.Count != 500 {
		t.Errorf("two API servers: %+v", l)
	}
	if ReadAPF(Families{}) != nil {
		t.Error("a scrape without APF metrics should read as nil")
	}
}
