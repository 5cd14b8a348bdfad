package rig

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

// What the workload scenarios (cloneset, sidecarset) share around their
// phases: starting or attaching, checking an existing cluster, and the
// counters and samples taken at each phase boundary.

// NodePods is `myriad nodes`' default pods capacity per node.
const NodePods = 110

// StartOrAttach starts the cluster with a progress line, or attaches.
func StartOrAttach(ctx context.Context, o Options, con *lab.Console) (*Rig, error) {
	if o.Attached() {
		return Attach(ctx, o, con)
	}
	return Start(ctx, o, con, func(p lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("starting: %d/%d nodes Ready | %s elapsed", p.Ready, o.Nodes, el.Round(time.Second))
	})
}

// PodsCapacity is pods= of a `myriad nodes --capacity` value (the flag
// --node-capacity of a scenario).
func PodsCapacity(s string) (int64, error) {
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return 0, fmt.Errorf("--node-capacity: entry %q is not name=quantity", kv)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return 0, fmt.Errorf("--node-capacity: %s=%q is not a quantity", k, v)
		}
		if k == "pods" {
			return q.Value(), nil
		}
	}
	return 0, errors.New("--node-capacity must include pods=N: a node without it takes no pods")
}

// CheckFit says whether pods fit on a started cluster of nodes with
// capacity (--node-capacity, "" for the default), naming the flags.
func CheckFit(pods, nodes int, capacity string) error {
	return CheckFitFlag("--pods", pods, nodes, capacity)
}

// CheckFitFlag is CheckFit for a scenario whose pods are counted by
// another flag (podsFlag, e.g. "--replicas").
func CheckFitFlag(podsFlag string, pods, nodes int, capacity string) error {
	perNode := int64(NodePods)
	if capacity != "" {
		n, err := PodsCapacity(capacity)
		if err != nil {
			return err
		}
		perNode = n
	}
	if int64(pods) > int64(nodes)*perNode {
		return fmt.Errorf("%s %d do not fit on --nodes %d with %d pods each; add nodes or raise pods= in --node-capacity", podsFlag, pods, nodes, perNode)
	}
	return nil
}

// CheckNodes makes sure an existing cluster has at least nodes Ready
// schedulable nodes and room for pods, and returns how many it has.
func (r *Rig) CheckNodes(ctx context.Context, nodes, pods int) (int, error) {
	ready, room := 0, int64(0)
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := r.Client.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return 0, fmt.Errorf("list nodes: %w", err)
		}
		for _, n := range l.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && !n.Spec.Unschedulable {
					ready++
					room += n.Status.Allocatable.Pods().Value()
				}
			}
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	switch {
	case ready < nodes:
		return ready, fmt.Errorf("the cluster has %d Ready schedulable nodes; --nodes asks for at least %d", ready, nodes)
	case room < int64(pods):
		return ready, fmt.Errorf("the cluster's %d Ready nodes take %d pods in all; --pods asks for %d", ready, room, pods)
	}
	return ready, nil
}

// ReadyNodeNames are the names of the Ready, schedulable nodes: those a
// pod per node (a DaemonSet's, a BroadcastJob's) is owed to.
func (r *Rig) ReadyNodeNames(ctx context.Context) ([]string, error) {
	var out []string
	opts := metav1.ListOptions{Limit: 1000}
	for {
		l, err := r.Client.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		for _, n := range l.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && !n.Spec.Unschedulable {
					out = append(out, n.Name)
				}
			}
		}
		if l.Continue == "" {
			return out, nil
		}
		opts.Continue = l.Continue
	}
}

// CheckLease is a warning when no one renewed the Lease kube-system/name
// in the last minute (the controller that holds it is not running, and a
// phase waiting on it would only time out), "" otherwise.
func (r *Rig) CheckLease(ctx context.Context, name, who string) string {
	l, err := r.Client.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("warning: no Lease kube-system/%s (%v): is '%s' running? The phases will time out without it", name, err, who)
	}
	if l.Spec.RenewTime == nil || r.Clock.Since(l.Spec.RenewTime.Time) > time.Minute {
		return fmt.Sprintf("warning: Lease kube-system/%s was not renewed in the last minute: is '%s' running?", name, who)
	}
	return ""
}

// SampleNow samples every process now, so that a phase's CPU and RSS
// figures have a sample at each end however short the phase. The samples
// are stamped between before and after.
func (r *Rig) SampleNow() (before, after time.Time) {
	before = r.Clock.Now()
	if r.Procs != nil {
		r.Procs.SampleOnce()
	}
	return before, r.Clock.Now()
}

// Meters are what a phase's counters are scraped from: the API servers
// and the manager (nil when out of reach).
type Meters struct {
	APIs    []*lab.Scraper
	Manager *lab.Scraper
}

// Meters of a started cluster are each endpoint's; attached, the API
// server through the kubeconfig, and note says what is out of reach.
// Warnings go to the console.
func (r *Rig) Meters(managerMetricsPort int) (m Meters, note string) {
	if r.Cluster != nil {
		t, err := r.Scrapers()
		if err != nil {
			r.printf("warning: %v; figures from that endpoint will be absent", err)
		}
		m.APIs = t.APIServers
		// The manager's /metrics admits whom RBAC lets read them: the
		// bench's own identity.
		cert, key := r.Cluster.Plan.Certs.Client(controlplane.SuperAdminUser)
		if m.Manager, err = lab.NewScraper("myriad-manager", fmt.Sprintf("https://127.0.0.1:%d/metrics", managerMetricsPort), r.Cluster.Plan.Certs.CA, cert, key); err != nil {
			r.printf("warning: %v; the manager's counters will be absent", err)
		}
		return m, ""
	}
	if r.Config == nil {
		return m, ""
	}
	hc, err := rest.HTTPClientFor(r.Config)
	if err != nil {
		r.printf("warning: no client for the API server's metrics: %v", err)
		return m, ""
	}
	m.APIs = []*lab.Scraper{{Name: "kube-apiserver", URL: strings.TrimSuffix(r.Config.Host, "/") + "/metrics", Client: hc}}
	return m, "Existing cluster (--kubeconfig): API requests were scraped from the API server's /metrics through the kubeconfig (behind a load balancer, from whichever API server answered); " +
		"the manager's metrics and the cluster's processes were out of reach, so only the bench's own process was sampled."
}

// Snapshot is the counters at a phase boundary; nil when a scrape failed.
type Snapshot struct {
	API     *lab.APIRequestTally
	Manager map[string]float64
}

// Snapshot scrapes the API servers and the manager (read by counters). It
// runs even when ctx was cancelled: the phase that stopped is reported
// too. Failed scrapes are returned as errors.
func (m Meters) Snapshot(ctx context.Context, counters func(lab.Families) map[string]float64) (Snapshot, []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var s Snapshot
	var errs []string
	var fams []lab.Families
	for _, sc := range m.APIs {
		f, err := sc.Scrape(ctx)
		if err != nil {
			errs = append(errs, err.Error())
			fams = nil
			break
		}
		fams = append(fams, f)
	}
	if len(fams) > 0 {
		t := lab.TallyAPIRequests(fams...)
		s.API = &t
	}
	if m.Manager != nil {
		f, err := m.Manager.Scrape(ctx)
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			s.Manager = counters(f)
		}
	}
	return s, errs
}

// Since is what was served and counted between before and s: nil where
// either end is missing.
func (s Snapshot) Since(before Snapshot) (*lab.APIRequestDelta, map[string]float64) {
	var api *lab.APIRequestDelta
	var mgr map[string]float64
	if before.API != nil && s.API != nil {
		api = s.API.Since(*before.API)
	}
	if before.Manager != nil && s.Manager != nil {
		mgr = lab.CounterDelta(before.Manager, s.Manager)
	}
	return api, mgr
}

// CRDClient is a client for the cluster's custom resources (with the
// types of scheme): JSON, since CRDs have no protobuf, a minute's timeout,
// and its logs where klog goes (bench.log), not to the terminal.
func (r *Rig) CRDClient(scheme *runtime.Scheme) (client.WithWatch, error) {
	rc := rest.CopyConfig(r.Config)
	rc.ContentType, rc.AcceptContentTypes = "application/json", "application/json"
	rc.Timeout = time.Minute
	ctrllog.SetLogger(klog.NewKlogr())
	c, err := client.NewWithWatch(rc, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client for custom resources: %w", err)
	}
	return c, nil
}
