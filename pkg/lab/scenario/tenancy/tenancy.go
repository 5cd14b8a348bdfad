package tenancy

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"

	tenancyv1 "github.com/myriad-dev/myriad/pkg/apis/tenancy/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/tenancy/admin"
)

// tenantNamespace is where each tenant's pods of the run go.
const tenantNamespace = "bench"

// idleSettle passes before the idle window opens.
const idleSettle = 15 * time.Second

// Scenario is `myriad bench tenancy`.
type Scenario struct{ O Options }

var _ lab.Scenario = (*Scenario)(nil)

// Name is the command's name.
func (s *Scenario) Name() string { return "tenancy" }

type run struct {
	o       Options
	env     lab.Env
	con     *lab.Console
	r       *rig.Rig
	id      string
	in      Input
	tenants []tenantRun
}

type tenantRun struct {
	name   string
	client kubernetes.Interface
}

// Run creates the tenants, then runs the direct, tenant and fairness
// phases in turn; each needs the one before it.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o := s.O
	x := &run{o: o, env: env, con: env.Console, id: strconv.FormatInt(env.Clock.Now().UnixNano()/1e3%(36*36*36*36*36), 36)}
	x.in = Input{Info: lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), parameters(o), env.Clock.Now())}
	x.in.Info.StopEarly(x.con, x.run(ctx))
	if x.r != nil {
		x.r.StopRecording()
		x.in.Info.Finish(env.Clock.Now(), x.r.Procs.Series())
		x.in.Series = x.r.Procs.Series()
	}
	res := Build(x.in)
	if x.r != nil {
		x.r.Stop()
	}
	return res
}

func (x *run) run(ctx context.Context) error {
	x.con.Printf("== starting a cluster of %d nodes in %s", x.o.Rig.Nodes, x.o.Rig.DataDir)
	r, err := rig.Start(ctx, x.o.Rig, x.con, func(rp lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("nodes: Ready %d/%d | %s elapsed", rp.Ready, x.o.Rig.Nodes, el.Round(time.Second))
	})
	x.r = r
	if err != nil {
		return fmt.Errorf("start the cluster: %w", err)
	}
	if err := x.createTenants(ctx); err != nil {
		return err
	}
	if err := x.idle(ctx); err != nil {
		return err
	}
	if err := x.directPhase(ctx); err != nil {
		return err
	}
	if err := x.tenantPhase(ctx); err != nil {
		return err
	}
	if x.o.Greedy > 0 {
		return x.fairnessPhase(ctx)
	}
	return nil
}

// createTenants creates the run's tenants two at a time and times each.
func (x *run) createTenants(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(x.r.Config)
	if err != nil {
		return err
	}
	ad := &admin.Client{Dynamic: dyn, Core: x.r.Client}
	x.con.Printf("== creating %d tenants", x.o.Tenants)
	began := x.env.Clock.Now()
	x.in.TenantsFrom = began
	type made struct {
		i       int
		seconds float64
		err     error
	}
	results := make(chan made)
	sem := make(chan struct{}, 2)
	for i := range x.o.Tenants {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t0 := x.env.Clock.Now()
			_, err := ad.Create(ctx, fmt.Sprintf("t%s-%03d", x.id, i), tenancyv1.TenantSpec{Weight: 1}, x.o.PhaseTimeout)
			results <- made{i, x.env.Clock.Since(t0).Seconds(), err}
		}()
	}
	var secs []float64
	var firstErr error
	for done := 0; done < x.o.Tenants; done++ {
		m := <-results
		if m.err != nil && firstErr == nil {
			firstErr = m.err
		}
		secs = append(secs, m.seconds)
		x.con.Progress(fmt.Sprintf("tenants: %d/%d Ready | %s elapsed", done+1, x.o.Tenants, x.env.Clock.Since(began).Round(time.Second)))
	}
	x.con.EndProgress()
	x.in.TenantCreate = lab.SummarizeLatencies(secs)
	x.in.TenantsReadyAt = x.env.Clock.Now()
	if firstErr != nil {
		return fmt.Errorf("create tenants: %w", firstErr)
	}
	for i := range x.o.Tenants {
		name := fmt.Sprintf("t%s-%03d", x.id, i)
		raw, err := ad.Kubeconfig(ctx, name)
		if err != nil {
			return err
		}
		cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
		if err != nil {
			return err
		}
		cs, err := kubernetes.NewForConfig(kubeclient.Apply(cfg, kubeclient.Options{QPS: 5000, Burst: 5000, Protobuf: true, UserAgent: "myriad-bench"}))
		if err != nil {
			return err
		}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenantNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("tenant %s: %w", name, err)
		}
		x.tenants = append(x.tenants, tenantRun{name: name, client: cs})
	}
	return nil
}

// idle watches the tenants' control planes doing nothing, and reads each
// one's proportional memory (PSS: the shared binary's pages split among
// the processes mapping them, which RSS counts in full for each).
func (x *run) idle(ctx context.Context) error {
	x.con.Printf("== watching %d idle tenant control planes for %s, after %s to settle", x.o.Tenants, x.o.IdleWindow, idleSettle)
	// A just-started API server still fills caches and writes its first
	// leases: that is start-up, not idling.
	var from time.Time
	for _, wait := range []time.Duration{idleSettle, x.o.IdleWindow} {
		from = x.env.Clock.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-x.env.Clock.After(wait):
		}
	}
	x.in.IdleFrom, x.in.IdleTo = from, x.env.Clock.Now()
	pids := x.r.Cluster.Supervisor.Pids()
	for _, t := range x.tenants {
		api, cm := controlplane.TenantProcessNames(t.name)
		x.in.IdlePSS = append(x.in.IdlePSS, TenantMemory{Tenant: t.name, APIServerPSS: readPSS(pids[api]), ControllerManagerPSS: readPSS(pids[cm])})
	}
	return nil
}

// directPhase creates the pods on the cluster itself, spread over as many
// namespaces as there are tenants.
func (x *run) directPhase(ctx context.Context) error {
	var targets []target
	for i := range x.o.Tenants {
		ns := fmt.Sprintf("bench-tenancy-%s-%03d", x.id, i)
		if _, err := x.r.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{RunLabel: x.id}}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		targets = append(targets, target{Name: "direct/" + ns, Client: x.r.Client, Namespace: ns})
	}
	out, err := x.podsPhase(ctx, "direct", targets, false)
	x.in.Direct = out
	if err != nil {
		return err
	}
	for _, t := range targets {
		if err := x.r.Client.CoreV1().Namespaces().Delete(ctx, t.Namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return x.waitNoPods(ctx, RunLabel+"="+x.id, "direct pods removed")
}

// tenantPhase creates the same pods through the tenants.
func (x *run) tenantPhase(ctx context.Context) error {
	var targets []target
	for _, t := range x.tenants {
		targets = append(targets, target{Name: t.name, Client: t.client, Namespace: tenantNamespace})
	}
	out, err := x.podsPhase(ctx, "through tenants", targets, true)
	x.in.Tenant = out
	if err != nil {
		return err
	}
	return x.clearTenants(ctx, targets)
}

// podsPhase creates o.Pods pods round-robin over targets (tenants if
// through) at o.QPS and waits until they run.
func (x *run) podsPhase(ctx context.Context, what string, targets []target, through bool) (PhaseResult, error) {
	x.con.Printf("== %s: %d pods over %d namespaces at %g/s", what, x.o.Pods, len(targets), x.o.QPS)
	pc := newPodClock(x.env.Clock, through)
	keyOf := directKeys(targets)
	if through {
		keyOf = tenantKeys(targets)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := pc.watch(wctx, targets, x.id); err != nil {
		return PhaseResult{}, err
	}
	if err := pc.watchCluster(wctx, x.r.Client, x.id, keyOf); err != nil {
		return PhaseResult{}, err
	}
	jobs := make([]job, x.o.Pods)
	for i := range jobs {
		jobs[i] = job{T: i % len(targets), N: i}
	}
	began := x.env.Clock.Now()
	limiter := flowcontrol.NewTokenBucketRateLimiterWithClock(float32(x.o.QPS), max(1, int(x.o.QPS/10)), x.env.Clock)
	go pc.create(wctx, targets, jobs, x.o.Workers, limiter, x.id, began)
	err := pc.waitRunning(ctx, x.con, what, x.o.Pods, x.o.PhaseTimeout, began)
	res := PhaseResult{From: began, To: x.env.Clock.Now(), Outcome: pc.outcome(func(int) bool { return true })}
	return res, err
}

// fairnessPhase: the first o.Greedy tenants each create o.Burst pods as
// fast as the bench can send them, while every other tenant creates
// o.RegularPods pods, one a second, starting with the burst.
func (x *run) fairnessPhase(ctx context.Context) error {
	greedy, regular := x.o.Greedy, x.o.Tenants-x.o.Greedy
	x.con.Printf("== fairness: %d greedy tenants burst %d pods each; %d regular tenants create %d each, one a second", greedy, x.o.Burst, regular, x.o.RegularPods)
	var targets []target
	for _, t := range x.tenants {
		targets = append(targets, target{Name: t.name, Client: t.client, Namespace: tenantNamespace})
	}
	pc := newPodClock(x.env.Clock, true)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := pc.watch(wctx, targets, x.id); err != nil {
		return err
	}
	if err := pc.watchCluster(wctx, x.r.Client, x.id, tenantKeys(targets)); err != nil {
		return err
	}
	var burst, paced []job
	n := 0
	for t := range greedy {
		for range x.o.Burst {
			burst = append(burst, job{T: t, N: n})
			n++
		}
	}
	for t := greedy; t < x.o.Tenants; t++ {
		for i := range x.o.RegularPods {
			paced = append(paced, job{T: t, N: n, At: time.Duration(i) * time.Second})
			n++
		}
	}
	began := x.env.Clock.Now()
	go pc.create(wctx, targets, burst, x.o.Workers, nil, x.id, began)
	go pc.create(wctx, targets, paced, regular, nil, x.id, began)
	err := pc.waitRunning(ctx, x.con, "fairness", n, x.o.PhaseTimeout, began)
	x.in.Fairness = &FairnessResult{From: began, To: x.env.Clock.Now(),
		Greedy:  pc.outcome(func(t int) bool { return t < greedy }),
		Regular: pc.outcome(func(t int) bool { return t >= greedy })}
	if err != nil {
		return err
	}
	return x.clearTenants(ctx, targets)
}

// clearTenants deletes the run's pods in every tenant and waits until the
// syncer has removed them from the cluster too.
func (x *run) clearTenants(ctx context.Context, targets []target) error {
	for _, t := range targets {
		if err := t.Client.CoreV1().Pods(t.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)},
			metav1.ListOptions{LabelSelector: RunLabel + "=" + x.id}); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
	}
	return x.waitNoPods(ctx, RunLabel+"="+x.id, "tenant pods removed from the cluster")
}

// waitNoPods waits until the cluster holds no pod matching selector.
func (x *run) waitNoPods(ctx context.Context, selector, what string) error {
	deadline := x.env.Clock.Now().Add(x.o.PhaseTimeout)
	for {
		l, err := x.r.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: "0"})
		if err == nil && len(l.Items) == 0 {
			x.con.EndProgress()
			return nil
		}
		if err == nil {
			x.con.Progress(fmt.Sprintf("waiting until %s: %d left", what, len(l.Items)))
		}
		if x.env.Clock.Now().After(deadline) {
			return fmt.Errorf("not %s after %s", what, x.o.PhaseTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-x.env.Clock.After(time.Second):
		}
	}
}

// readPSS is /proc/<pid>/smaps_rollup's Pss in bytes, 0 when unreadable.
func readPSS(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
