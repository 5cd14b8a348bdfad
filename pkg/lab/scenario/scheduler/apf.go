package scheduler

import (
	"context"
	"net/http"
	"sort"
	"sync"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Where writes land in API Priority and Fairness (APF): the flow schema
// that matched a request and the priority level it was queued in. The
// ceiling is only a ceiling of the schedulers' writes if its writes wait
// in the same priority level as theirs.

// Flow is one flow schema and its priority level.
type Flow struct {
	FlowSchema    string `json:"flow_schema"`
	PriorityLevel string `json:"priority_level"`
}

// FlowCount is how many requests one flow dispatched.
type FlowCount struct {
	Flow
	Requests float64 `json:"requests"`
}

// flowTally counts the APF response headers of a client's requests: the
// UIDs of the flow schema and priority level each request matched.
type flowTally struct {
	mu    sync.Mutex
	byUID map[Flow]int
}

func (t *flowTally) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil {
			fs := resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID)
			pl := resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedPriorityLevelConfigurationUID)
			if fs != "" || pl != "" {
				t.add(Flow{fs, pl})
			}
		}
		return resp, err
	})
}

// add counts one request of flow f (by UIDs).
func (t *flowTally) add(f Flow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byUID == nil {
		t.byUID = map[Flow]int{}
	}
	t.byUID[f]++
}

// take returns the counts since the last take and starts afresh.
func (t *flowTally) take() map[Flow]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.byUID
	t.byUID = nil
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// flowNames maps APF object UIDs to names: the headers carry UIDs, the
// metrics names.
func flowNames(ctx context.Context, cs kubernetes.Interface) (map[string]string, error) {
	names := map[string]string{}
	fss, err := cs.FlowcontrolV1().FlowSchemas().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, fs := range fss.Items {
		names[string(fs.UID)] = fs.Name
	}
	pls, err := cs.FlowcontrolV1().PriorityLevelConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, pl := range pls.Items {
		names[string(pl.UID)] = pl.Name
	}
	return names, nil
}

// named turns a tally by UID into counts by name, most requests first.
func named(byUID map[Flow]int, names map[string]string) []FlowCount {
	name := func(uid string) string {
		if n, ok := names[uid]; ok {
			return n
		}
		return "uid " + uid
	}
	byName := map[Flow]float64{}
	for f, n := range byUID {
		byName[Flow{name(f.FlowSchema), name(f.PriorityLevel)}] += float64(n)
	}
	return sortedFlows(byName)
}

// dispatchedMetric counts requests APF dispatched, by flow schema and
// priority level.
const dispatchedMetric = "apiserver_flowcontrol_dispatched_requests_total"

// dispatched sums dispatchedMetric over every API server's scrape.
func dispatched(scrapes []lab.Families) map[Flow]float64 {
	out := map[Flow]float64{}
	for _, fams := range scrapes {
		mf, ok := fams[dispatchedMetric]
		if !ok {
			continue
		}
		for _, m := range mf.GetMetric() {
			var f Flow
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "flow_schema":
					f.FlowSchema = lp.GetValue()
				case "priority_level":
					f.PriorityLevel = lp.GetValue()
				}
			}
			out[f] += m.GetCounter().GetValue()
		}
	}
	return out
}

// flowDelta is what each flow dispatched between two readings; flows with
// none are left out.
func flowDelta(before, after map[Flow]float64) []FlowCount {
	d := map[Flow]float64{}
	for f, a := range after {
		if n := a - before[f]; n > 0 {
			d[f] = n
		}
	}
	return sortedFlows(d)
}

func sortedFlows(m map[Flow]float64) []FlowCount {
	out := make([]FlowCount, 0, len(m))
	for f, n := range m {
		out = append(out, FlowCount{f, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Requests != out[j].Requests {
			return out[i].Requests > out[j].Requests
		}
		return out[i].FlowSchema < out[j].FlowSchema
	})
	return out
}
