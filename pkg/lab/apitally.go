package lab

import (
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// API request tallies: what the API server(s) served, by kind and by
// client, and what `myriad manager` counted of its own work, read from two
// scrapes; a window's figures are the increase between the two readings.

// mutatingVerbs are apiserver_request_total's verbs that write.
var mutatingVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "DELETECOLLECTION": true, "APPLY": true}

// APIRequestCount is how many requests of one verb on one resource the API
// server(s) served; Failed of them answered with a code other than 2xx
// (409 conflicts, 404s).
type APIRequestCount struct {
	Verb string `json:"verb"`
	// Resource is resource[.group][/subresource], e.g. pods/status.
	Resource string  `json:"resource"`
	Count    float64 `json:"count"`
	Failed   float64 `json:"failed,omitempty"`
}

// Writes says whether the verb writes.
func (c APIRequestCount) Writes() bool { return mutatingVerbs[c.Verb] }

// APIFlowCount is how many requests the API server(s) dispatched for one
// API priority and fairness flow schema: who made them (myriad-manager,
// myriad-nodesim, kube-scheduler, ...), reads and writes alike.
type APIFlowCount struct {
	FlowSchema string  `json:"flowSchema"`
	Count      float64 `json:"count"`
}

// APIRequestDelta is what the API server(s) served between two tallies.
type APIRequestDelta struct {
	Kinds []APIRequestCount `json:"kinds"`
	Flows []APIFlowCount    `json:"flows,omitempty"`
}

// APIRequestTally is the API server(s)' request counters at one moment:
// apiserver_request_total by verb and resource (summed over codes, scopes
// and versions, failures kept apart) and
// apiserver_flowcontrol_dispatched_requests_total by flow schema.
type APIRequestTally struct {
	kinds map[[2]string]*[2]float64 // [verb, resource] → [all, failed]
	flows map[string]float64
}

// TallyAPIRequests adds up the scrapes of every API server.
func TallyAPIRequests(scrapes ...Families) APIRequestTally {
	t := APIRequestTally{kinds: map[[2]string]*[2]float64{}, flows: map[string]float64{}}
	for _, f := range scrapes {
		for _, m := range f[metricAPIRequests].GetMetric() {
			resource := metricLabel(m, "resource")
			if resource == "" {
				continue // non-resource URLs: /healthz, /metrics
			}
			if g := metricLabel(m, "group"); g != "" {
				resource += "." + g
			}
			if sub := metricLabel(m, "subresource"); sub != "" {
				resource += "/" + sub
			}
			k := [2]string{metricLabel(m, "verb"), resource}
			c := t.kinds[k]
			if c == nil {
				c = &[2]float64{}
				t.kinds[k] = c
			}
			v := m.GetCounter().GetValue()
			c[0] += v
			if !strings.HasPrefix(metricLabel(m, "code"), "2") {
				c[1] += v
			}
		}
		for _, m := range f["apiserver_flowcontrol_dispatched_requests_total"].GetMetric() {
			t.flows[metricLabel(m, "flow_schema")] += m.GetCounter().GetValue()
		}
	}
	return t
}

// Since is what was served between before and t, largest first. A count
// that went down belongs to a restarted API server: its count since the
// restart is what it served.
func (t APIRequestTally) Since(before APIRequestTally) *APIRequestDelta {
	d := &APIRequestDelta{}
	for k, c := range t.kinds {
		var b [2]float64
		if p := before.kinds[k]; p != nil {
			b = *p
		}
		n, failed := counterIncrease(c[0], b[0]), counterIncrease(c[1], b[1])
		if n > 0 {
			d.Kinds = append(d.Kinds, APIRequestCount{Verb: k[0], Resource: k[1], Count: n, Failed: failed})
		}
	}
	sort.Slice(d.Kinds, func(i, j int) bool {
		a, b := d.Kinds[i], d.Kinds[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Verb+a.Resource < b.Verb+b.Resource
	})
	for name, v := range t.flows {
		if n := counterIncrease(v, before.flows[name]); n > 0 {
			d.Flows = append(d.Flows, APIFlowCount{FlowSchema: name, Count: n})
		}
	}
	sort.Slice(d.Flows, func(i, j int) bool {
		if d.Flows[i].Count != d.Flows[j].Count {
			return d.Flows[i].Count > d.Flows[j].Count
		}
		return d.Flows[i].FlowSchema < d.Flows[j].FlowSchema
	})
	return d
}

// counterIncrease is a counter's increase; one that went down restarted, and its
// value is its increase since.
func counterIncrease(after, before float64) float64 {
	if after < before {
		return after
	}
	return after - before
}

// ManagerCounters reads what `myriad manager` counts of its own work: pod
// writes by operation ("pod create", ...), reconciles of CloneSets and
// passes deferred by expectations.
func ManagerCounters(f Families) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f["myriad_cloneset_pod_operations_total"].GetMetric() {
		key := "pod " + metricLabel(m, "operation")
		if r := metricLabel(m, "result"); r != "ok" {
			key += " (" + r + ")"
		}
		out[key] += m.GetCounter().GetValue()
	}
	// The controller's name in metrics (cloneset.ControllerName; pkg/lab
	// does not import the controllers).
	if v, ok := f.Value("controller_runtime_reconcile_total", map[string]string{"controller": "cloneset-controller"}); ok {
		out["reconciles"] = v
	}
	if v, ok := f.Value("myriad_cloneset_expectation_waits_total", nil); ok {
		out["expectation waits"] = v
	}
	return out
}

func metricLabel(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// CounterDelta is each counter's increase from before to after.
func CounterDelta(before, after map[string]float64) map[string]float64 {
	if after == nil {
		return nil
	}
	out := make(map[string]float64, len(after))
	for k, v := range after {
		out[k] = counterIncrease(v, before[k])
	}
	return out
}
