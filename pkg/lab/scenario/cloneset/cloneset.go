package cloneset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
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
	pods   *Pods
	meters rig.Meters
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
	x := &run{o: o, env: env, con: env.Console}
	x.in = Input{Pods: o.Pods, MaxUnavailable: o.MaxUnavailable, MaxUnavailablePods: maxUnavail}
	x.bgCtx, x.stopBg = context.WithCancel(context.Background())
	w := &rig.Workload{Name: s.Name(), Options: o.Rig, NodeCapacity: o.NodeCapacity, Pods: o.Pods,
		Namespace: s.Namespace, Holds: "its CloneSet and pods", StartRig: s.StartRig, NewClient: s.CloneSets}
	w.Parameters = func(ns string) map[string]string { return parameters(w, o, ns, maxUnavail) }
	h := w.Run(ctx, env, rig.WorkloadSteps{
		CheckAPI: checkAPI,
		Phases: func(ctx context.Context, h *rig.WorkloadRun) error {
			x.r, x.cs, x.c, x.ns, x.meters = h.Rig, h.Client, h.CRDs, h.Namespace, h.Meters
			return x.run(ctx)
		},
		StopWatches: func() { x.stopBg(); x.bg.Wait() },
	})
	x.in.Info, x.in.Nodes, x.in.StartupSeconds, x.in.ClusterSampled = h.Info, h.Nodes, h.StartupSeconds, h.ClusterSampled
	x.in.Notes = append(h.Notes, x.in.Notes...)
	return Build(x.in)
}

// run runs the phases once the cluster and the namespace are ready.
func (x *run) run(ctx context.Context) error {
	if err := x.watch(ctx); err != nil {
		return err
	}
	kinds := x.o.Phases()
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
			x.pods.Settle(ctx, x.env.Clock, x.con)
		}
	}
	return nil
}

// checkAPI says whether the cluster serves CloneSets.
func checkAPI(ctx context.Context, c client.WithWatch) error {
	err := c.List(ctx, &v1alpha1.CloneSetList{}, client.InNamespace("default"), client.Limit(1))
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return errors.New("the cluster has no CloneSet API (apps.kruise.io/v1alpha1): apply config/crd with --server-side and run 'myriad manager'")
	}
	if err != nil {
		return fmt.Errorf("list CloneSets: %w", err)
	}
	return nil
}

func parameters(w *rig.Workload, o Options, ns string, maxUnavail int) map[string]string {
	phases := o.Phases()
	p := w.CommonParameters(ns, o.PhaseTimeout)
	p["phases"] = strings.Join(phases, ", ")
	p["images"] = strings.Join(o.Images[:min(len(phases), len(o.Images))], ", ")
	p["maxUnavailable"] = fmt.Sprintf("%s (%d pods)", o.MaxUnavailable, maxUnavail)
	p["maxSurge"] = "0"
	p["pod"] = "1 container, requests cpu 10m / memory 16Mi, no service account token"
	p["doneWhen"] = "every pod Running, Ready, InPlaceUpdateReady not False, with the phase's image (pod watch), and status.updatedReadyReplicas = readyReplicas = replicas for the phase's generation (CloneSet watch)"
	if !o.Rig.Attached() {
		p["nodeMonitorGrace"] = o.Rig.NodeMonitorGracePeriod.String()
	}
	return p
}
