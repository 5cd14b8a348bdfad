package statefulset

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Phase kinds, in order (see lab.ComparedKinds).
const (
	// Create is the Advanced StatefulSet's creation: every pod Ready.
	Create = lab.PhaseCreate
	// InPlace and Recreate are its image rollouts.
	InPlace  = lab.RolloutInPlace
	Recreate = lab.RolloutRecreate
	// UpstreamCreate and Upstream are the apps/v1 StatefulSet's creation and
	// image rollout (with --compare).
	UpstreamCreate = lab.PhaseUpstreamCreate
	Upstream       = lab.PhaseUpstream
)

// Kinds are the phases the options run, in order.
func (o Options) Kinds() []string { return lab.ComparedKinds(o.Compare) }

// image is the pods' image after phase kind.
func (o Options) image(kind string) string { return lab.ComparedImage(o.Images, kind) }

// rollout says whether kind changes running pods rather than creating them.
func rollout(kind string) bool { return lab.IsRollout(kind) }

// Scenario is `myriad bench statefulset`.
type Scenario struct {
	O Options
	// StartRig starts the cluster; tests give a rig.New.
	StartRig func(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error)
	// NewClient is the client for Advanced StatefulSets; tests give a fake.
	NewClient func(r *rig.Rig) (client.WithWatch, error)
	// Namespace is the run's namespace; empty picks a fresh one.
	Namespace string
}

var _ lab.Scenario = (*Scenario)(nil)

// Name is the command's name.
func (s *Scenario) Name() string { return "statefulset" }

// run is one run of the scenario.
type run struct {
	o      Options
	mu     intstr.IntOrString
	env    lab.Env
	con    *lab.Console
	r      *rig.Rig
	cs     kubernetes.Interface
	c      client.WithWatch
	ns     string
	meters *rig.PhaseMeters
	// adv and up follow the Advanced and the upstream StatefulSet's
	// pods; up is nil until its phases.
	adv, up *follow
	// bgCtx runs the watches until stopBg; bg joins them.
	bgCtx  context.Context
	stopBg context.CancelFunc
	bg     sync.WaitGroup
	in     Input
}

// follow is one StatefulSet's pods: rollout progress and the ordinals
// without a ready pod, fed by one pod watch.
type follow struct {
	pods *lab.WorkloadPods
	cov  *lab.Coverage
}

// Run drives the phases and returns the result, also when a phase (or the
// cluster) stopped the run.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o := s.O
	mu, _ := o.MaxUnavailableValue()
	x := &run{o: o, mu: mu, env: env, con: env.Console}
	x.in = Input{MaxUnavailable: o.MaxUnavailable, Images: o.Images}
	x.bgCtx, x.stopBg = context.WithCancel(context.Background())
	w := &rig.Workload{Name: s.Name(), Options: o.Rig, NodeCapacity: o.NodeCapacity, Pods: o.Replicas,
		Namespace: s.Namespace, Holds: "its StatefulSets and pods", StartRig: s.StartRig, NewClient: s.NewClient}
	w.Parameters = func(ns string) map[string]string { return parameters(w, o, ns) }
	h := w.Run(ctx, env, rig.WorkloadSteps{
		CheckAPI: checkAPI,
		Phases: func(ctx context.Context, h *rig.WorkloadRun) error {
			x.r, x.cs, x.c, x.ns = h.Rig, h.Client, h.CRDs, h.Namespace
			x.meters = &rig.PhaseMeters{Rig: h.Rig, Meters: h.Meters, Counters: statefulSetCounters}
			return x.run(ctx)
		},
		StopWatches: func() { x.stopBg(); x.bg.Wait() },
	})
	x.in.Info, x.in.StartupSeconds, x.in.ClusterSampled = h.Info, h.StartupSeconds, h.ClusterSampled
	x.in.Notes = append(h.Notes, x.in.Notes...)
	if x.meters != nil {
		x.in.ScrapeErrors = x.meters.ScrapeErrors
	}
	return Build(x.in)
}

// run runs the phases once the cluster and the namespace are ready.
func (x *run) run(ctx context.Context) error {
	kinds := x.o.Kinds()
	x.adv = x.newFollow()
	if err := x.watch(ctx, x.adv, advancedRole); err != nil {
		x.in.Skipped = lab.SkipFrom(kinds, 0, "the pod watch did not start")
		return err
	}
	skipped, err := lab.RunCompared(ctx, x.con, lab.ComparedSteps{Kinds: kinds, HandOver: x.handOver, Gone: "the Advanced StatefulSet's pods",
		Phase: func(ctx context.Context, order, total int, kind string) error {
			p, err := x.phase(ctx, order, total, kind)
			x.in.Phases = append(x.in.Phases, p)
			return err
		},
		Settle: func(ctx context.Context, kind string) { x.followOf(kind).pods.Settle(ctx, x.env.Clock, x.con) },
	})
	x.in.Skipped = append(x.in.Skipped, skipped...)
	return err
}

// checkAPI says whether the cluster serves Advanced StatefulSets.
func checkAPI(ctx context.Context, c client.WithWatch) error {
	err := c.List(ctx, &v1beta1.StatefulSetList{}, client.Limit(1))
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return errors.New("the cluster has no Advanced StatefulSet API (apps.kruise.io/v1beta1 StatefulSet): apply config/crd with --server-side and run 'myriad manager'")
	}
	if err != nil {
		return fmt.Errorf("list Advanced StatefulSets: %w", err)
	}
	return nil
}

func parameters(w *rig.Workload, o Options, ns string) map[string]string {
	p := w.CommonParameters(ns, o.PhaseTimeout)
	p["replicas"] = strconv.Itoa(o.Replicas)
	p["images"] = strings.Join(o.Images, ", ") + " (created; rolled in place; rolled by recreating; the upstream StatefulSet is created with the first and rolled to the second)"
	budget, _ := Budget(intstr.Parse(o.MaxUnavailable), o.Replicas)
	p["maxUnavailable"] = fmt.Sprintf("%s (%d pods, rounded up as StatefulSets do), every rollout's", o.MaxUnavailable, budget)
	p["compare"] = strconv.FormatBool(o.Compare)
	p["podManagementPolicy"] = "Parallel (both StatefulSets)"
	p["pod"] = "1 container, requests cpu 10m / memory 16Mi, no volumes, no service account token"
	p["doneWhen"] = "every ordinal's pod runs the phase's image (spec and status) and is Ready, no other pod live (pod watch), and the StatefulSet's status of the phase's generation says replicas = ready = updated = updatedReady"
	return p
}

// statefulSetCounters reads the Advanced StatefulSet controller's own
// counters from the manager's metrics: its pod writes by operation,
// reconciles and expectation waits.
var statefulSetCounters = lab.ControllerCounters("myriad_statefulset", "statefulset-controller")
