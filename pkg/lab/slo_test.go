package lab

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// apiBuckets are apiserver_request_duration_seconds' bucket bounds.
var apiBuckets = []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60}

// observed is a histogram with apiserver's buckets holding the values.
func observed(values ...float64) Histogram {
	h := Histogram{Count: float64(len(values))}
	for _, ub := range apiBuckets {
		n := 0.0
		for _, v := range values {
			if v <= ub {
				n++
			}
		}
		h.Buckets = append(h.Buckets, Bucket{UpperBound: ub, Cumulative: n})
	}
	for _, v := range values {
		h.Sum += v
	}
	return h
}

// many repeats v n times.
func many(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestRequestLatenciesFromExposition(t *testing.T) {
	// Two versions of one series are one pair; empty labels are kept as
	// the API server prints them.
	var b strings.Builder
	b.WriteString("# TYPE apiserver_request_duration_seconds histogram\n")
	series := []struct {
		labels string
		le     []float64 // cumulative counts for le=0.1, 1, +Inf
	}{
		{`component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"`, []float64{90, 99, 100}},
		{`component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1beta1"`, []float64{10, 10, 10}},
		{`component="apiserver",dry_run="",group="apps",resource="deployments",scope="namespace",subresource="",verb="LIST",version="v1"`, []float64{3, 4, 4}},
	}
	for _, s := range series {
		for i, le := range []string{"0.1", "1", "+Inf"} {
			fmt.Fprintf(&b, "apiserver_request_duration_seconds_bucket{%s,le=%q} %g\n", s.labels, le, s.le[i])
		}
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_sum{%s} 1\n", s.labels)
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_count{%s} %g\n", s.labels, s.le[2])
	}
	f, err := ParseText(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	lat, ok := RequestLatencies(f)
	if !ok || len(lat) != 2 {
		t.Fatalf("latencies = %v, %v; want 2 series", lat, ok)
	}
	patch := lat[APIKey{Verb: "PATCH", Resource: "pods", Subresource: "status", Scope: "resource"}]
	if patch.Count != 110 || patch.Buckets[0].Cumulative != 100 {
		t.Errorf("PATCH pods/status = %+v, want both versions summed (110, 100 under 0.1s)", patch)
	}
	list := lat[APIKey{Verb: "LIST", Group: "apps", Resource: "deployments", Scope: "namespace"}]
	if list.Count != 4 {
		t.Errorf("LIST deployments = %+v", list)
	}
	if got := (APIKey{Verb: "LIST", Group: "apps", Resource: "deployments"}).ResourceName(); got != "deployments.apps" {
		t.Errorf("ResourceName = %q", got)
	}
}

func TestSLOClassScope(t *testing.T) {
	for _, c := range []struct {
		k    APIKey
		want string
	}{
		{APIKey{Verb: "POST", Resource: "pods", Scope: "resource"}, SLOMutating},
		{APIKey{Verb: "PATCH", Resource: "pods", Subresource: "status", Scope: "resource"}, SLOMutating},
		{APIKey{Verb: "APPLY", Group: "apps", Resource: "deployments", Scope: "resource"}, SLOMutating},
		{APIKey{Verb: "GET", Resource: "configmaps", Scope: "resource"}, SLOReadResource},
		{APIKey{Verb: "LIST", Resource: "pods", Scope: "namespace"}, SLOReadNamespace},
		{APIKey{Verb: "LIST", Resource: "nodes", Scope: "cluster"}, SLOReadCluster},
		{APIKey{Verb: "WATCH", Resource: "pods", Scope: "cluster"}, ""},
		{APIKey{Verb: "DELETECOLLECTION", Resource: "pods", Scope: "namespace"}, ""},
		{APIKey{Verb: "CONNECT", Resource: "pods", Subresource: "exec", Scope: "resource"}, ""},
		{APIKey{Verb: "GET", Resource: "pods", Subresource: "log", Scope: "resource"}, ""},
		{APIKey{Verb: "POST", Group: "apps.kruise.io", Resource: "clonesets", Scope: "resource"}, ""},
		{APIKey{Verb: "POST", Group: "authorization.k8s.io", Resource: "subjectaccessreviews", Scope: "cluster"}, ""},
		{APIKey{Verb: "GET", Subresource: "/healthz"}, ""},
	} {
		got, ok := c.k.SLOClass()
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%+v: class %q (%v), want %q", c.k, got, ok, c.want)
		}
	}
}

func TestJudgeAPILatency(t *testing.T) {
	lat := APILatencies{
		// 1% of pod status patches take 3s: p99 lands in (1, 1.25].
		{Verb: "PATCH", Resource: "pods", Subresource: "status", Scope: "resource"}: observed(append(many(980, 0.02), many(20, 3)...)...),
		{Verb: "POST", Resource: "pods", Scope: "resource"}:                         observed(many(500, 0.03)...),
		{Verb: "GET", Resource: "pods", Scope: "resource"}:                          observed(many(100, 0.01)...),
		// GET and LIST of one (resource, scope) are one read pair.
		{Verb: "LIST", Resource: "configmaps", Scope: "namespace"}: observed(many(10, 3.5)...),
		{Verb: "LIST", Resource: "nodes", Scope: "cluster"}:        observed(many(10, 40)...),
		{Verb: "WATCH", Resource: "pods", Scope: "cluster"}:        observed(many(10, 55)...),
	}
	rows, verdicts := JudgeAPILatency(lat)
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5 (WATCH is no SLO pair): %+v", len(rows), rows)
	}
	if r := rows[0]; r.Class != SLOMutating || r.Verb != "PATCH" || r.Resource != "pods/status" || !r.OverSLO || r.Count != 1000 {
		t.Errorf("first row = %+v, want the slowest mutating pair, PATCH pods/status, over its SLO", r)
	}
	by := map[string]SLOVerdict{}
	for _, v := range verdicts {
		by[v.Class] = v
	}
	mut := by[SLOMutating]
	if mut.Pass || mut.Pairs != 2 || mut.Requests != 1500 || mut.Worst != "PATCH pods/status" {
		t.Errorf("mutating verdict = %+v, want fail on PATCH pods/status over 2 pairs", mut)
	}
	// Rank 990 of 1000 falls 10 into the 20 slow ones, all in (2, 3].
	if got := *mut.WorstP99; math.Abs(got-2.5) > 1e-9 {
		t.Errorf("mutating worst p99 = %g, want 2.5", got)
	}
	if v := by[SLOReadResource]; !v.Pass || !v.MeetsSeed || v.Pairs != 1 {
		t.Errorf("single-object reads = %+v, want pass within 100 ms", v)
	}
	if v := by[SLOReadNamespace]; !v.Pass || v.MeetsSeed {
		t.Errorf("namespace reads at 3.5s = %+v, want pass (≤5s) but over the seed's 100 ms", v)
	}
	if v := by[SLOReadCluster]; v.Pass || !strings.Contains(v.String(), "LIST nodes") {
		t.Errorf("cluster reads at 40s = %+v (%s), want fail naming LIST nodes", v, v)
	}
}

func TestJudgeAPILatencyWithoutRequestsIsNoDataNotAPass(t *testing.T) {
	_, verdicts := JudgeAPILatency(APILatencies{})
	for _, v := range verdicts {
		if v.Pass || v.MeetsSeed || !v.NoData || v.Pairs != 0 || !strings.Contains(v.String(), "no data") {
			t.Errorf("%+v: an empty window must be no data, never a pass", v)
		}
	}
}

func TestAPILatenciesSubAndAdd(t *testing.T) {
	k := APIKey{Verb: "POST", Resource: "pods", Scope: "resource"}
	before := APILatencies{k: observed(many(10, 0.01)...)}
	after := APILatencies{k: observed(append(many(10, 0.01), many(5, 0.3)...)...)}
	d := after.Sub(before)
	if d[k].Count != 5 || d[k].Quantile(0.5) <= 0.2 {
		t.Errorf("difference = %+v, want the 5 slow requests only", d[k])
	}
	// A series present before but silent since drops out.
	if len(before.Sub(before)) != 0 {
		t.Errorf("no requests between equal snapshots should leave no series")
	}
	two := d.Add(d)
	if two[k].Count != 10 {
		t.Errorf("sum of two API servers = %g requests, want 10", two[k].Count)
	}
	if got := JudgePodStartup(Latencies{Count: 3, P99: Some(6.0)}); got.Pass || got.MeetsSeed {
		t.Errorf("pod startup p99 6s = %+v, want a fail", got)
	}
	if got := JudgePodStartup(Latencies{Count: 3, P99: Some(0.08)}); !got.Pass || !got.MeetsSeed {
		t.Errorf("pod startup p99 80ms = %+v, want a pass within the seed's 100 ms", got)
	}
}
