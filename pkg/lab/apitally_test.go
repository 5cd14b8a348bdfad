package lab

import (
	"strings"
	"testing"
)

const cloneSetMetricsFixture = `# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 1000
apiserver_request_total{code="201",component="apiserver",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 990
apiserver_request_total{code="409",component="apiserver",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 10
apiserver_request_total{code="200",component="apiserver",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 5000
apiserver_request_total{code="200",component="apiserver",group="",resource="",scope="",subresource="",verb="GET",version=""} 77
# TYPE myriad_cloneset_pod_operations_total counter
myriad_cloneset_pod_operations_total{operation="create",result="ok"} 1000
myriad_cloneset_pod_operations_total{operation="create",result="error"} 3
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="cloneset-controller",result="success"} 40
controller_runtime_reconcile_total{controller="cloneset-controller",result="requeue"} 2
controller_runtime_reconcile_total{controller="other-controller",result="success"} 9
# TYPE apiserver_flowcontrol_dispatched_requests_total counter
apiserver_flowcontrol_dispatched_requests_total{flow_schema="myriad-manager",priority_level="workload-high"} 1200
apiserver_flowcontrol_dispatched_requests_total{flow_schema="myriad-nodesim",priority_level="system"} 3000
`

func TestTallyAPIRequestsAndManagerCounters(t *testing.T) {
	f, err := ParseText(strings.NewReader(cloneSetMetricsFixture))
	if err != nil {
		t.Fatal(err)
	}
	before := TallyAPIRequests(f)
	if got := before.kinds[[2]string{"POST", "pods/binding"}]; got == nil || got[0] != 1000 || got[1] != 10 {
		t.Errorf("POST pods/binding = %v, want 1000 (codes summed), 10 failed", got)
	}
	if _, ok := before.kinds[[2]string{"GET", ""}]; ok {
		t.Error("a non-resource request was tallied")
	}
	after := TallyAPIRequests(f, f) // two API servers
	d := after.Since(before)
	if len(d.Kinds) != 3 || d.Kinds[0] != (APIRequestCount{"PUT", "leases.coordination.k8s.io", 5000, 0}) || !d.Kinds[0].Writes() {
		t.Errorf("delta %+v", d.Kinds)
	}
	// Equal counts sort by name: POST pods, then POST pods/binding.
	if b := d.Kinds[2]; b.Resource != "pods/binding" || b.Count != 1000 || b.Failed != 10 {
		t.Errorf("bindings %+v, want 1000 of which 10 failed (409)", b)
	}
	if len(d.Flows) != 2 || d.Flows[0] != (APIFlowCount{"myriad-nodesim", 3000}) || d.Flows[1].Count != 1200 {
		t.Errorf("flows %+v", d.Flows)
	}
	m := ManagerCounters(f)
	for k, want := range map[string]float64{"pod create": 1000, "pod create (error)": 3, "reconciles": 42} {
		if m[k] != want {
			t.Errorf("manager %q = %v, want %v", k, m[k], want)
		}
	}
	if d := CounterDelta(map[string]float64{"reconciles": 50}, m); d["reconciles"] != 42 {
		t.Errorf("a counter that went down (restart) gave %v, want its value after", d["reconciles"])
	}
}
