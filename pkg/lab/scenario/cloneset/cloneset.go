package cloneset

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/manager"
)

const (
	cloneSetName = "bench"
	container    = "app"
)

// Scenario is `myriad bench cloneset`.
type Scenario struct {
	O Options
	// StartRig starts or attaches the cluster; tests give a rig.New.
	StartRig func(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error)
	// CloneSets is the client for CloneSets (JSON: CRDs have no protobuf);
	// tests give a fake.
	CloneSets func(r *rig.Rig) (client.WithWatch, error)
	// Namespace is where the CloneSet lives; empty picks a fresh one.
	Namespace string
}

var _ lab.Scenario = (*Scenario)(nil)

// Name is the command's name.
func (s *Scenario) Name() string { return "cloneset" }

// run is one run of the scenario.
type run struct {
	o   Options
	env lab.Env
	con *lab.Console
	r   *rig.Rig
	cs  kubernetes.Interface
	c   client.WithWatch
	ns  string
	// pods follows the CloneSet's pods; apis are the API servers' metrics
	// and mgr the manager's (nil when out of reach).
	pods *Pods
	apis []*lab.Scraper
	mgr  *lab.Scraper
	// bgCtx runs the watches until stopBg; bg joins them.
	bgCtx  context.Context
	stopBg context.CancelFunc
	bg     sync.WaitGroup
	in     Input
}

// Run drives the phases and returns the result, also when a phase (or the
// cluster) stopped the run.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o := s.O
	ns := s.Namespace
	if ns == "" {
		ns = "myriad-bench-cloneset-" + strconv.FormatUint(rand.Uint64()%(36*36*36*36), 36)
	}
	maxUnavail, _ := o.MaxUnavailablePods()
	x := &run{o: o, env: env, con: env.Console, ns: ns}
	x.in = Input{Nodes: o.Rig.Nodes, Pods: o.Pods, MaxUnavailable: o.MaxUnavailable, MaxUnavailablePods: maxUnavail}
	x.in.Info = lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), parameters(o, ns, maxUnavail), env.Clock.Now())
	x.bgCtx, x.stopBg = context.WithCancel(context.Background())
	x.in.Info.StopEarly(x.con, x.run(ctx, s))
	x.stopBg()
	x.bg.Wait()
	if x.r != nil {
		x.r.StopRecording()
	}
	x.in.Info.Finish(env.Clock.Now(), x.r.Processes())
	x.cleanup()
	return Build(x.in)
}

func (x *run) run(ctx context.Context, s *Scenario) error {
	start := s.StartRig
	if start == nil {
		start = rig.StartOrAttach
	}
	o := x.o
	if !o.Rig.Attached() {
		x.con.Printf("starting a cluster of %d nodes in %s", o.Rig.Nodes, o.Rig.DataDir)
		if o.NodeCapacity != "" {
			o.Rig.NodeArgs = append(o.Rig.NodeArgs, "--capacity", o.NodeCapacity)
		}
	}
	r, err := start(ctx, o.Rig, x.con)
	x.r = r
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	if r.Cluster != nil {
		x.in.StartupSeconds = lab.Some(x.env.Clock.Since(x.in.Info.StartedAt).Seconds())
		x.in.ClusterSampled = true
		x.con.Printf("all %d nodes Ready after %s", o.Rig.Nodes, x.env.Clock.Since(x.in.Info.StartedAt).Round(time.Second))
	}
	newClient := s.CloneSets
	if newClient == nil {
		newClient = cloneSetClient
	}
	if x.c, err = newClient(r); err != nil {
		return err
	}
	x.cs = r.Client
	x.scrapers()
	if err := x.preflight(ctx); err != nil {
		return err
	}
	if err := x.watch(ctx); err != nil {
		return err
	}
	kinds := o.Phases()
	for i, kind := range kinds {
		p, err := x.phase(ctx, i, len(kinds), kind)
		x.in.Phases = append(x.in.Phases, p)
		if err != nil {
			for j := i + 1; j < len(kinds); j++ {
				x.in.Skipped = append(x.in.Skipped, fmt.Sprintf("phase %d (%s): phase %d did not finish", j+1, kinds[j], i+1))
			}
			return fmt.Errorf("phase %d (%s): %w", i+1, kind, err)
		}
		if i+1 < len(kinds) {
			x.settle(ctx)
		}
	}
	return nil
}

// cloneSetClient is the rig's client for CloneSets.
func cloneSetClient(r *rig.Rig) (client.WithWatch, error) {
	scheme, err := manager.Scheme()
	if err != nil {
		return nil, err
	}
	return r.JSONClient(scheme)
}

// scrapers are the API servers' and the manager's metrics: of a started
// cluster, each endpoint; attached, the API server through the kubeconfig.
func (x *run) scrapers() {
	r := x.r
	if r.Cluster != nil {
		t, err := r.Scrapers()
		if err != nil {
			x.con.Printf("warning: %v; figures from that endpoint will be absent", err)
		}
		x.apis = t.APIServers
		if x.mgr, err = lab.NewScraper("myriad-manager", fmt.Sprintf("http://127.0.0.1:%d/metrics", r.Cluster.Plan.ManagerMetricsPort), "", "", ""); err != nil {
			x.con.Printf("warning: %v; the manager's counters will be absent", err)
		}
		return
	}
	if r.Config == nil {
		return
	}
	hc, err := rest.HTTPClientFor(r.Config)
	if err != nil {
		x.con.Printf("warning: no client for the API server's metrics: %v", err)
		return
	}
	x.apis = []*lab.Scraper{{Name: "kube-apiserver", URL: strings.TrimSuffix(r.Config.Host, "/") + "/metrics", Client: hc}}
	x.in.Notes = append(x.in.Notes, "Existing cluster (--kubeconfig): API requests were scraped from the API server's /metrics through the kubeconfig (behind a load balancer, from whichever API server answered); "+
		"the manager's metrics and the cluster's processes were out of reach, so only the bench's own process was sampled.")
}

// preflight checks what the phases need: the CloneSet API, room for the
// pods (on an existing cluster) and the namespace with its default
// ServiceAccount, without which pods are rejected at admission.
func (x *run) preflight(ctx context.Context) error {
	err := x.c.List(ctx, &v1alpha1.CloneSetList{}, client.InNamespace("default"), client.Limit(1))
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return errors.New("the cluster has no CloneSet API (apps.kruise.io/v1alpha1): apply config/crd with --server-side and run 'myriad manager'")
	}
	if err != nil {
		return fmt.Errorf("list CloneSets: %w", err)
	}
	if x.o.Rig.Attached() {
		if err := x.checkNodes(ctx); err != nil {
			return err
		}
		x.checkManager(ctx)
	}
	return x.r.Namespaces(ctx, x.ns)
}

// checkNodes makes sure an existing cluster has --nodes Ready nodes and
// room for --pods pods.
func (x *run) checkNodes(ctx context.Context) error {
	ready, room := 0, int64(0)
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := x.cs.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return fmt.Errorf("list nodes: %w", err)
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
	case ready < x.o.Rig.Nodes:
		return fmt.Errorf("the cluster has %d Ready schedulable nodes; --nodes asks for at least %d", ready, x.o.Rig.Nodes)
	case room < int64(x.o.Pods):
		return fmt.Errorf("the cluster's %d Ready nodes take %d pods in all; --pods asks for %d", ready, room, x.o.Pods)
	}
	x.in.Nodes = ready
	return nil
}

// checkManager warns when no manager holds its Lease: the CloneSet would
// never get pods and the first phase would only time out.
func (x *run) checkManager(ctx context.Context) {
	l, err := x.cs.CoordinationV1().Leases("kube-system").Get(ctx, manager.LeaderElectionID, metav1.GetOptions{})
	if err != nil {
		x.con.Printf("warning: no Lease kube-system/%s (%v): is 'myriad manager' running? The scale-up will time out without it", manager.LeaderElectionID, err)
		return
	}
	if l.Spec.RenewTime == nil || x.env.Clock.Since(l.Spec.RenewTime.Time) > time.Minute {
		x.con.Printf("warning: Lease kube-system/%s was not renewed in the last minute: is 'myriad manager' running?", manager.LeaderElectionID)
	}
}

// cleanup stops the cluster the bench started, or deletes the namespace it
// made in an existing one.
func (x *run) cleanup() {
	if x.r == nil {
		return
	}
	if !x.o.Rig.Attached() {
		x.r.Stop()
		return
	}
	defer x.r.Stop()
	if x.cs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := x.cs.CoreV1().Namespaces().Delete(ctx, x.ns, metav1.DeleteOptions{})
	switch {
	case err == nil:
		x.con.Printf("deleting namespace %s (its CloneSet and pods go with it)", x.ns)
	case !apierrors.IsNotFound(err):
		x.con.Printf("could not delete namespace %s: %v; delete it yourself", x.ns, err)
	}
}

func parameters(o Options, ns string, maxUnavail int) map[string]string {
	mode := "own cluster: myriad up with kube-scheduler and myriad-manager, " + strconv.Itoa(o.Rig.APIServers) + " API server(s)"
	if o.Rig.Attached() {
		mode = "existing cluster (--kubeconfig " + o.Rig.Kubeconfig + ")"
	}
	capacity := o.NodeCapacity
	if capacity == "" {
		capacity = "myriad nodes default (cpu 32, memory 256Gi, pods 110)"
	}
	phases := o.Phases()
	p := map[string]string{
		"cluster":        mode,
		"nodes":          strconv.Itoa(o.Rig.Nodes),
		"pods":           strconv.Itoa(o.Pods),
		"phases":         strings.Join(phases, ", "),
		"images":         strings.Join(o.Images[:min(len(phases), len(o.Images))], ", "),
		"maxUnavailable": fmt.Sprintf("%s (%d pods)", o.MaxUnavailable, maxUnavail),
		"maxSurge":       "0",
		"pod":            "1 container, requests cpu 10m / memory 16Mi, no service account token",
		"phaseTimeout":   o.PhaseTimeout.String(),
		"namespace":      ns,
		"doneWhen":       "every pod Running, Ready, InPlaceUpdateReady not False, with the phase's image (pod watch), and status.updatedReadyReplicas = readyReplicas = replicas for the phase's generation (CloneSet watch)",
		"sampleInterval": o.Rig.SampleInterval.String() + " (and at every phase boundary)",
		"command":        strings.Join(os.Args, " "),
	}
	if !o.Rig.Attached() {
		p["dataDir"] = o.Rig.DataDir
		p["nodeCapacity"] = capacity
		p["nodeMonitorGrace"] = o.Rig.NodeMonitorGracePeriod.String()
	}
	return p
}
