package failover

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/manager"
)

const namespace = "myriad-bench-failover"

// Scenario is `myriad bench failover`.
type Scenario struct {
	O Options
	// StartRig starts the cluster; tests give a rig.New.
	StartRig func(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error)
	// CloneSets is the client for CloneSets; tests give a fake.
	CloneSets func(r *rig.Rig) (client.Client, error)
	// Target sets a component up for its rounds (a standby beside the
	// leader); tests give fakes. Its error says why the component cannot
	// be measured.
	Target func(ctx context.Context, x *Run, sp spec) (*Target, error)
}

var _ lab.Scenario = (*Scenario)(nil)

// Name is the command's name.
func (s *Scenario) Name() string { return "failover" }

// Run is one run of the scenario.
type Run struct {
	o   Options
	env lab.Env
	con *lab.Console
	r   *rig.Rig
	c   client.Client
	w   *watch
}

// Target is one component as the rounds drive it: the rig's processes in
// a run, fakes in tests.
type Target struct {
	// Standby is the second instance's process name.
	Standby string
	// Leader waits until one instance leads (the Lease fresh) and the
	// other is warm, and returns the leader's process name.
	Leader func(ctx context.Context) (string, error)
	// Kill signals the process and returns its pid.
	Kill func(process string) (int, error)
	// Restarted waits until the supervisor replaced pid and says when.
	Restarted func(ctx context.Context, process string, pid int) (time.Time, error)
	// Stop stops the standby.
	Stop func()
	// SetHandover turns the supervisor's Lease handover on or off for both
	// instances and says whether the component has one; nil: it has none.
	SetHandover func(on bool) bool
}

// Run measures every component in turn and returns the result, also when
// the cluster or a round stopped the run.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o := s.O
	o.Rig.Scheduler = o.scheduler()
	x := &Run{o: o, env: env, con: env.Console}
	in := Input{Info: lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), parameters(o), env.Clock.Now())}
	wctx, stopWatch := context.WithCancel(context.Background())
	in.Info.StopEarly(x.con, x.run(ctx, wctx, s, &in))
	stopWatch()
	if x.r != nil {
		x.r.StopRecording()
	}
	in.Info.Finish(env.Clock.Now(), x.r.Processes())
	x.r.Stop()
	return Build(in)
}

func (x *Run) run(ctx, wctx context.Context, s *Scenario, in *Input) error {
	start, newClient, target := s.StartRig, s.CloneSets, s.Target
	if start == nil {
		start = startRig
	}
	if newClient == nil {
		newClient = cloneSetClient
	}
	if target == nil {
		target = standbyTarget
	}
	r, err := start(ctx, x.o.Rig, x.con)
	x.r = r
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	if x.c, err = newClient(r); err != nil {
		return err
	}
	if err := x.workloads(ctx); err != nil {
		return err
	}
	if x.w, err = startWatch(ctx, wctx, r.Client, x.env.Clock, namespace); err != nil {
		return err
	}
	for _, name := range x.o.Components {
		sp := specs[name]
		ci := ComponentInput{Component: name, Lease: "kube-system/" + sp.lease, Work: sp.firstWork}
		t, err := target(ctx, x, sp)
		if err != nil {
			ci.NotMeasured = err.Error()
			x.con.Printf("%s: not measured: %s", name, lab.OneLine(err.Error(), 200))
			in.Components = append(in.Components, ci)
			continue
		}
		ci.Standby = t.Standby
		x.con.Printf("%s: standby %s is warm", name, t.Standby)
		for i, on := range x.plan(t) {
			if i > 0 && t.SetHandover != nil {
				t.SetHandover(on)
			}
			ri, err := x.round(ctx, t, sp, i, on)
			ci.Rounds = append(ci.Rounds, ri)
			if _, _, d := x.w.holder(sp.lease); d != nil {
				ci.LeaseDurationSeconds = d
			}
			if err != nil {
				x.con.Printf("%s round %d: %s", name, i, lab.OneLine(err.Error(), 200))
				break
			}
		}
		if t.SetHandover != nil {
			t.SetHandover(true) // as myriad up runs it
		}
		if t.Stop != nil {
			t.Stop()
		}
		in.Components = append(in.Components, ci)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s's rounds", name)
		}
	}
	return nil
}

// plan is the handover setting of each round: round 0 is the control,
// then --rounds with the Lease left to expire (upstream's failover) and
// --rounds with the supervisor's handover, as --handover asks. A target
// without a handover gets only the first kind.
func (x *Run) plan(t *Target) []bool {
	modes := x.o.Handover.modes()
	if t.SetHandover == nil || !t.SetHandover(true) {
		modes = []bool{false}
	}
	p := []bool{false}
	for _, on := range modes {
		for range x.o.Rounds {
			p = append(p, on)
		}
	}
	return p
}

// startRig starts the cluster with its progress line; attached, there is
// nothing the scenario may kill, and every component says so.
func startRig(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error) {
	if o.Attached() {
		return rig.Attach(ctx, o, con)
	}
	con.Printf("starting a cluster of %d nodes (myriad up --scheduler %s) in %s", o.Nodes, o.Scheduler, o.DataDir)
	return rig.Start(ctx, o, con, func(p lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("starting: %d/%d nodes Ready | %s elapsed", p.Ready, o.Nodes, el.Round(time.Second))
	})
}

// cloneSetClient speaks JSON (CRDs have no protobuf) and logs where klog
// goes (bench.log).
func cloneSetClient(r *rig.Rig) (client.Client, error) {
	rc := rest.CopyConfig(r.Config)
	rc.ContentType, rc.AcceptContentTypes = "application/json", "application/json"
	rc.Timeout = 30 * time.Second
	scheme, err := manager.Scheme()
	if err != nil {
		return nil, err
	}
	ctrllog.SetLogger(klog.NewKlogr())
	c, err := client.New(rc, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("CloneSet client: %w", err)
	}
	return c, nil
}

func parameters(o Options) map[string]string {
	sig := "KILL (a crash: the Lease is not released)"
	if o.Signal == syscall.SIGTERM {
		sig = "TERM (a clean stop: the leader may release its Lease)"
	}
	p := map[string]string{
		"components": strings.Join(o.Components, ", "),
		"standby":    "a second instance per component, started by the bench with the arguments of the one myriad up runs (same identity, kubeconfig and Lease), listen ports moved",
		"rounds":     fmt.Sprintf("per component 1 control + %d killing the leader", o.Rounds),
		"replicas":   strconv.Itoa(o.Replicas) + " (scaled 0 → replicas right after the kill, back to 0 after)",
		"signal":     sig,
		"restart":    "the supervisor starts the killed process again after 1s; it becomes the next standby",
		"handover":   string(o.Handover) + " (off: the dead leader's Lease expires, as upstream; on: the supervisor releases it the moment the leader dies)",
		"timeout":    o.RoundTimeout.String() + " per round",
		"nodes":      strconv.Itoa(o.Rig.Nodes),
		"scheduler":  "myriad up --scheduler " + o.scheduler(),
		"command":    strings.Join(os.Args, " "),
	}
	if !o.Rig.Attached() {
		p["dataDir"] = o.Rig.DataDir
		p["apiservers"] = strconv.Itoa(o.Rig.APIServers)
	}
	return p
}
