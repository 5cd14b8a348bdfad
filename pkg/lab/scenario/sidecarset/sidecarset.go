package sidecarset

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
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
	maxUnavail, _ := o.MaxUnavailablePods()
	x := &run{o: o, env: env, con: env.Console, sets: map[string]bool{}}
	x.in = Input{Pods: o.Pods, SidecarSets: o.SidecarSets, Concurrency: o.Concurrency,
		MaxUnavailable: o.MaxUnavailable, MaxUnavailablePods: maxUnavail}
	x.bgCtx, x.stopBg = context.WithCancel(context.Background())
	w := &rig.Workload{Name: s.Name(), Options: o.Rig, NodeCapacity: o.NodeCapacity, Pods: o.Pods,
		Namespace: s.Namespace, Holds: "its Deployment and pods", StartRig: s.StartRig, NewClient: s.SidecarSets}
	w.Parameters = func(ns string) map[string]string { return parameters(w, o, ns, maxUnavail) }
	h := w.Run(ctx, env, rig.WorkloadSteps{
		CheckAPI: checkAPI,
		Phases: func(ctx context.Context, h *rig.WorkloadRun) error {
			x.r, x.cs, x.c, x.ns, x.meters = h.Rig, h.Client, h.CRDs, h.Namespace, h.Meters
			return x.run(ctx)
		},
		StopWatches: func() { x.stopBg(); x.bg.Wait() },
		Cleanup:     x.deleteLeftSets,
	})
	x.in.Info, x.in.Nodes, x.in.StartupSeconds, x.in.ClusterSampled = h.Info, h.Nodes, h.StartupSeconds, h.ClusterSampled
	x.in.Notes = append(h.Notes, x.in.Notes...)
	return Build(x.in)
}

// run runs the phases once the cluster and the namespace are ready.
func (x *run) run(ctx context.Context) error {
	total := len(x.o.creationSets()) + len(upgradeKinds)
	for i, sets := range x.o.creationSets() {
		p, err := x.createPhase(ctx, i+1, total, sets)
		x.in.Create = append(x.in.Create, p)
		if err != nil {
			x.skipFrom(i+1, total, i+1)
			return fmt.Errorf("phase %d (create with %s): %w", i+1, setsN(sets), err)
		}
	}
	return x.upgrades(ctx, len(x.o.creationSets()), total)
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

// checkAPI says whether the cluster serves SidecarSets.
func checkAPI(ctx context.Context, c client.WithWatch) error {
	err := c.List(ctx, &v1beta1.SidecarSetList{}, client.Limit(1))
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return errors.New("the cluster has no SidecarSet API (apps.kruise.io/v1beta1): apply config/crd with --server-side and run 'myriad manager'")
	}
	if err != nil {
		return fmt.Errorf("list SidecarSets: %w", err)
	}
	return nil
}

// deleteLeftSets deletes the SidecarSets the run made in an existing cluster
// (they are cluster-scoped: the namespace does not take them along).
func (x *run) deleteLeftSets(ctx context.Context, c client.WithWatch) {
	for name := range x.sets {
		if err := c.Delete(ctx, &v1beta1.SidecarSet{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsNotFound(err) {
			x.con.Printf("could not delete SidecarSet %s: %v; delete it yourself", name, err)
		}
	}
}

func parameters(w *rig.Workload, o Options, ns string, maxUnavail int) map[string]string {
	p := w.CommonParameters(ns, o.PhaseTimeout)
	p["sidecarSets"] = strconv.Itoa(o.SidecarSets)
	p["concurrency"] = strconv.Itoa(o.Concurrency)
	p["images"] = strings.Join(o.Images, ", ") + " (app; sidecar injected, in place, recreated)"
	p["maxUnavailable"] = fmt.Sprintf("%s (%d pods), the SidecarSet's and the Deployment's (maxSurge 0)", o.MaxUnavailable, maxUnavail)
	p["createdPods"] = "bare pods (no owner), schedulerName " + noScheduler + " (never scheduled): one app container, requests cpu 10m / memory 16Mi"
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

// open takes a phase's measurements at its start.
func (x *run) open(ctx context.Context) rig.PhaseBounds {
	b, errs := x.r.OpenPhase(ctx, x.meters, sidecarSetCounters)
	x.in.ScrapeErrors = append(x.in.ScrapeErrors, errs...)
	return b
}

// close ends a phase's measurements: its cost over [ProcFrom, ProcTo].
func (x *run) close(ctx context.Context, b rig.PhaseBounds) Meter {
	m, errs := x.r.ClosePhase(ctx, x.meters, sidecarSetCounters, b)
	x.in.ScrapeErrors = append(x.in.ScrapeErrors, errs...)
	return m
}
