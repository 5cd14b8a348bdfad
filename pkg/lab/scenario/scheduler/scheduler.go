// Package scheduler is `myriad bench scheduler`: Myriad's scheduler beside
// kube-scheduler and beside the ceiling (the bench binding the pods
// itself, without decisions) on one cluster of simulated nodes.
//
// Each phase creates the same unbound pods, then starts one scheduler (or
// the ceiling) and measures from that start until the bench's watch has
// seen every pod bound: pods per second, latency percentiles, the
// scheduler's CPU and RSS, and placement quality. Phases run in an order
// whose reverse half cancels drift.
//
// The ceiling must never be a ceiling of other writes than the
// schedulers': it binds and records the Scheduled event as the schedulers'
// own identity (system:kube-scheduler), so its requests wait in the same
// API Priority and Fairness priority level as theirs, and its phase ends
// only when every one of its writes has returned. The scenario never
// schedules a pod itself outside the ceiling phase, and never touches
// anything outside its namespace.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/internal/cpuprofile"
	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

const (
	// Namespace holds every pod and event the bench writes.
	Namespace        = "myriad-bench-scheduler"
	phaseLabel       = "bench.myriad.dev/phase"
	ceilingSchedName = "myriad-bench-ceiling"
	schedulerName    = "default-scheduler"
)

// Scenario is the scheduler bench.
type Scenario struct {
	o Options
	// startRig starts the cluster; tests return rig.New(fakeClock,
	// fakeClientset) instead.
	startRig func(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error)
	// connect makes what the phases need besides the rig's admin client;
	// tests give fakes.
	connect func(ctx context.Context, r *rig.Rig) (*deps, error)
}

// New is the scenario with o, which must be valid.
func New(o Options) *Scenario {
	return &Scenario{o: o, connect: func(ctx context.Context, r *rig.Rig) (*deps, error) {
		return connectRig(ctx, r, o.MyriadArgs, o.ProfileDir)
	}, startRig: func(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error) {
		o.Scheduler = "none"
		return rig.Start(ctx, o, con, func(p lab.ReadyPoint, el time.Duration) string {
			return fmt.Sprintf("starting the cluster: %d/%d nodes Ready | %s", p.Ready, o.Nodes, el.Round(time.Second))
		})
	}}
}

func (s *Scenario) Name() string { return "scheduler" }

// deps are the phases' ties to the cluster.
type deps struct {
	// binder writes the ceiling's bindings and events under the
	// schedulers' identity.
	binder kubernetes.Interface
	// tally counts the APF flows of binder's requests; names maps their
	// UIDs to names. Nil when not available (tests).
	tally *flowTally
	names map[string]string
	// start starts a scheduler under test.
	start func(ctx context.Context, kind string, order int) (schedProcess, error)
	// procs samples every process of the run; nil: not sampled.
	procs *lab.ProcSampler
	// scrape reads APF's dispatched requests of every API server; nil: not
	// scraped.
	scrape func(ctx context.Context) (map[Flow]float64, error)
}

// schedProcess is a scheduler under test.
type schedProcess interface {
	Name() string
	Sample() (lab.ProcSample, error)
	// Events are its crashes and restarts.
	Events() []string
	Log() string
	Stop()
	// Profile is the CPU profile it wrote when stopped; "" if none.
	Profile() string
}

// Run starts the cluster and runs every phase on it.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	clk := env.Clock
	kinds, _ := s.o.Phases()
	in := Input{
		Info:          lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), s.parameters(), clk.Now()),
		Binders:       s.o.Binders,
		CeilingEvents: s.o.CeilingEvents,
	}
	r, err := s.startRig(ctx, s.o.Rig, env.Console)
	in.StartupSeconds = clk.Since(in.Info.StartedAt).Seconds()
	var b *bench
	if err == nil {
		b, err = s.setup(ctx, r, env)
	}
	if err != nil {
		in.Info.StoppedEarly = fmt.Sprintf("the cluster did not start: %v", err)
		for i, k := range kinds {
			in.Skipped = append(in.Skipped, fmt.Sprintf("phase %d (%s): no cluster", i+1, k))
		}
	} else {
		env.Console.Printf("cluster of %d nodes ready after %s; %d phases of %d pods: %s",
			len(b.nodes), time.Duration(in.StartupSeconds*float64(time.Second)).Round(time.Second), len(kinds), s.o.Pods, strings.Join(kinds, ", "))
		in.IdentityFlow = b.identityFlow
		in.Phases, in.Skipped, in.Info.StoppedEarly = b.phases(ctx, kinds)
		b.watch.stop()
	}
	if r != nil {
		r.StopRecording()
		in.Processes = r.Processes()
		r.Stop()
	}
	in.FinishedAt = clk.Now()
	return Build(in)
}

// setup makes the namespace, reads the nodes, starts the pod watch and
// finds where the schedulers' identity's writes land in APF.
func (s *Scenario) setup(ctx context.Context, r *rig.Rig, env lab.Env) (*bench, error) {
	d, err := s.connect(ctx, r)
	if err != nil {
		return nil, err
	}
	b := &bench{o: s.o, clk: env.Clock, con: env.Console, cs: r.Client, d: d}
	if err := r.Namespaces(ctx, Namespace); err != nil {
		return nil, err
	}
	if b.nodes, err = listNodeAllocs(ctx, r.Client); err != nil {
		return nil, err
	}
	b.watch = newBindWatch(r.Client, env.Clock)
	sctx, cancel := clockTimeout(ctx, env.Clock, 2*time.Minute)
	defer cancel()
	if err := b.watch.start(sctx); err != nil {
		return nil, err
	}
	b.identityFlow = b.probeIdentityFlow(ctx)
	return b, nil
}

// connectRig ties the phases to the started cluster.
func connectRig(ctx context.Context, r *rig.Rig, myriadArgs []string, profileDir string) (*deps, error) {
	if r.Cluster == nil {
		return nil, errors.New("the scheduler bench needs a cluster it started")
	}
	d := &deps{tally: &flowTally{}, procs: r.Procs}
	var err error
	if d.binder, err = ceilingClient(r.DataDir, d.tally); err != nil {
		return nil, err
	}
	if d.names, err = flowNames(ctx, r.Client); err != nil {
		// The flows are then named by UID: still comparable.
		d.names = nil
	}
	plan := r.Cluster.Plan
	d.start = func(ctx context.Context, kind string, order int) (schedProcess, error) {
		var args []string
		switch kind {
		case Kube:
			// The configuration `myriad up` gives kube-scheduler (client
			// QPS/burst 5000, protobuf), minus leader election: each phase
			// has one instance, and a Lease left by the previous one must
			// not delay it.
			cfg := strings.Replace(plan.SchedulerConfig(), "leaderElect: true", "leaderElect: false", 1)
			path := filepath.Join(plan.Dir.Run(), "bench-kube-scheduler.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				return nil, fmt.Errorf("write kube-scheduler config: %w", err)
			}
			args = append([]string{"kube-scheduler"}, plan.SchedulerArgs(path)...)
		case Myriad:
			args = append([]string{"scheduler", "--kubeconfig", plan.Dir.Kubeconfig("scheduler"),
				"--scheduler-name", schedulerName, "--leader-elect=false",
				"--metrics-addr", "127.0.0.1:" + strconv.Itoa(plan.SchedulerPort)}, myriadArgs...)
		}
		// Both schedulers are profiled the same way, by the binary that
		// runs them, from process start to stop.
		var env []string
		if profileDir != "" {
			env = []string{cpuprofile.DirEnv + "=" + profileDir}
		}
		c, err := r.StartComponent(ctx, fmt.Sprintf("%s-scheduler-%d", kind, order), args, env, nil, nil)
		if err != nil {
			return nil, err
		}
		return component{c, r, profileDir}, nil
	}
	scrapers, err := r.Scrapers()
	if err == nil && len(scrapers.APIServers) > 0 {
		d.scrape = func(ctx context.Context) (map[Flow]float64, error) {
			var all []lab.Families
			for _, sc := range scrapers.APIServers {
				f, err := sc.Scrape(ctx)
				if err != nil {
					return nil, err
				}
				all = append(all, f)
			}
			return dispatched(all), nil
		}
	}
	return d, nil
}

// component is a scheduler under test started through the rig.
type component struct {
	c          *rig.Component
	r          *rig.Rig
	profileDir string
}

func (c component) Name() string                    { return c.c.Name }
func (c component) Sample() (lab.ProcSample, error) { return c.c.Sample() }
func (c component) Events() []string                { return c.c.Events() }
func (c component) Log() string                     { return c.c.Log }
func (c component) Stop()                           { c.r.StopComponent(c.c) }

// Profile is the CPU profile the stopped process wrote, as a path under
// the profile directory's parent (the bench's --out); "" if none.
func (c component) Profile() string {
	if c.profileDir == "" {
		return ""
	}
	files, _ := filepath.Glob(filepath.Join(c.profileDir, c.c.Name+"-*.pprof"))
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, cpuprofile.AllocsSuffix) })
	if len(files) == 0 {
		return ""
	}
	return filepath.Join(filepath.Base(c.profileDir), filepath.Base(files[len(files)-1]))
}

var _ schedProcess = component{}

func listNodeAllocs(ctx context.Context, cs kubernetes.Interface) ([]NodeAlloc, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "nodes.myriad.dev/simulated=true"})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := make([]NodeAlloc, 0, len(list.Items))
	for _, n := range list.Items {
		a := n.Status.Allocatable
		out = append(out, NodeAlloc{Name: n.Name, CPUMilli: a.Cpu().MilliValue(), MemBytes: a.Memory().Value(), Pods: a.Pods().Value()})
	}
	if len(out) == 0 {
		return nil, errors.New("no simulated nodes found")
	}
	return out, nil
}

func (s *Scenario) parameters() map[string]string {
	o := s.o
	myriadArgs := strings.Join(o.MyriadArgs, " ")
	if myriadArgs == "" {
		myriadArgs = "(defaults)"
	}
	return map[string]string{
		"nodes":               strconv.Itoa(o.Rig.Nodes),
		"pods":                strconv.Itoa(o.Pods) + " per phase",
		"pod":                 "1 container, requests cpu 100m / memory 128Mi, created before the scheduler starts",
		"order":               o.Order,
		"phaseTimeout":        o.PhaseTimeout.String(),
		"idleWindow":          idleWindowParam(o.IdleWindow),
		"createWorkers":       strconv.Itoa(o.CreateWorkers),
		"ceilingBinders":      strconv.Itoa(o.Binders),
		"ceilingEvents":       strconv.FormatBool(o.CeilingEvents),
		"ceilingIdentity":     CeilingIdentity + " (the schedulers' kubeconfig), client QPS/burst 5000, protobuf",
		"kubeScheduler":       "kube-scheduler v" + strings.TrimPrefix(controlplane.KubernetesVersion, "v") + ", myriad up's config: clientConnection qps/burst 5000, protobuf; leader election off",
		"myriadScheduler":     "myriad scheduler --scheduler-name default-scheduler --leader-elect=false " + myriadArgs,
		"apiservers":          strconv.Itoa(o.Rig.APIServers),
		"nodeCapacity":        "myriad nodes default (cpu 32, memory 256Gi, pods 110)",
		"bindTime":            "first watch event with spec.nodeName set, as the bench saw it",
		"dataDir":             o.Rig.DataDir,
		"command":             o.Command,
		"nodeMonitorGrace":    o.Rig.NodeMonitorGracePeriod.String(),
		"componentReadyLimit": o.Rig.ReadyTimeout.String(),
	}
}

// clockTimeout is context.WithTimeout on clk.
func clockTimeout(ctx context.Context, clk clock.WithTicker, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := clk.NewTimer(d)
	stop := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-t.C():
			cancel(context.DeadlineExceeded)
		case <-stop:
		case <-ctx.Done():
		}
		t.Stop()
	}()
	return ctx, func() {
		once.Do(func() { close(stop) })
		cancel(context.Canceled)
	}
}

func idleWindowParam(d time.Duration) string {
	if d <= 0 {
		return "off: each scheduler stops at its last binding"
	}
	return fmt.Sprintf("%s, opening %s after the last binding (the scheduler's CPU rate over it is its idle rate)", d, min(idleSettle, d))
}
