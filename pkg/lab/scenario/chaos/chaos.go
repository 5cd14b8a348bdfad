package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

const namespace = "myriad-bench-chaos"

// Scenario is `myriad bench chaos`.
type Scenario struct{ O Options }

var _ lab.Scenario = (*Scenario)(nil)

// Name is the command's name.
func (s *Scenario) Name() string { return "chaos" }

// Run is one run.
type Run struct {
	o    Options
	env  lab.Env
	con  *lab.Console
	r    *rig.Rig
	etcd *clientv3.Client
}

// Run starts the cluster, runs the workload under faults for Duration,
// lets it settle and checks what was lost. It returns the result also
// when the run stopped early.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	x := &Run{o: s.O, env: env, con: env.Console}
	x.o.Rig.HA = x.o.HA
	in := Input{Info: lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), parameters(x.o), env.Clock.Now()),
		MaxUnavailable: x.o.MaxUnavailable, MaxStall: x.o.MaxStall}
	in.Info.StopEarly(x.con, x.run(ctx, &in))
	if x.etcd != nil {
		_ = x.etcd.Close()
	}
	if x.r != nil {
		x.r.StopRecording()
		in.Readiness = x.r.Ready.Summarize(in.FaultsFrom, env.Clock.Now())
	}
	in.Info.Finish(env.Clock.Now(), x.r.Processes())
	x.r.Stop()
	return Build(in)
}

func (x *Run) run(ctx context.Context, in *Input) error {
	o := x.o
	mode := "myriad up"
	if o.HA {
		mode = "myriad up --ha"
	}
	x.con.Printf("starting a cluster of %d nodes (%s) in %s", o.Rig.Nodes, mode, o.Rig.DataDir)
	r, err := rig.Start(ctx, o.Rig, x.con, func(p lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("starting: %d/%d nodes Ready | %s elapsed", p.Ready, o.Rig.Nodes, el.Round(time.Second))
	})
	x.r = r
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	plan := r.Cluster.Plan
	var ports []int
	for i := range max(plan.EtcdMembers, 1) {
		p, _ := controlplane.EtcdMemberPorts(plan.EtcdPort, i)
		ports = append(ports, p)
	}
	if x.etcd, err = controlplane.EtcdClient(plan.Certs, ports...); err != nil {
		return err
	}
	cs, err := rig.ManagerCRDClient(r)
	if err != nil {
		return err
	}
	if err := r.Namespaces(ctx, namespace); err != nil {
		return err
	}
	ledger := NewLedger()
	// A probe waits past the stall budget, so that a request held longer
	// than it is seen as such rather than cut off at the budget.
	timeout := o.MaxStall + 5*time.Second
	writer := &Writer{Client: r.Client, Clock: x.env.Clock, Namespace: namespace, Keys: 16, Timeout: timeout, Ledger: ledger}
	reader := &Reader{Client: r.Client, Clock: x.env.Clock, Namespace: namespace, Timeout: timeout}
	work := &Workload{Client: r.Client, CloneSets: cs, Namespace: namespace, Replicas: o.Replicas}
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	if err := writer.Prepare(ctx); err != nil {
		return err
	}
	if err := work.Watch(wctx); err != nil {
		return err
	}
	if err := work.Create(ctx); err != nil {
		return err
	}
	x.con.Printf("workload: %g writes/s, %g reads/s, a Deployment churning %d–%d pods, a CloneSet of %d updated in place", o.WriteRate, o.ReadRate, o.Replicas/2, o.Replicas, o.Replicas)
	if c := work.Settle(ctx, x.env.Clock.Now(), o.SettleTimeout, x.env.Clock); !c.Settled {
		return fmt.Errorf("the workloads' first pods did not all run within %s (%d/%d Deployment pods Running, %d/%d CloneSet pods)", o.SettleTimeout, c.DeploymentRunning, o.Replicas, c.CloneSetUpdated, o.Replicas)
	}
	work.Scale(ctx, o.Replicas/2)

	// The traffic runs through the faults and until the checks begin.
	tctx, stopTraffic := context.WithCancel(ctx)
	var traffic sync.WaitGroup
	traffic.Go(func() { rig.Paced(tctx, x.env.Clock, o.WriteRate, 256, writer.Write) })
	traffic.Go(func() { rig.Paced(tctx, x.env.Clock, o.ReadRate, 64, reader.Read) })
	traffic.Go(func() {
		x.every(tctx, o.ChurnEvery, func(i int) { work.Scale(tctx, []int{o.Replicas, o.Replicas / 2}[i%2]) })
	})
	traffic.Go(func() { x.every(tctx, o.RolloutEvery, func(int) { work.Rollout(tctx) }) })
	in.FaultsFrom = x.env.Clock.Now()
	ferr := x.faults(ctx, in)
	in.FaultsTo = x.env.Clock.Now()
	stopTraffic()
	traffic.Wait()
	in.Reads, in.Writes = reader.Ops(), writer.Ops()
	in.ReadErrors, in.WriteErrors = reader.Errors(), writer.Errors()
	in.Acked, in.Unknown = ledger.Counts()
	if ferr != nil {
		return ferr
	}

	x.con.Printf("faults over: %d injected; letting the pods settle (up to %s)", len(in.Faults), o.SettleTimeout)
	in.Pods = work.Settle(ctx, x.env.Clock.Now(), o.SettleTimeout, x.env.Clock)
	stored, err := writer.Stored(ctx)
	if err != nil {
		return fmt.Errorf("reading the writes back: %w", err)
	}
	in.Lost = ledger.Check(stored)
	in.Checked = true
	return nil
}

// faults injects one fault after another until Duration has passed.
func (x *Run) faults(ctx context.Context, in *Input) error {
	clk := x.env.Clock
	p := Planner{Rand: rand.New(rand.NewPCG(x.o.Seed, 0x6d797269)), KillShare: x.o.KillShare, PauseMin: x.o.PauseMin, PauseMax: x.o.PauseMax,
		Every: x.o.Every, LeaderShare: 0.5}
	end := in.FaultsFrom.Add(x.o.Duration)
	for {
		gap := p.Gap()
		if clk.Now().Add(gap).After(end) {
			return x.wait(ctx, end.Sub(clk.Now()), end, len(in.Faults))
		}
		if err := x.wait(ctx, gap, end, len(in.Faults)); err != nil {
			return err
		}
		targets := x.targets(ctx)
		f, ok := p.Next(targets)
		if !ok {
			return fmt.Errorf("no process of %v runs: nothing to inject a fault into", x.o.Kinds)
		}
		n := 0
		for _, t := range targets {
			if t.Kind == f.Target.Kind {
				n++
			}
		}
		role := ""
		if f.Target.Leader {
			role = " (leader)"
		}
		x.con.Printf("fault %d: SIG%s %s%s%s", len(in.Faults)+1, sigName(f.Signal), f.Target.Process, role, pauseNote(f))
		fi := x.inject(ctx, f, n)
		in.Faults = append(in.Faults, fi)
		x.con.Printf("fault %d: %s", len(in.Faults), recoveryLine(fi))
		if fi.Err != "" {
			return fmt.Errorf("fault %d (SIG%s %s): %s", len(in.Faults), fi.Signal, fi.Process, fi.Err)
		}
	}
}

func pauseNote(f Injection) string {
	if f.Pause == 0 {
		return ""
	}
	return fmt.Sprintf(" for %s", f.Pause.Round(100*time.Millisecond))
}

func recoveryLine(fi FaultInput) string {
	s := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f s", t.Sub(fi.At).Seconds())
	}
	line := "process back after " + s(fi.BackAt)
	if leads(fi.Kind) {
		line += ", service after " + s(fi.LeaderAt)
	}
	if fi.Err != "" {
		line += ": " + fi.Err
	}
	return line
}

// wait sleeps d with the progress line up to date; the context's end is
// an interruption.
func (x *Run) wait(ctx context.Context, d time.Duration, end time.Time, faults int) error {
	clk := x.env.Clock
	until := clk.Now().Add(d)
	tick := clk.NewTicker(time.Second)
	defer tick.Stop()
	for clk.Now().Before(until) {
		x.con.Progress(fmt.Sprintf("chaos: %d faults | %s left", faults, end.Sub(clk.Now()).Round(time.Second)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted after %d faults", faults)
		case <-tick.C():
		}
	}
	x.con.EndProgress()
	return nil
}

// every calls f(0), f(1), ... each period until ctx ends.
func (x *Run) every(ctx context.Context, period time.Duration, f func(int)) {
	t := x.env.Clock.NewTicker(period)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			f(i)
		}
	}
}
