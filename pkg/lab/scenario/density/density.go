// Package density is `myriad bench density`: it grows a cluster in phases
// (nodes Ready, pods Running through Deployments, objects stored), holds
// that size, and judges API call latency and pod startup latency against
// SIG scalability's SLOs in every phase, API latency in 5-minute windows.
//
// It measures what any client of such a cluster would see: the API
// server's own request histograms, a watch on the run's pods, and the
// bench's own timed probe calls. It must never touch what it did not
// create: everything it writes carries the run's label
// (bench.myriad.dev/density-run=<id>) and lives in the run's namespaces,
// and a phase whose API latency was not measured fails the run rather
// than passing it.
package density

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// RunLabel marks everything a density run creates with its run id, so its
// pods can be watched and its namespaces removed in one go.
const RunLabel = "bench.myriad.dev/density-run"

// Scenario is the density experiment.
type Scenario struct {
	Options Options
	// StartRig starts (or attaches to) the cluster; tests replace it with
	// one returning rig.New(fake clock, fake clientset).
	StartRig func(ctx context.Context, env lab.Env, o rig.Options, starting func(lab.ReadyPoint, time.Duration) string) (*rig.Rig, error)
	// CountObjects counts the cluster's objects; nil counts through the
	// API (lab.CountObjects).
	CountObjects func(context.Context) (lab.ObjectCount, error)
}

// New is the scenario with its real rig.
func New(o Options) *Scenario {
	return &Scenario{Options: o, StartRig: func(ctx context.Context, env lab.Env, o rig.Options, starting func(lab.ReadyPoint, time.Duration) string) (*rig.Rig, error) {
		if o.Attached() {
			return rig.Attach(ctx, o, env.Console)
		}
		return rig.Start(ctx, o, env.Console, starting)
	}}
}

// Name is `myriad bench density`.
func (s *Scenario) Name() string { return "density" }

// run is one run of the scenario.
type run struct {
	o   Options
	clk clock.WithTicker
	con *lab.Console
	id  string
	in  Input
	rig *rig.Rig
	cs  kubernetes.Interface
	// w makes the run's Deployments, objects and probe calls (Options.Writer).
	w            kubernetes.Interface
	api          *lab.APIRecorder
	pods         *lab.PodStartup
	calls        *lab.ClientTimings
	countObjects func(context.Context) (lab.ObjectCount, error)
	// writes paces the bench's writes; it waits before a call, so the
	// call's timing never includes it.
	writes     flowcontrol.RateLimiter
	namespaces []string
	probeNS    string
	fillers    atomic.Int64 // next filler index
	stopBg     context.CancelFunc
	bg         sync.WaitGroup
}

func (s *Scenario) newRun(env lab.Env) *run {
	o, clk := s.Options, env.Clock
	con := env.Console
	if con == nil {
		con = lab.NewConsole(nil)
	}
	d := &run{o: o, clk: clk, con: con, calls: &lab.ClientTimings{}, countObjects: s.CountObjects,
		id:     strconv.FormatInt(clk.Now().UnixNano()/1e3%(36*36*36*36*36), 36),
		writes: flowcontrol.NewTokenBucketRateLimiterWithClock(float32(o.QPS), max(1, int(o.QPS/10)), clk)}
	d.in = Input{
		Target:      Target{Nodes: o.Rig.Nodes, Pods: o.Pods, Objects: o.Objects, HoldSeconds: o.Hold.Seconds()},
		StartupStep: max(10*time.Second, o.Rig.ScrapeInterval),
		Window:      lab.SLOWindow,
	}
	d.in.Run = lab.NewRunInfo("density", lab.ThisMachine(controlplane.KubernetesVersion), parameters(o, d.id), clk.Now())
	return d
}

// Run grows the cluster phase by phase; each phase needs the one before it
// to have reached its target.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	d := s.newRun(env)
	_ = d.nodesPhase(ctx, s.StartRig) && d.podsPhase(ctx) && d.objectsPhase(ctx) && d.holdPhase(ctx)
	d.in.Interrupted = ctx.Err() != nil
	d.stopRecording()
	if d.o.Rig.Attached() && len(d.namespaces) > 0 {
		d.in.Notes = append(d.in.Notes, fmt.Sprintf("Objects created by this run stay in the cluster: kubectl delete namespace -l %s=%s removes them.", RunLabel, d.id))
	}
	res := Build(d.in)
	d.rig.Stop()
	return res
}

// nodesPhase brings up (or checks) the cluster and starts everything that
// measures it; false when the run cannot go on.
func (d *run) nodesPhase(ctx context.Context, start func(context.Context, lab.Env, rig.Options, func(lab.ReadyPoint, time.Duration) string) (*rig.Rig, error)) bool {
	d.calls.SetPhase(PhaseNodes)
	p := PhaseInput{Name: PhaseNodes, From: d.in.Run.StartedAt}
	nodes := d.o.Rig.Nodes
	if !d.o.Rig.Attached() {
		d.con.Printf("== nodes phase: starting a cluster of %d nodes in %s", nodes, d.o.Rig.DataDir)
	}
	r, err := start(ctx, lab.Env{Clock: d.clk, Console: d.con}, d.o.Rig, func(rp lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("nodes: Ready %d/%d | %s elapsed | ETA %s", rp.Ready, nodes, el.Round(time.Second), etaByRate(rp.Ready, nodes, el))
	})
	d.rig = r
	if r != nil {
		d.in.Ready = r.Ready
	}
	if err != nil || r == nil || r.Client == nil {
		p.Err, p.To = err, d.clk.Now()
		if p.Err == nil {
			p.Err = errors.New("no cluster")
		}
		p.Reached = "no cluster"
		if r != nil && r.Ready != nil && !d.o.Rig.Attached() {
			p.Reached = fmt.Sprintf("%d of %d nodes Ready", r.Ready.Current().Ready, nodes)
		}
		d.in.Phases = append(d.in.Phases, p)
		return false
	}
	d.cs, d.w = r.Client, r.Client
	d.connectMetrics()
	if d.o.Rig.Attached() {
		p.Start = d.api.OpenWindows(ctx)
		var ready int
		ready, err = d.checkNodes(ctx)
		d.in.ReadyNodes = ready
		p.Reached = fmt.Sprintf("%d Ready nodes (at least %d asked)", ready, nodes)
	} else {
		d.in.ReadyNodes = r.Ready.Current().Ready
		p.Reached = fmt.Sprintf("%d of %d nodes Ready", d.in.ReadyNodes, nodes)
		d.con.Printf("all %d nodes Ready after %s", nodes, d.clk.Since(d.in.Run.StartedAt).Round(time.Second))
		d.api.OpenWindows(ctx)
	}
	if err == nil {
		err = d.prepare(ctx)
	}
	p.Err, p.To = err, d.clk.Now()
	p.Grid, p.End = d.api.CloseWindows(ctx)
	d.in.Phases = append(d.in.Phases, p)
	if err != nil {
		d.con.Printf("nodes phase failed: %s", lab.OneLine(err.Error(), 300))
		return false
	}
	return true
}

// connectMetrics sets up the API recorder: the started cluster's API
// servers and etcd, or the attached cluster's API server through its
// kubeconfig.
func (d *run) connectMetrics() {
	d.api = &lab.APIRecorder{Interval: d.o.Rig.ScrapeInterval, Clock: d.clk, Window: lab.SLOWindow}
	if d.rig.Cluster != nil {
		t, err := d.rig.Scrapers()
		if err != nil {
			d.con.Printf("warning: %v; figures from that endpoint will be absent", err)
		}
		d.api.APIServers, d.api.Etcd = t.APIServers, t.Etcd
		return
	}
	if d.rig.Config == nil {
		return // a test's rig: nothing to scrape
	}
	hc, err := rest.HTTPClientFor(d.rig.Config)
	if err != nil {
		d.con.Printf("warning: --kubeconfig: %v; API latency will be absent", err)
		return
	}
	d.api.APIServers = []*lab.Scraper{{Name: "kube-apiserver", URL: strings.TrimSuffix(d.rig.Config.Host, "/") + "/metrics", Client: hc}}
	d.in.Notes = append(d.in.Notes, "Existing cluster (--kubeconfig): the API server's metrics were scraped through the kubeconfig (behind a load balancer, from whichever API server answered); "+
		"etcd's own metrics were out of reach, so the etcd DB size is the API server's apiserver_storage_size_bytes where it reports one; only the bench's own process was sampled.")
}

// checkNodes checks that an existing cluster has the nodes and the room
// the run asks for.
func (d *run) checkNodes(ctx context.Context) (int, error) {
	ready, room, err := readyNodeRoom(ctx, d.cs)
	switch {
	case err != nil:
		return ready, err
	case ready < d.o.Rig.Nodes:
		return ready, fmt.Errorf("the cluster has %d Ready schedulable nodes; --nodes asks for at least %d", ready, d.o.Rig.Nodes)
	case room < int64(d.o.Pods):
		return ready, fmt.Errorf("the cluster's %d Ready nodes take %d pods in all; --pods asks for %d", ready, room, d.o.Pods)
	}
	return ready, nil
}

// readyNodeRoom counts the Ready, schedulable nodes and the pods they take
// in all (allocatable), in pages of 500.
func readyNodeRoom(ctx context.Context, cs kubernetes.Interface) (ready int, room int64, err error) {
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := cs.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return ready, room, fmt.Errorf("list nodes: %w", err)
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
			return ready, room, nil
		}
		opts.Continue = l.Continue
	}
}

// writerRules are all an ordinary writer needs: the run's Deployments,
// objects and probe ConfigMap.
var writerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets", "services"}, Verbs: []string{"create", "get", "list", "patch", "update", "delete"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"create", "get", "list", "patch", "update", "delete"}},
}

// prepare creates the namespaces and starts the pod watch, the metrics
// recorder and the probe.
func (d *run) prepare(ctx context.Context) error {
	bg, stop := context.WithCancel(context.Background())
	d.stopBg = stop
	d.bg.Go(func() { d.api.Run(bg) })
	d.pods = lab.NewPodStartup(d.clk)
	synced := make(chan struct{})
	d.bg.Go(func() { d.pods.Run(bg, d.cs, RunLabel+"="+d.id, d.o.Rig.SampleInterval, synced) })
	select {
	case <-synced:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.clk.After(2 * time.Minute):
		return errors.New("the pod watch did not sync within 2m")
	}
	for i := range d.o.Namespaces {
		d.namespaces = append(d.namespaces, fmt.Sprintf("density-%s-%d", d.id, i))
	}
	d.probeNS = fmt.Sprintf("density-%s-probe", d.id)
	if err := d.createNamespaces(ctx, append([]string{d.probeNS}, d.namespaces...)); err != nil {
		return err
	}
	if d.o.Writer == WriterUser {
		w, who, err := d.rig.Writer(ctx, writerRules)
		if err != nil {
			return err
		}
		d.w = w
		d.con.Printf("writes as %s", who)
	}
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: d.probeNS}, Data: map[string]string{"n": "0"}}
	if err := d.write(ctx, "POST configmaps", func(ctx context.Context) error {
		_, err := d.w.CoreV1().ConfigMaps(d.probeNS).Create(ctx, probe, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("create the probe ConfigMap: %w", err)
	}
	d.bg.Go(func() { d.probe(bg) })
	return nil
}

// createNamespaces creates them, labelled with the run, and waits for
// their default ServiceAccounts, without which pods are rejected.
func (d *run) createNamespaces(ctx context.Context, names []string) error {
	for _, name := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{RunLabel: d.id}}}
		if err := d.write(ctx, "POST namespaces", func(ctx context.Context) error {
			_, err := d.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return d.rig.Namespaces(ctx, names...)
}

// phase runs one phase between two API boundaries; false stops the run.
func (d *run) phase(ctx context.Context, name, intro string, run func(ctx context.Context) (string, error)) bool {
	d.calls.SetPhase(name)
	d.con.Printf("== %s phase: %s", name, intro)
	p := PhaseInput{Name: name, From: d.clk.Now(), Start: d.api.OpenWindows(ctx)}
	if d.probeNS != "" {
		// However short the phase, its window has a request of every
		// class to judge.
		d.probeOnce(ctx, 0)
	}
	p.Reached, p.Err = run(ctx)
	d.con.EndProgress()
	if p.Err != nil && ctx.Err() != nil {
		p.Err = fmt.Errorf("interrupted: %w", p.Err)
	}
	p.To = d.clk.Now()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	p.Grid, p.End = d.api.CloseWindows(sctx)
	d.in.Phases = append(d.in.Phases, p)
	if p.Err != nil {
		d.con.Printf("%s phase stopped after %s: %s", name, p.To.Sub(p.From).Round(time.Second), lab.OneLine(p.Err.Error(), 300))
		return false
	}
	d.con.Printf("%s phase done in %s: %s", name, p.To.Sub(p.From).Round(time.Second), p.Reached)
	return true
}

func (d *run) holdPhase(ctx context.Context) bool {
	hold := d.o.Hold
	return d.phase(ctx, PhaseHold, fmt.Sprintf("holding the size for %s", hold), func(ctx context.Context) (string, error) {
		began := d.clk.Now()
		tick := d.clk.NewTicker(time.Second)
		defer tick.Stop()
		minRunning := d.pods.Current().Running
		for {
			el := d.clk.Since(began)
			cur := d.pods.Current()
			minRunning = min(minRunning, cur.Running)
			ready := "-"
			if d.in.Ready != nil {
				ready = strconv.Itoa(d.in.Ready.Current().Ready)
			}
			d.con.Progress(fmt.Sprintf("hold: %s elapsed, ETA %s | pods Running %d/%d | nodes Ready %s | API %s",
				el.Round(time.Second), (hold - el).Round(time.Second), cur.Running, d.o.Pods, ready, lastVerbP99(d.api.Points())))
			reached := fmt.Sprintf("held %s; pods Running at least %d", el.Round(time.Second), minRunning)
			if el >= hold {
				_, err := d.count(ctx, PhaseHold)
				return reached, err
			}
			if err := d.memoryLeft(); err != nil {
				return reached, err
			}
			select {
			case <-ctx.Done():
				return reached, ctx.Err()
			case <-tick.C():
			}
		}
	})
}

// probe times a few cheap calls of every SLO class, once per interval: a
// steady sample of what any client would see, whatever the phase, and the
// reason every window has requests of every class to judge.
func (d *run) probe(ctx context.Context) {
	t := d.clk.NewTicker(d.o.ProbeInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		d.probeOnce(ctx, n)
	}
}

// probeOnce times one call of every SLO class.
func (d *run) probeOnce(ctx context.Context, n int) {
	cms := d.w.CoreV1().ConfigMaps(d.probeNS)
	_ = d.calls.Time("probe GET configmaps", func() error {
		_, err := cms.Get(ctx, "probe", metav1.GetOptions{})
		return err
	})
	_ = d.calls.Time("probe PATCH configmaps", func() error {
		_, err := cms.Patch(ctx, "probe", types.MergePatchType, fmt.Appendf(nil, `{"data":{"n":"%d"}}`, n), metav1.PatchOptions{})
		return err
	})
	_ = d.calls.Time("probe LIST configmaps (namespace)", func() error {
		_, err := cms.List(ctx, metav1.ListOptions{})
		return err
	})
	_ = d.calls.Time("probe LIST namespaces (cluster)", func() error {
		_, err := d.cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: RunLabel + "=" + d.id})
		return err
	})
}

// count takes an object count through the API and keeps it.
func (d *run) count(ctx context.Context, phase string) (int64, error) {
	d.con.Progress("counting objects through the API ...")
	countObjects := d.countObjects
	if countObjects == nil {
		md, err := metadata.NewForConfig(d.rig.Config)
		if err != nil {
			return 0, fmt.Errorf("count objects: %w", err)
		}
		countObjects = func(ctx context.Context) (lab.ObjectCount, error) {
			return lab.CountObjects(ctx, d.cs.Discovery(), md, d.calls)
		}
	}
	c, err := countObjects(ctx)
	if err != nil {
		return 0, err
	}
	c.At, c.Phase = d.clk.Now(), phase
	d.in.Counts = append(d.in.Counts, c)
	d.con.Printf("  %d objects in the cluster (%d types)", c.Total, len(c.ByResource))
	return c.Total, nil
}

// stopRecording stops the probe, the watches and the recorders, and puts
// what they recorded into d.in.
func (d *run) stopRecording() {
	if d.stopBg != nil {
		d.stopBg()
	}
	d.bg.Wait()
	d.in.StoppedAt = d.clk.Now()
	d.rig.StopRecording()
	d.in.Procs = d.rig.Processes()
	d.in.Pods, d.in.Client = d.pods, d.calls
	if d.api != nil {
		d.in.ChartPoints, d.in.ScrapeErrors = d.api.Points(), d.api.Errors()
	}
}

// memoryLeft fails when the machine's available memory is below
// --min-available-memory: better a report that says so than the kernel's
// OOM killer choosing a victim.
func (d *run) memoryLeft() error {
	if d.o.minAvailBytes == 0 {
		return nil
	}
	avail, ok := memAvailable()
	if ok && avail < d.o.minAvailBytes {
		return fmt.Errorf("the machine has %s of memory available, below --min-available-memory %s", lab.BytesH(float64(avail)), d.o.MinAvailableMemory)
	}
	return nil
}

func memAvailable() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil && len(f) == 2 {
				return kb * 1024, true
			}
		}
	}
	return 0, false
}
