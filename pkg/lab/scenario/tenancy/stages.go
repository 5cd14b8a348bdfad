package tenancy

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/lab"
	tenancynames "github.com/myriad-dev/myriad/pkg/tenancy"
)

// Where a pod's seconds go. The latency a user sees is one number; to
// know what to make faster, the run also watches each pod on the cluster
// that runs it (for a tenant's pod, the syncer's copy) and stamps the
// moments it is first seen there, bound there and Running there, and when
// the tenant's own pod is bound.

// stamps are the moments a pod was first seen in a state on the cluster.
type stamps struct{ seen, bound, running time.Time }

// Stages split create → Running into its legs, each in seconds over the
// pods that reached both ends.
type Stages struct {
	// Place is create sent → the pod exists on the cluster: the API
	// server's write and the watch (directly), or that plus the syncer's
	// queue, token and copy (through a tenant).
	Place lab.Latencies `json:"place"`
	// Schedule is on the cluster → bound there.
	Schedule lab.Latencies `json:"schedule"`
	// Start is bound there → Running there (the simulated kubelet).
	Start lab.Latencies `json:"start"`
	// BindUp is bound on the cluster → the tenant's pod bound; only
	// through a tenant.
	BindUp *lab.Latencies `json:"bindUp,omitempty"`
	// StatusUp is Running on the cluster → Running where it was created;
	// only through a tenant.
	StatusUp *lab.Latencies `json:"statusUp,omitempty"`
}

// watchCluster stamps the run's pods on the cluster itself. keyOf maps a
// cluster pod to its key in the clock, or false if it is not one of the
// phase's.
func (pc *podClock) watchCluster(ctx context.Context, c kubernetes.Interface, runID string, keyOf func(*corev1.Pod) (string, bool)) error {
	return watchRunPods(ctx, c, metav1.NamespaceAll, runID, "the cluster", func(p *corev1.Pod) {
		if k, ok := keyOf(p); ok {
			pc.stampCluster(k, p)
		}
	})
}

func (pc *podClock) stampCluster(key string, p *corev1.Pod) {
	now := pc.clk.Now()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	st := pc.cluster[key]
	if st == nil {
		st = &stamps{seen: now}
		pc.cluster[key] = st
	}
	if st.bound.IsZero() && p.Spec.NodeName != "" {
		st.bound = now
	}
	if st.running.IsZero() && p.Status.Phase == corev1.PodRunning {
		st.running = now
	}
}

// stampTenantBound records the tenant's pod bound (a tenant target only).
func (pc *podClock) stampTenantBound(key string) {
	now := pc.clk.Now()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if _, ok := pc.tenantBound[key]; !ok {
		pc.tenantBound[key] = now
	}
}

// stages reduces the stamps of the pods keep selects; through says
// whether the pods were created through tenants. Call with pc.mu held.
func (pc *podClock) stages(keep func(t int) bool, through bool) *Stages {
	var place, schedule, start, bindUp, statusUp []float64
	leg := func(to *[]float64, from, until time.Time) {
		if !from.IsZero() && !until.IsZero() {
			*to = append(*to, until.Sub(from).Seconds())
		}
	}
	for k, sent := range pc.created {
		var t int
		if _, err := fmt.Sscanf(k, "%d/", &t); err != nil || !keep(t) {
			continue
		}
		st := pc.cluster[k]
		if st == nil {
			continue
		}
		leg(&place, sent, st.seen)
		leg(&schedule, st.seen, st.bound)
		leg(&start, st.bound, st.running)
		if through {
			leg(&bindUp, st.bound, pc.tenantBound[k])
			leg(&statusUp, st.running, pc.running[k])
		}
	}
	if len(place) == 0 {
		return nil
	}
	s := &Stages{Place: lab.SummarizeLatencies(place), Schedule: lab.SummarizeLatencies(schedule), Start: lab.SummarizeLatencies(start)}
	if through {
		b, u := lab.SummarizeLatencies(bindUp), lab.SummarizeLatencies(statusUp)
		s.BindUp, s.StatusUp = &b, &u
	}
	return s
}

// tenantKeys maps a copy on the cluster to its tenant pod's key: the
// tenant's index among targets and the pod's name.
func tenantKeys(targets []target) func(*corev1.Pod) (string, bool) {
	index := map[string]int{}
	for i, t := range targets {
		index[t.Name] = i
	}
	return func(p *corev1.Pod) (string, bool) {
		i, ok := index[p.Labels[tenancynames.LabelTenant]]
		if !ok {
			return "", false
		}
		return podKey(i, p.Name), true
	}
}

// directKeys maps a pod created directly to its key by its namespace.
func directKeys(targets []target) func(*corev1.Pod) (string, bool) {
	index := map[string]int{}
	for i, t := range targets {
		index[t.Namespace] = i
	}
	return func(p *corev1.Pod) (string, bool) {
		i, ok := index[p.Namespace]
		if !ok {
			return "", false
		}
		return podKey(i, p.Name), true
	}
}
