package sidecarset

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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/manager"
)

// Scenario is `myriad bench sidecarset`.
type Scenario struct {
	O Options
	// StartRig starts or attaches the cluster; tests give a rig.New.
	StartRig func(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error)
	// SidecarSets is the client for SidecarSets (JSON: CRDs have no
	// protobuf); tests give a fake.
	SidecarSets func(r *rig.Rig) (client.WithWatch, error)
	// Namespace is the run's namespace; empty picks a fresh one.
	Namespace string
}

var _ lab.Scenario = (*Scenario)(nil)

// Name is the command's name.
func (s *Scenario) Name() string { return "sidecarset" }

// run is one run of the scenario.
type run struct {
	o   Options
	env lab.Env
	con *lab.Console
	r   *rig.Rig
	cs  kubernetes.Interface
	c   client.WithWatch
	ns  string
	// pods follows the Deployment's pods through the upgrade phases.
	pods   *lab.WorkloadPods
	meters rig.Meters
	// sets are the SidecarSets the run created and has not deleted.
	setsMu sync.Mutex
	sets   map[string]bool
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
		ns = "myriad-bench-sidecarset-" + strconv.FormatUint(rand.Uint64()%(36*36*36*36), 36)
	}
	maxUnavail, _ := o.MaxUnavailablePods()
	x := &run{o: o, env: env, con: env.Console, ns: ns, sets: map[string]bool{}}
	x.in = Input{Nodes: o.Rig.Nodes, Pods: o.Pods, SidecarSets: o.SidecarSets, Concurrency: o.Concurrency,
		MaxUnavailable: o.MaxUnavailable, MaxUnavailablePods: maxUnavail}
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
	newClient := s.SidecarSets
	if newClient == nil {
		newClient = sidecarSetClient
	}
	if x.c, err = newClient(r); err != nil {
		return err
	}
	x.cs = r.Client
	port := 0
	if r.Cluster != nil {
		port = r.Cluster.Plan.ManagerMetricsPort
	}
	var note string
	if x.meters, note = r.Meters(port); note != "" {
		x.in.Notes = append(x.in.Notes, note)
	}
	if err := x.preflight(ctx); err != nil {
		return err
	}
	total := len(o.creationSets()) + len(upgradeKinds)
	for i, sets := range o.creationSets() {
		p, err := x.createPhase(ctx, i+1, total, sets)
		x.in.Create = append(x.in.Create, p)
		if err != nil {
			x.skipFrom(i+1, total, i+1)
			return fmt.Errorf("phase %d (create with %s): %w", i+1, setsN(sets), err)
		}
	}
	return x.upgrades(ctx, len(o.creationSets()), total)
}

// skipFrom names the phases from index from (0-based) on as not run
// because phase failed did not finish.
func (x *run) skipFrom(from, total, failed int) {
	for j := from; j < total; j++ {
		x.in.Skipped = append(x.in.Skipped, fmt.Sprintf("phase %d (%s): phase %d did not finish", j+1, x.phaseName(j), failed))
	}
}

func (x *run) phaseName(i int) string {
	sets := x.o.creationSets()
	if i < len(sets) {
		return "create with " + setsN(sets[i])
	}
	return upgradeKinds[i-len(sets)]
}

// sidecarSetClient is the client for SidecarSets: the rig's for custom resources.
func sidecarSetClient(r *rig.Rig) (client.WithWatch, error) {
	scheme, err := manager.Scheme()
	if err != nil {
		return nil, err
	}
	return r.CRDClient(scheme)
}

// preflight checks what the phases need: the SidecarSet API, room for
// the pods (on an existing cluster) and the namespace with its default
// ServiceAccount.
func (x *run) preflight(ctx context.Context) error {
	err := x.c.List(ctx, &v1beta1.SidecarSetList{}, client.Limit(1))
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return errors.New("the cluster has no SidecarSet API (apps.kruise.io/v1beta1): apply config/crd with --server-side and run 'myriad manager'")
	}
	if err != nil {
		return fmt.Errorf("list SidecarSets: %w", err)
	}
	if x.o.Rig.Attached() {
		ready, err := x.r.CheckNodes(ctx, x.o.Rig.Nodes, x.o.Pods)
		if err != nil {
			return err
		}
		x.in.Nodes = ready
		if w := x.r.CheckLease(ctx, manager.LeaderElectionID, "myriad manager"); w != "" {
			x.con.Printf("%s", w)
		}
	}
	return x.r.Namespaces(ctx, x.ns)
}

// cleanup stops the cluster the bench started, or deletes what it made in
// an existing one: its SidecarSets (cluster-scoped) and its namespace.
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if x.c != nil {
		for name := range x.sets {
			if err := x.c.Delete(ctx, &v1beta1.SidecarSet{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsNotFound(err) {
				x.con.Printf("could not delete SidecarSet %s: %v; delete it yourself", name, err)
			}
		}
	}
	err := x.cs.CoreV1().Namespaces().Delete(ctx, x.ns, metav1.DeleteOptions{})
	switch {
	case err == nil:
		x.con.Printf("deleting namespace %s (its Deployment and pods go with it)", x.ns)
	case !apierrors.IsNotFound(err):
		x.con.Printf("could not delete namespace %s: %v; delete it yourself", x.ns, err)
	}
}

func parameters(o Options, ns string, maxUnavail int) map[string]string {
	mode := "own cluster: myriad up with kube-scheduler and myriad-manager, " + strconv.Itoa(o.Rig.APIServers) + " API server(s)"
	if o.Rig.Attached() {
		mode = "existing cluster (--kubeconfig " + o.Rig.Kubeconfig + ")"
	}
	p := map[string]string{
		"cluster":        mode,
		"nodes":          strconv.Itoa(o.Rig.Nodes),
		"pods":           strconv.Itoa(o.Pods),
		"sidecarSets":    strconv.Itoa(o.SidecarSets),
		"concurrency":    strconv.Itoa(o.Concurrency),
		"images":         strings.Join(o.Images, ", ") + " (app; sidecar injected, in place, recreated)",
		"maxUnavailable": fmt.Sprintf("%s (%d pods), the SidecarSet's and the Deployment's (maxSurge 0)", o.MaxUnavailable, maxUnavail),
		"createdPods":    "bare pods (no owner), schedulerName " + noScheduler + " (never scheduled): one app container, requests cpu 10m / memory 16Mi",
		"phaseTimeout":   o.PhaseTimeout.String(),
		"namespace":      ns,
		"sampleInterval": o.Rig.SampleInterval.String() + " (and at every phase boundary)",
		"command":        strings.Join(os.Args, " "),
	}
	if !o.Rig.Attached() {
		p["dataDir"] = o.Rig.DataDir
		p["nodeCapacity"] = o.NodeCapacity
		if o.NodeCapacity == "" {
			p["nodeCapacity"] = "myriad nodes default (cpu 32, memory 256Gi, pods 110)"
		}
	}
	return p
}

// sidecarSetCounters reads the SidecarSet controller's own counters from
// the manager's metrics: its policy and binding writes, and reconciles.
func sidecarSetCounters(f lab.Families) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f["myriad_sidecarset_policy_writes_total"].GetMetric() {
		var op, result string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "operation":
				op = l.GetValue()
			case "result":
				result = l.GetValue()
			}
		}
		key := "policy " + op
		if result != "ok" {
			key += " (" + result + ")"
		}
		out[key] += m.GetCounter().GetValue()
	}
	if v, ok := f.Value("controller_runtime_reconcile_total", map[string]string{"controller": "sidecarset-controller"}); ok {
		out["reconciles"] = v
	}
	return out
}

// snapshot scrapes the API servers and the manager at a phase boundary.
func (x *run) snapshot(ctx context.Context) rig.Snapshot {
	s, errs := x.meters.Snapshot(ctx, sidecarSetCounters)
	x.in.ScrapeErrors = append(x.in.ScrapeErrors, errs...)
	return s
}

// bounds are what a phase measures at both ends besides its own figures.
type bounds struct {
	before     rig.Snapshot
	machine    float64
	machineErr error
	procFrom   time.Time
}

func (x *run) open(ctx context.Context) bounds {
	b := bounds{before: x.snapshot(ctx)}
	b.machine, b.machineErr = lab.ReadMachineCPU("")
	b.procFrom, _ = x.r.SampleNow()
	return b
}

// close ends a phase's measurements: its cost over [procFrom, procTo].
func (x *run) close(ctx context.Context, b bounds) Meter {
	m := Meter{ProcFrom: b.procFrom}
	_, m.ProcTo = x.r.SampleNow()
	if to, err := lab.ReadMachineCPU(""); err == nil && b.machineErr == nil {
		m.MachineCPUSeconds = lab.Some(to - b.machine)
	}
	m.API, m.Manager = x.snapshot(ctx).Since(b.before)
	return m
}
