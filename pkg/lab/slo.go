package lab

import (
	"fmt"
	"sort"
	"strings"
)

// The API call latency SLOs of SIG scalability
// (kubernetes/community, sig-scalability/slos): the 99th percentile of
// every (resource, verb) pair of mutating calls on single objects, and of
// every (resource, scope) pair of non-streaming reads, against a
// threshold per class. Virtual and aggregated resources and custom
// resources are out of scope, as upstream defines it.

// SLO classes.
const (
	SLOMutating      = "mutating"
	SLOReadResource  = "read, scope resource"
	SLOReadNamespace = "read, scope namespace"
	SLOReadCluster   = "read, scope cluster"
	SLOPodStartup    = "pod startup"
)

// SeedLatency is the seeds' end-to-end latency claim ("5 s → 100 ms"),
// held against every p99 next to the upstream thresholds.
const SeedLatency = 0.1

// SLO is one latency objective: the p99 of every pair in Class must be at
// most ThresholdSeconds.
type SLO struct {
	Class            string  `json:"class"`
	Description      string  `json:"description"`
	ThresholdSeconds float64 `json:"thresholdSeconds"`
}

// APISLOs are the API call latency objectives, in report order.
var APISLOs = []SLO{
	{SLOMutating, "POST, PUT, PATCH, DELETE of single objects, per (resource, verb)", 1},
	{SLOReadResource, "GET of single objects, per resource", 1},
	{SLOReadNamespace, "LIST within one namespace, per resource", 5},
	{SLOReadCluster, "LIST across namespaces, per resource", 30},
}

// PodStartupObjective is the pod startup SLO: creationTimestamp to Running
// observed by a watch, p99, stateless pods, image pulls excluded.
var PodStartupObjective = SLO{SLOPodStartup, "pod creationTimestamp → Running seen by a watch, p99 (no image pulls: simulated nodes)", 5}

// builtinGroups are the API groups kube-apiserver serves itself. Anything
// else (custom resources, aggregated APIs) is outside the SLOs.
var builtinGroups = map[string]bool{
	"": true, "admissionregistration.k8s.io": true, "apiextensions.k8s.io": true, "apiregistration.k8s.io": true,
	"apps": true, "autoscaling": true, "batch": true, "certificates.k8s.io": true, "coordination.k8s.io": true,
	"discovery.k8s.io": true, "events.k8s.io": true, "flowcontrol.apiserver.k8s.io": true,
	"internal.apiserver.k8s.io": true, "networking.k8s.io": true, "node.k8s.io": true, "policy": true,
	"rbac.authorization.k8s.io": true, "resource.k8s.io": true, "scheduling.k8s.io": true,
	"storage.k8s.io": true, "storagemigration.k8s.io": true,
}

// virtualGroups only answer questions (token and access reviews); nothing
// is stored, so upstream leaves them out.
var virtualGroups = map[string]bool{"authentication.k8s.io": true, "authorization.k8s.io": true}

// streamingSubresources hold a connection open for as long as the user
// wants; their duration is not a latency.
var streamingSubresources = map[string]bool{"exec": true, "attach": true, "portforward": true, "proxy": true, "log": true}

// APIKey is one series of apiserver_request_duration_seconds, summed over
// version, component and dry_run.
type APIKey struct {
	Verb, Group, Resource, Subresource, Scope string
}

// ResourceName is resource[.group][/subresource], as kubectl names it.
func (k APIKey) ResourceName() string {
	s := k.Resource
	if k.Group != "" {
		s += "." + k.Group
	}
	if k.Subresource != "" {
		s += "/" + k.Subresource
	}
	return s
}

// SLOClass is the class a request belongs to, or false when it is outside
// every API call SLO (watches, streams, collections, non-resource URLs,
// custom, aggregated and virtual resources).
func (k APIKey) SLOClass() (string, bool) {
	if k.Resource == "" || !builtinGroups[k.Group] || virtualGroups[k.Group] || streamingSubresources[k.Subresource] ||
		k.Resource == "componentstatuses" {
		return "", false
	}
	switch k.Verb {
	case "POST", "PUT", "PATCH", "APPLY", "DELETE":
		return SLOMutating, true
	case "GET", "LIST":
		switch k.Scope {
		case "resource":
			return SLOReadResource, true
		case "namespace":
			return SLOReadNamespace, true
		case "cluster":
			return SLOReadCluster, true
		}
	}
	return "", false
}

// APILatencies are request duration histograms by series.
type APILatencies map[APIKey]Histogram

// RequestLatencies reads apiserver_request_duration_seconds from one
// scrape, one histogram per (verb, group, resource, subresource, scope).
func RequestLatencies(f Families) (APILatencies, bool) {
	mf, ok := f[metricAPIRequest]
	if !ok {
		return nil, false
	}
	keys := map[APIKey]bool{}
	for _, m := range mf.GetMetric() {
		if m.Histogram == nil {
			continue
		}
		var k APIKey
		for _, lp := range m.GetLabel() {
			switch lp.GetName() {
			case "verb":
				k.Verb = lp.GetValue()
			case "group":
				k.Group = lp.GetValue()
			case "resource":
				k.Resource = lp.GetValue()
			case "subresource":
				k.Subresource = lp.GetValue()
			case "scope":
				k.Scope = lp.GetValue()
			}
		}
		keys[k] = true
	}
	out := make(APILatencies, len(keys))
	for k := range keys {
		match := map[string]string{"verb": k.Verb, "group": k.Group, "resource": k.Resource, "subresource": k.Subresource, "scope": k.Scope}
		if h, ok := f.Histogram(metricAPIRequest, match); ok {
			out[k] = h
		}
	}
	return out, true
}

// Sub is what was observed between prev and a, per series; a series that
// restarted counts from zero (see Histogram.Sub).
func (a APILatencies) Sub(prev APILatencies) APILatencies {
	out := make(APILatencies, len(a))
	for k, h := range a {
		d := h
		if p, ok := prev[k]; ok {
			d = h.Sub(p)
		}
		if d.Count > 0 {
			out[k] = d
		}
	}
	return out
}

// Add merges the histograms of several API servers.
func (a APILatencies) Add(b APILatencies) APILatencies {
	out := make(APILatencies, len(a)+len(b))
	for k, h := range a {
		out[k] = h
	}
	for k, h := range b {
		if prev, ok := out[k]; ok {
			if sum, ok := addHistograms(prev, h); ok {
				h = sum
			}
		}
		out[k] = h
	}
	return out
}

// ByVerb merges every series of each verb that some SLO covers: the
// "API p99 per verb" of the charts.
func (a APILatencies) ByVerb() map[string]Histogram {
	out := map[string]Histogram{}
	for k, h := range a {
		if _, ok := k.SLOClass(); !ok {
			continue
		}
		if prev, ok := out[k.Verb]; ok {
			if sum, ok := addHistograms(prev, h); ok {
				h = sum
			}
		}
		out[k.Verb] = h
	}
	return out
}

// APILatencyRow is one SLO pair: (resource, verb) for mutating calls,
// (resource, scope) for reads.
type APILatencyRow struct {
	Class    string   `json:"class"`
	Verb     string   `json:"verb"`
	Resource string   `json:"resource"`
	Scope    string   `json:"scope"`
	Count    float64  `json:"count"`
	P50      *float64 `json:"p50Seconds,omitempty"`
	P90      *float64 `json:"p90Seconds,omitempty"`
	P99      *float64 `json:"p99Seconds,omitempty"`
	// ThresholdSeconds is the pair's SLO.
	ThresholdSeconds float64 `json:"thresholdSeconds"`
	OverSLO          bool    `json:"overSLO,omitempty"`
	OverSeed         bool    `json:"overSeed,omitempty"`
}

// SLOVerdict is one objective judged over a window.
type SLOVerdict struct {
	SLO
	// Pairs is how many pairs had requests; Requests how many in all.
	Pairs    int     `json:"pairs"`
	Requests float64 `json:"requests"`
	// WorstP99 is the highest p99 of any pair, in Worst.
	WorstP99 *float64 `json:"worstP99Seconds,omitempty"`
	Worst    string   `json:"worst,omitempty"`
	// Pass says every pair met the threshold. A class with no requests
	// does not pass: it is NoData, which a verdict must not read as a pass.
	Pass   bool `json:"pass"`
	NoData bool `json:"noData,omitempty"`
	// Windows is how many windows were judged when the verdict is the
	// worst of several; WindowsMissed how many were over the threshold,
	// Window names the worst one.
	Windows       int    `json:"windows,omitempty"`
	WindowsMissed int    `json:"windowsMissed,omitempty"`
	Window        string `json:"window,omitempty"`
	// MeetsSeed says every pair's p99 was within the seeds' 100 ms.
	MeetsSeed bool `json:"meetsSeed"`
}

// JudgeAPILatency turns histograms observed over a window into one row per
// SLO pair (sorted by class, then worst p99 first) and one verdict per
// class of APISLOs. A class without requests in the window is NoData, not
// a pass: an empty window proves nothing.
func JudgeAPILatency(lat APILatencies) ([]APILatencyRow, []SLOVerdict) {
	type pair struct{ class, verb, resource, scope string }
	merged := map[pair]Histogram{}
	for k, h := range lat {
		class, ok := k.SLOClass()
		if !ok || h.Count <= 0 {
			continue
		}
		p := pair{class: class, resource: k.ResourceName()}
		if class == SLOMutating {
			p.verb = k.Verb
		} else {
			// Reads are judged per (resource, scope): GET and LIST of one
			// scope together, as upstream defines the SLI.
			p.scope = k.Scope
		}
		if prev, seen := merged[p]; seen {
			if sum, ok := addHistograms(prev, h); ok {
				h = sum
			}
		}
		merged[p] = h
	}
	threshold := map[string]float64{}
	for _, s := range APISLOs {
		threshold[s.Class] = s.ThresholdSeconds
	}
	rows := make([]APILatencyRow, 0, len(merged))
	for p, h := range merged {
		r := APILatencyRow{Class: p.class, Verb: p.verb, Resource: p.resource, Scope: p.scope, Count: h.Count,
			P50: Finite(h.Quantile(0.5)), P90: Finite(h.Quantile(0.9)), P99: Finite(h.Quantile(0.99)),
			ThresholdSeconds: threshold[p.class]}
		if r.Verb == "" {
			r.Verb = readVerb(p.scope)
		}
		if r.P99 != nil {
			r.OverSLO = *r.P99 > r.ThresholdSeconds
			r.OverSeed = *r.P99 > SeedLatency
		}
		rows = append(rows, r)
	}
	order := map[string]int{}
	for i, s := range APISLOs {
		order[s.Class] = i
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Class != b.Class {
			return order[a.Class] < order[b.Class]
		}
		if pa, pb := orMinusOne(a.P99), orMinusOne(b.P99); pa != pb {
			return pa > pb
		}
		return a.Resource+a.Verb < b.Resource+b.Verb
	})
	verdicts := make([]SLOVerdict, 0, len(APISLOs))
	for _, s := range APISLOs {
		v := SLOVerdict{SLO: s, Pass: true, MeetsSeed: true}
		for _, r := range rows {
			if r.Class != s.Class {
				continue
			}
			v.Pairs++
			v.Requests += r.Count
			if r.P99 != nil && (v.WorstP99 == nil || *r.P99 > *v.WorstP99) {
				v.WorstP99, v.Worst = r.P99, strings.TrimSpace(r.Verb+" "+r.Resource)
			}
			v.Pass = v.Pass && !r.OverSLO
			v.MeetsSeed = v.MeetsSeed && !r.OverSeed
		}
		if v.Pairs == 0 {
			v.Pass, v.MeetsSeed, v.NoData = false, false, true
		}
		verdicts = append(verdicts, v)
	}
	return rows, verdicts
}

// JudgePodStartup holds the pod startup SLI's p99 against the SLO.
func JudgePodStartup(sli Latencies) SLOVerdict {
	v := SLOVerdict{SLO: PodStartupObjective, Pairs: 1, Requests: float64(sli.Count), WorstP99: sli.P99, Worst: "pods"}
	v.Pass = sli.P99 != nil && *sli.P99 <= PodStartupObjective.ThresholdSeconds
	v.MeetsSeed = sli.P99 != nil && *sli.P99 <= SeedLatency
	return v
}

func readVerb(scope string) string {
	if scope == "resource" {
		return "GET"
	}
	return "LIST"
}

func orMinusOne(v *float64) float64 {
	if v == nil {
		return -1
	}
	return *v
}

// String is "class: worst p99 X (pair) vs threshold".
func (v SLOVerdict) String() string {
	if v.WorstP99 == nil {
		return fmt.Sprintf("%s: no requests (no data)", v.Class)
	}
	s := fmt.Sprintf("%s: p99 %.3fs (%s) against %gs", v.Class, *v.WorstP99, v.Worst, v.ThresholdSeconds)
	if v.Windows > 0 {
		s += fmt.Sprintf(" in window %s, the worst of %d (%d over)", v.Window, v.Windows, v.WindowsMissed)
	}
	return s
}

// SecOpt formats optional seconds: milliseconds below one second.
func SecOpt(v *float64) string {
	switch {
	case v == nil:
		return "—"
	case *v < 1:
		return fmt.Sprintf("%.0f ms", *v*1000)
	default:
		return fmt.Sprintf("%.2f s", *v)
	}
}
