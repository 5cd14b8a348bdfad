package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

const (
	// densityRunLabel marks everything a density run creates with its run
	// id, so its pods can be watched and its namespaces removed in one go.
	densityRunLabel = "bench.myriad.dev/density-run"
	// defaultPodsPerNode is `myriad nodes`' default pods capacity.
	defaultPodsPerNode = 110
	// fillerKinds are the object kinds the objects phase writes, in turn.
	fillerKinds = 3
)

type densityOptions struct {
	cluster        soakOptions // nodes, hold duration, out, cluster flags
	kubeconfig     string
	pods           int
	objects        int64
	deployments    int
	namespaces     int
	podRate        float64
	qps            float64
	workers        int
	phaseTimeout   time.Duration
	stallTimeout   time.Duration
	probeInterval  time.Duration
	minAvailable   string
	minAvailBytes  int64
	deploymentSize int // pods per Deployment, derived
}

func newBenchDensityCommand() *cobra.Command {
	var o densityOptions
	cmd := &cobra.Command{
		Use:   "density",
		Short: "Grow a cluster to N nodes, P pods and O objects, hold it, and judge API and pod startup latency against the SLOs",
		Long: `Grow a cluster in phases and measure it all along:

  nodes    start a cluster of --nodes simulated nodes (as 'myriad up' does) and
           wait until every one is Ready; with --kubeconfig, use the cluster
           there and check that it has at least --nodes Ready nodes
  pods     create --deployments Deployments over --namespaces namespaces, at
           --pod-rate pods per second, until --pods pods are Running
  objects  count every object in the cluster through the API, then create
           small ConfigMaps, Secrets and headless Services (--qps, --workers)
           until it holds --objects objects
  hold     keep that size for --duration

Each phase is judged against SIG scalability's SLOs: API call latency from the
API server's apiserver_request_duration_seconds, scraped at the phase's start
and end (mutating p99 <= 1s; reads p99 <= 1s for single objects, 5s within a
namespace, 30s across the cluster), and pod startup latency, creationTimestamp
to Running as a watch sees it (p99 <= 5s); every figure is also held against
the seeds' 100 ms. Process RSS and CPU, etcd's DB size and the object count
are recorded over time. Writes result.json and report.html to --out; a run
that cannot reach its size (a phase times out or stalls, memory runs low,
Ctrl-C) still writes them and says where it stopped. Exits non-zero unless
every phase reached its target and every SLO held.

With --kubeconfig Myriad starts nothing: it scrapes the API server's /metrics
through that kubeconfig (etcd's own metrics are then absent), samples only
its own process, and leaves what it created in namespaces labelled
bench.myriad.dev/density-run=<id> (kubectl delete ns -l ... removes them).`,
		Example: `  myriad bench density --nodes 20 --pods 200 --objects 2000 --duration 20s --out /tmp/density-small
  myriad bench density --nodes 2000 --pods 20000 --objects 100000 --out /tmp/density-2k
  myriad bench density --kubeconfig ~/.kube/config --pods 5000 --objects 50000 --out /tmp/density-existing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			return runDensity(cmd, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.cluster.nodes, "nodes", 100, "simulated nodes to start; with --kubeconfig, the fewest Ready nodes the cluster must have (0: any)")
	f.IntVar(&o.pods, "pods", 1000, "pods to have Running, created through Deployments")
	f.Int64Var(&o.objects, "objects", 10000, "objects the cluster must hold in all (every type, counted through the API)")
	f.IntVar(&o.deployments, "deployments", 0, "Deployments the pods are spread over (0: one per 100 pods)")
	f.IntVar(&o.namespaces, "namespaces", 10, "namespaces the Deployments and other objects are spread over")
	f.Float64Var(&o.podRate, "pod-rate", 100, "pods per second the Deployments ask for, spread in time (0: all at once)")
	f.Float64Var(&o.qps, "qps", 500, "the bench's writes per second in the objects phase")
	f.IntVar(&o.workers, "workers", 32, "concurrent writes in the objects phase")
	f.DurationVar(&o.cluster.duration, "duration", 5*time.Minute, "how long to hold the cluster at size, measuring")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "measure the cluster of this kubeconfig instead of starting one")
	f.StringVar(&o.cluster.out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	f.StringVar(&o.cluster.dataDir, "data-dir", "", "cluster data directory (default OUT/cluster, which must not exist yet)")
	f.DurationVar(&o.phaseTimeout, "phase-timeout", 30*time.Minute, "longest the pods or the objects phase may take")
	f.DurationVar(&o.stallTimeout, "stall-timeout", 3*time.Minute, "stop when pods wait this long with none turning Running")
	f.DurationVar(&o.probeInterval, "probe-interval", time.Second, "how often the bench times its own probe calls (GET, PATCH, LIST)")
	f.StringVar(&o.minAvailable, "min-available-memory", "1Gi", "stop the run when the machine's available memory falls below this (0: never)")
	addClusterFlags(cmd, &o.cluster)
	return cmd
}

func (o *densityOptions) validate() error {
	c := o.cluster
	q, qerr := resource.ParseQuantity(o.minAvailable)
	switch {
	case c.out == "":
		return errors.New("--out is required: the directory for result.json and report.html")
	case o.kubeconfig == "" && c.nodes < 1:
		return fmt.Errorf("--nodes must be at least 1 when the bench starts the cluster, got %d", c.nodes)
	case c.nodes < 0:
		return fmt.Errorf("--nodes must be 0 or more, got %d", c.nodes)
	case o.pods < 1:
		return fmt.Errorf("--pods must be at least 1, got %d", o.pods)
	case o.kubeconfig == "" && o.pods > c.nodes*defaultPodsPerNode:
		return fmt.Errorf("--pods %d do not fit on %d nodes of %d pods each; raise --nodes to at least %d", o.pods, c.nodes, defaultPodsPerNode, (o.pods+defaultPodsPerNode-1)/defaultPodsPerNode)
	case o.objects < 0:
		return fmt.Errorf("--objects must be 0 or more, got %d", o.objects)
	case o.deployments < 0 || o.deployments > o.pods:
		return fmt.Errorf("--deployments must be between 0 (one per 100 pods) and --pods (%d), got %d", o.pods, o.deployments)
	case o.namespaces < 1 || o.namespaces > 10000:
		return fmt.Errorf("--namespaces must be between 1 and 10000, got %d", o.namespaces)
	case o.podRate < 0 || math.IsNaN(o.podRate):
		return fmt.Errorf("--pod-rate must be 0 (all at once) or positive, got %g", o.podRate)
	case !(o.qps > 0):
		return fmt.Errorf("--qps must be positive, got %g", o.qps)
	case o.workers < 1 || o.workers > 1024:
		return fmt.Errorf("--workers must be between 1 and 1024, got %d", o.workers)
	case c.duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", c.duration)
	case o.phaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.phaseTimeout)
	case o.stallTimeout <= 0:
		return fmt.Errorf("--stall-timeout must be positive, got %s", o.stallTimeout)
	case o.probeInterval < 100*time.Millisecond:
		return fmt.Errorf("--probe-interval must be at least 100ms, got %s", o.probeInterval)
	case qerr != nil || q.Sign() < 0:
		return fmt.Errorf("--min-available-memory %q is not a size like 1Gi", o.minAvailable)
	case o.kubeconfig != "" && c.dataDir != "":
		return errors.New("--data-dir is for a cluster the bench starts; with --kubeconfig there is none")
	}
	if err := c.validate(); err != nil {
		return err
	}
	o.minAvailBytes = q.Value()
	if o.deployments == 0 {
		o.deployments = (o.pods + 99) / 100
	}
	o.namespaces = min(o.namespaces, max(o.deployments, 1))
	o.deploymentSize = (o.pods + o.deployments - 1) / o.deployments
	return nil
}

// densityRun is one run of the scenario.
type densityRun struct {
	o   densityOptions
	con *lab.Console
	id  string
	in  lab.DensityInput
	rec *recordedCluster // nil with --kubeconfig
	cs  kubernetes.Interface
	// watchCS serves the watches: no request timeout, which would cut
	// every watch stream short.
	watchCS kubernetes.Interface
	md      metadata.Interface
	api     *lab.APIRecorder
	pods    *lab.PodStartup
	calls   *lab.ClientTimings
	// writes paces the bench's writes; it waits before a call, so the
	// call's timing never includes it.
	writes     flowcontrol.RateLimiter
	namespaces []string
	probeNS    string
	fillers    atomic.Int64 // next filler index
	// countObjects counts the cluster's objects; lab.CountObjects through
	// the API unless a test replaces it.
	countObjects func(context.Context) (lab.ObjectCount, error)
	stopBg       context.CancelFunc
	bg           sync.WaitGroup
	ownProcs     *lab.ProcSampler
	ownReady     *lab.Readiness
}

func runDensity(cmd *cobra.Command, o densityOptions) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	outDir, closeLog, err := prepareOut(o.cluster.out)
	if err != nil {
		return err
	}
	defer closeLog()
	d := &densityRun{o: o, con: lab.NewConsole(out), calls: &lab.ClientTimings{},
		id:     strconv.FormatInt(time.Now().Unix()%1e6, 36) + strconv.Itoa(rand.IntN(1000)),
		writes: flowcontrol.NewTokenBucketRateLimiter(float32(o.qps), max(1, int(o.qps/10)))}
	d.in = lab.DensityInput{
		Target: lab.DensityTarget{Nodes: o.cluster.nodes, Pods: o.pods, Objects: o.objects,
			HoldSeconds: o.cluster.duration.Seconds()},
		StartupStep: max(10*time.Second, o.cluster.scrapeInterval),
	}
	dataDir := ""
	if o.kubeconfig == "" {
		dataDir = o.cluster.dataDir
		if dataDir == "" {
			dataDir = filepath.Join(outDir, "cluster")
		}
		if dataDir, err = freshDataDir(dataDir, o.cluster.dataDir == ""); err != nil {
			return err
		}
	}
	d.in.Run = lab.NewRunInfo("density", lab.ThisMachine(controlplane.KubernetesVersion), densityParameters(o, dataDir, d.id), time.Now())

	// Each phase needs the one before it to have reached its target.
	_ = d.nodesPhase(ctx, dataDir) && d.podsPhase(ctx) && d.objectsPhase(ctx) && d.holdPhase(ctx)
	d.in.Interrupted = ctx.Err() != nil
	d.stopRecording()
	res := lab.BuildDensityResult(d.in)
	path, werr := lab.WriteDensityReport(outDir, res)
	if d.rec != nil && d.rec.cluster != nil {
		fmt.Fprintln(out, "stopping the cluster ...")
		d.rec.cluster.Stop()
		fmt.Fprintf(out, "cluster data and component logs kept in %s\n", dataDir)
	}
	if werr != nil {
		return fmt.Errorf("write report to %s: %w", outDir, werr)
	}
	printDensitySummary(out, res)
	if o.kubeconfig != "" {
		fmt.Fprintf(out, "objects created by this run: kubectl delete namespace -l %s=%s\n", densityRunLabel, d.id)
	}
	fmt.Fprintf(out, "report: %s\n", path)
	if !res.Verdict.Pass {
		return fmt.Errorf("FAIL: %s (report: %s)", lab.OneLine(res.Verdict.Reasons[0], 200), path)
	}
	fmt.Fprintln(out, "PASS: the cluster reached its size and every SLO held")
	return nil
}

// nodesPhase brings up (or checks) the cluster and starts everything that
// measures it; false when the run cannot go on.
func (d *densityRun) nodesPhase(ctx context.Context, dataDir string) bool {
	d.calls.SetPhase(lab.PhaseNodes)
	p := lab.DensityPhaseInput{Name: lab.PhaseNodes, From: d.in.Run.StartedAt}
	kubeconfig := d.o.kubeconfig
	if kubeconfig == "" {
		fmt.Fprintf(d.con, "== nodes phase: starting a cluster of %d nodes in %s\n", d.o.cluster.nodes, dataDir)
		d.rec = startRecordedCluster(ctx, d.o.cluster, dataDir, nil, d.con, func(r lab.ReadyPoint, el time.Duration) string {
			return fmt.Sprintf("nodes: Ready %d/%d | %s elapsed | ETA %s", r.Ready, d.o.cluster.nodes, el.Round(time.Second), etaByRate(r.Ready, d.o.cluster.nodes, el))
		})
		d.in.Ready = d.rec.ready
		if d.rec.cluster == nil {
			p.Err, p.To = d.rec.in.StartupErr, time.Now()
			p.Reached = "no cluster"
			if d.rec.ready != nil {
				p.Reached = fmt.Sprintf("%d of %d nodes Ready", d.rec.ready.Current().Ready, d.o.cluster.nodes)
			}
			d.in.Phases = append(d.in.Phases, p)
			return false
		}
		kubeconfig = d.rec.cluster.Plan.Dir.AdminKubeconfig()
	}
	err := d.connect(kubeconfig)
	if err == nil && d.o.kubeconfig != "" {
		p.Start = d.api.Snapshot(ctx)
		var ready int
		ready, err = d.checkNodes(ctx)
		d.in.ReadyNodes = ready
		p.Reached = fmt.Sprintf("%d Ready nodes (at least %d asked)", ready, d.o.cluster.nodes)
	} else if d.rec != nil {
		d.in.ReadyNodes = d.rec.ready.Current().Ready
		p.Reached = fmt.Sprintf("%d of %d nodes Ready", d.in.ReadyNodes, d.o.cluster.nodes)
		fmt.Fprintf(d.con, "all %d nodes Ready after %s\n", d.o.cluster.nodes, time.Since(d.in.Run.StartedAt).Round(time.Second))
	}
	if err == nil {
		err = d.prepare(ctx)
	}
	p.Err, p.To = err, time.Now()
	if d.api != nil {
		p.End = d.api.Snapshot(ctx)
	}
	d.in.Phases = append(d.in.Phases, p)
	if err != nil {
		fmt.Fprintf(d.con, "nodes phase failed: %s\n", lab.OneLine(err.Error(), 300))
		return false
	}
	return true
}

// connect builds the clients and the metrics recorder.
func (d *densityRun) connect(kubeconfig string) error {
	rc, err := restConfig(kubeconfig)
	if err != nil {
		return err
	}
	// The bench paces its own writes (d.writes) before each call, so
	// client-go's limiter never delays a call the bench is timing.
	rc.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	rc.UserAgent = "myriad-bench-density"
	if d.watchCS, err = kubernetes.NewForConfig(rc); err != nil {
		return err
	}
	rc.Timeout = time.Minute
	if d.cs, err = kubernetes.NewForConfig(rc); err != nil {
		return err
	}
	if d.md, err = metadata.NewForConfig(rc); err != nil {
		return err
	}
	d.api = &lab.APIRecorder{Interval: d.o.cluster.scrapeInterval, Clock: clock.RealClock{}}
	if d.rec != nil {
		t, err := soakTargets(d.rec.cluster.Plan, d.rec.metricsPort)
		if err != nil {
			fmt.Fprintf(d.con, "warning: %v; figures from that endpoint will be absent\n", err)
		}
		d.api.APIServers, d.api.Etcd = t.APIServers, t.Etcd
	} else {
		hc, err := rest.HTTPClientFor(rc)
		if err != nil {
			return fmt.Errorf("--kubeconfig: %w", err)
		}
		d.api.APIServers = []*lab.Scraper{{Name: "kube-apiserver", URL: strings.TrimSuffix(rc.Host, "/") + "/metrics", Client: hc}}
		d.in.Notes = append(d.in.Notes, "Existing cluster (--kubeconfig): the API server's metrics were scraped through the kubeconfig (behind a load balancer, from whichever API server answered); "+
			"etcd's own metrics were out of reach, so the etcd DB size is the API server's apiserver_storage_size_bytes where it reports one; only the bench's own process was sampled.")
	}
	return nil
}

// checkNodes checks that an existing cluster has the nodes and the room
// the run asks for.
func (d *densityRun) checkNodes(ctx context.Context) (int, error) {
	ready, room, err := readyNodeRoom(ctx, d.cs)
	switch {
	case err != nil:
		return ready, err
	case ready < d.o.cluster.nodes:
		return ready, fmt.Errorf("the cluster has %d Ready schedulable nodes; --nodes asks for at least %d", ready, d.o.cluster.nodes)
	case room < int64(d.o.pods):
		return ready, fmt.Errorf("the cluster's %d Ready nodes take %d pods in all; --pods asks for %d", ready, room, d.o.pods)
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

// prepare creates the namespaces and starts the pod watch, the metrics
// recorder, the probe and (with --kubeconfig) the bench's own recording.
func (d *densityRun) prepare(ctx context.Context) error {
	bg, stop := context.WithCancel(context.Background())
	d.stopBg = stop
	clk := clock.RealClock{}
	if d.rec == nil {
		self := os.Getpid()
		d.ownProcs = &lab.ProcSampler{Clock: clk, Interval: d.o.cluster.sampleInterval, Pids: func() map[string]int { return map[string]int{"bench": self} }}
		d.ownReady = lab.NewReadiness(clk)
		d.in.Ready = d.ownReady
		d.bg.Go(func() { d.ownProcs.Run(bg) })
		d.bg.Go(func() { d.ownReady.Run(bg, d.watchCS, d.o.cluster.sampleInterval) })
	}
	d.bg.Go(func() { d.api.Run(bg) })
	d.pods = lab.NewPodStartup(clk)
	synced := make(chan struct{})
	d.bg.Go(func() { d.pods.Run(bg, d.watchCS, densityRunLabel+"="+d.id, d.o.cluster.sampleInterval, synced) })
	select {
	case <-synced:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Minute):
		return errors.New("the pod watch did not sync within 2m")
	}
	for i := range d.o.namespaces {
		d.namespaces = append(d.namespaces, fmt.Sprintf("density-%s-%d", d.id, i))
	}
	d.probeNS = fmt.Sprintf("density-%s-probe", d.id)
	if err := d.createNamespaces(ctx, append([]string{d.probeNS}, d.namespaces...)); err != nil {
		return err
	}
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: d.probeNS}, Data: map[string]string{"n": "0"}}
	if err := d.write(ctx, "POST configmaps", func(ctx context.Context) error {
		_, err := d.cs.CoreV1().ConfigMaps(d.probeNS).Create(ctx, probe, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("create the probe ConfigMap: %w", err)
	}
	d.bg.Go(func() { d.probe(bg) })
	return nil
}

// createNamespaces creates them and waits for their default
// ServiceAccounts, without which pods are rejected at admission.
func (d *densityRun) createNamespaces(ctx context.Context, names []string) error {
	for _, name := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{densityRunLabel: d.id}}}
		if err := d.write(ctx, "POST namespaces", func(ctx context.Context) error {
			_, err := d.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, name := range names {
		for {
			_, err := d.cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("namespace %s has no default ServiceAccount after 2m (is the serviceaccount controller running?): %w", name, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// phase runs one phase between two API snapshots; false stops the run.
func (d *densityRun) phase(ctx context.Context, name, intro string, run func(ctx context.Context) (string, error)) bool {
	d.calls.SetPhase(name)
	fmt.Fprintf(d.con, "== %s phase: %s\n", name, intro)
	p := lab.DensityPhaseInput{Name: name, From: time.Now(), Start: d.api.Snapshot(ctx)}
	p.Reached, p.Err = run(ctx)
	d.con.EndProgress()
	if p.Err != nil && ctx.Err() != nil {
		p.Err = fmt.Errorf("interrupted: %w", p.Err)
	}
	p.To = time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.End = d.api.Snapshot(sctx)
	d.in.Phases = append(d.in.Phases, p)
	if p.Err != nil {
		fmt.Fprintf(d.con, "%s phase stopped after %s: %s\n", name, p.To.Sub(p.From).Round(time.Second), lab.OneLine(p.Err.Error(), 300))
		return false
	}
	fmt.Fprintf(d.con, "%s phase done in %s: %s\n", name, p.To.Sub(p.From).Round(time.Second), p.Reached)
	return true
}

func (d *densityRun) podsPhase(ctx context.Context) bool {
	o := d.o
	intro := fmt.Sprintf("%d Deployments of up to %d pods in %d namespaces, %s", o.deployments, o.deploymentSize, o.namespaces, podRateText(o.podRate))
	return d.phase(ctx, lab.PhasePods, intro, func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, o.phaseTimeout)
		defer cancel()
		var created atomic.Int64
		createErr := make(chan error, 1)
		go func() { createErr <- d.createDeployments(ctx, &created) }()
		began := time.Now()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			cur := d.pods.Current()
			el := time.Since(began)
			d.con.Progress(fmt.Sprintf("pods: Running %d/%d | asked for %d | startup p99 (last 1000) %s | %s elapsed | ETA %s",
				cur.Running, o.pods, created.Load(), secondsOrDash(d.pods.RecentP99()), el.Round(time.Second), etaByRate(cur.Running, o.pods, el)))
			reached := fmt.Sprintf("%d of %d pods Running", cur.Running, o.pods)
			if cur.Running >= o.pods {
				return reached, nil
			}
			if stalled := d.pods.Stalled(); stalled > o.stallTimeout {
				return reached, fmt.Errorf("stalled: %d pods waiting and none turned Running for %s (--stall-timeout)", cur.Pods-cur.Running, stalled.Round(time.Second))
			}
			if err := d.memoryLeft(); err != nil {
				return reached, err
			}
			select {
			case err := <-createErr:
				if err != nil {
					return reached, err
				}
			case <-ctx.Done():
				return reached, fmt.Errorf("%s after %s (--phase-timeout %s)", reached, el.Round(time.Second), o.phaseTimeout)
			case <-tick.C:
			}
		}
	})
}

// createDeployments writes the Deployments one after another, each when
// the pods asked for so far fall behind --pod-rate, so pods arrive at a
// steady rate rather than as one burst.
func (d *densityRun) createDeployments(ctx context.Context, created *atomic.Int64) error {
	o := d.o
	began := time.Now()
	left := o.pods
	for i := 0; left > 0; i++ {
		replicas := min(o.deploymentSize, left)
		if o.podRate > 0 {
			due := began.Add(time.Duration(float64(created.Load()) / o.podRate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		dep := densityDeployment(d.id, d.namespaces[i%len(d.namespaces)], i, int32(replicas))
		if err := d.write(ctx, "POST deployments", func(ctx context.Context) error {
			_, err := d.cs.AppsV1().Deployments(dep.Namespace).Create(ctx, dep, metav1.CreateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("create deployment %s/%s: %w", dep.Namespace, dep.Name, err)
		}
		created.Add(int64(replicas))
		left -= replicas
	}
	return nil
}

// densityDeployment is one Deployment of the pods phase: pause containers
// with small requests, so nodes fill by pod count, not by CPU.
func densityDeployment(runID, ns string, i int, replicas int32) *appsv1.Deployment {
	zero, no := int64(0), false
	app := fmt.Sprintf("d%05d", i)
	labels := map[string]string{densityRunLabel: runID, "app": app}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns, Labels: map[string]string{densityRunLabel: runID}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &zero,
					AutomountServiceAccountToken:  &no,
					Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("10m"),
							corev1.ResourceMemory: resource.MustParse("16Mi"),
						}}}},
				},
			},
		},
	}
}

func (d *densityRun) objectsPhase(ctx context.Context) bool {
	o := d.o
	intro := fmt.Sprintf("ConfigMaps, Secrets and headless Services until %d objects, %g writes/s, %d workers", o.objects, o.qps, o.workers)
	return d.phase(ctx, lab.PhaseObjects, intro, func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, o.phaseTimeout)
		defer cancel()
		count, err := d.count(ctx, lab.PhasePods)
		if err != nil {
			return "no count", err
		}
		// Objects also come and go on their own (events expire), so count
		// again after each round of writes.
		for round := 1; count < o.objects; round++ {
			if round > 3 {
				return fmt.Sprintf("%d of %d objects", count, o.objects), fmt.Errorf("still %d objects short after 3 rounds of writes", o.objects-count)
			}
			if err := d.createFillers(ctx, o.objects-count, count); err != nil {
				return fmt.Sprintf("about %d of %d objects", count+d.fillers.Load(), o.objects), err
			}
			if count, err = d.count(ctx, lab.PhaseObjects); err != nil {
				return "no count", err
			}
		}
		return fmt.Sprintf("%d objects (target %d)", count, o.objects), nil
	})
}

// count takes an object count through the API and keeps it.
func (d *densityRun) count(ctx context.Context, phase string) (int64, error) {
	d.con.Progress("counting objects through the API ...")
	countObjects := d.countObjects
	if countObjects == nil {
		countObjects = func(ctx context.Context) (lab.ObjectCount, error) {
			return lab.CountObjects(ctx, d.cs.Discovery(), d.md, d.calls)
		}
	}
	c, err := countObjects(ctx)
	if err != nil {
		return 0, err
	}
	c.At, c.Phase = time.Now(), phase
	d.in.Counts = append(d.in.Counts, c)
	fmt.Fprintf(d.con, "  %d objects in the cluster (%d types)\n", c.Total, len(c.ByResource))
	return c.Total, nil
}

// createFillers writes n small objects with --workers workers, paced at
// --qps; have is the count before, for the progress line.
func (d *densityRun) createFillers(ctx context.Context, n, have int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := d.fillers.Load()
	end := start + n
	var done atomic.Int64
	var wg sync.WaitGroup
	for range d.o.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := d.fillers.Add(1) - 1
				if i >= end {
					return
				}
				if err := d.createFiller(ctx, i); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	began := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		el := time.Since(began)
		k := done.Load()
		d.con.Progress(fmt.Sprintf("objects: ~%d/%d | writing %d/%d at %.0f/s | pods Running %d | %s elapsed | ETA %s",
			have+k, d.o.objects, k, n, float64(k)/max(el.Seconds(), 0.001), d.pods.Current().Running, el.Round(time.Second), etaByRate(int(k), int(n), el)))
		if err := d.memoryLeft(); err != nil {
			cancel(err)
		}
		select {
		case <-finished:
			// Indexes handed out but not written leave no gap that
			// matters: names only need to be unique.
			d.fillers.Store(max(d.fillers.Load(), end))
			if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%d of %d objects written: %w", done.Load(), n, ctx.Err())
			}
			return nil
		case <-tick.C:
		}
	}
}

// createFiller writes filler i: a ConfigMap, a Secret or a headless
// Service without selector (no IP, no endpoints: nothing else follows
// from it), in turn, spread over the namespaces.
func (d *densityRun) createFiller(ctx context.Context, i int64) error {
	ns := d.namespaces[int(i)%len(d.namespaces)]
	meta := metav1.ObjectMeta{Name: fmt.Sprintf("f%08d", i), Namespace: ns, Labels: map[string]string{densityRunLabel: d.id}}
	switch i % fillerKinds {
	case 0:
		cm := &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"config": fmt.Sprintf("key=%d\nmode=density\n", i)}}
		return d.write(ctx, "POST configmaps", func(ctx context.Context) error {
			_, err := d.cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			return err
		})
	case 1:
		s := &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"token": []byte(fmt.Sprintf("%032x", i))}}
		return d.write(ctx, "POST secrets", func(ctx context.Context) error {
			_, err := d.cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
			return err
		})
	default:
		svc := &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
		return d.write(ctx, "POST services", func(ctx context.Context) error {
			_, err := d.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
			return err
		})
	}
}

func (d *densityRun) holdPhase(ctx context.Context) bool {
	hold := d.o.cluster.duration
	return d.phase(ctx, lab.PhaseHold, fmt.Sprintf("holding the size for %s", hold), func(ctx context.Context) (string, error) {
		began := time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		minRunning := d.pods.Current().Running
		for {
			el := time.Since(began)
			cur := d.pods.Current()
			minRunning = min(minRunning, cur.Running)
			ready := "-"
			if d.in.Ready != nil {
				ready = strconv.Itoa(d.in.Ready.Current().Ready)
			}
			d.con.Progress(fmt.Sprintf("hold: %s elapsed, ETA %s | pods Running %d/%d | nodes Ready %s | API %s",
				el.Round(time.Second), (hold - el).Round(time.Second), cur.Running, d.o.pods, ready, lastVerbP99(d.api.Points())))
			reached := fmt.Sprintf("held %s; pods Running at least %d", el.Round(time.Second), minRunning)
			if el >= hold {
				_, err := d.count(ctx, lab.PhaseHold)
				return reached, err
			}
			if err := d.memoryLeft(); err != nil {
				return reached, err
			}
			select {
			case <-ctx.Done():
				return reached, ctx.Err()
			case <-tick.C:
			}
		}
	})
}

// probe times a few cheap calls of every SLO kind, once per interval: a
// steady sample of what any client would see, whatever the phase.
func (d *densityRun) probe(ctx context.Context) {
	t := time.NewTicker(d.o.probeInterval)
	defer t.Stop()
	cms := d.cs.CoreV1().ConfigMaps(d.probeNS)
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n++
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
			_, err := d.cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: densityRunLabel + "=" + d.id})
			return err
		})
	}
}

// write paces and times one write, retrying what the API server asks to
// retry (throttling, timeouts, unavailability); AlreadyExists means an
// earlier attempt got through.
func (d *densityRun) write(ctx context.Context, call string, f func(context.Context) error) error {
	var err error
	for attempt := range 5 {
		if err = d.writes.Wait(ctx); err != nil {
			return err
		}
		err = d.calls.Time(call, func() error { return f(ctx) })
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(200<<attempt) * time.Millisecond):
		}
	}
	return err
}

func retryable(err error) bool {
	var ne net.Error
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || errors.As(err, &ne)
}

// memoryLeft fails when the machine's available memory is below
// --min-available-memory: better a report that says so than the kernel's
// OOM killer choosing a victim.
func (d *densityRun) memoryLeft() error {
	if d.o.minAvailBytes == 0 {
		return nil
	}
	avail, ok := memAvailable()
	if ok && avail < d.o.minAvailBytes {
		return fmt.Errorf("the machine has %s of memory available, below --min-available-memory %s", bytesText(avail), d.o.minAvailable)
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

// stopRecording stops the probe, the watches and the recorders, and puts
// what they recorded into d.in.
func (d *densityRun) stopRecording() {
	if d.stopBg != nil {
		d.stopBg()
	}
	d.bg.Wait()
	d.in.StoppedAt = time.Now()
	if d.rec != nil {
		d.rec.finish()
		d.in.Procs = d.rec.in.Procs
	} else if d.ownProcs != nil {
		d.in.Procs = d.ownProcs.Series()
	}
	d.in.Pods, d.in.Client = d.pods, d.calls
	if d.api != nil {
		d.in.ChartPoints, d.in.ScrapeErrors = d.api.Points(), d.api.Errors()
	}
}

// etaByRate extrapolates the rate so far to the rest.
func etaByRate(done, total int, elapsed time.Duration) string {
	if done <= 0 || done >= total {
		return "-"
	}
	return (time.Duration(float64(elapsed) / float64(done) * float64(total-done))).Round(time.Second).String()
}

func secondsOrDash(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2fs", v)
}

func podRateText(r float64) string {
	if r == 0 {
		return "all at once"
	}
	return fmt.Sprintf("%g pods/s", r)
}

// lastVerbP99 is the last interval's p99 of each verb, e.g. "p99 GET 4ms
// PATCH 12ms".
func lastVerbP99(points []lab.APIPoint) string {
	if len(points) == 0 {
		return "p99 -"
	}
	last := points[len(points)-1].VerbP99
	var b strings.Builder
	b.WriteString("p99")
	for _, verb := range []string{"GET", "LIST", "POST", "PUT", "PATCH", "DELETE"} {
		if v, ok := last[verb]; ok {
			fmt.Fprintf(&b, " %s %.0fms", verb, v*1000)
		}
	}
	return b.String()
}

func bytesText(b int64) string {
	return resource.NewQuantity(b, resource.BinarySI).String()
}

func densityParameters(o densityOptions, dataDir, id string) map[string]string {
	mode := "cluster started by the bench (myriad up, kube-scheduler), data in " + dataDir
	if o.kubeconfig != "" {
		mode = "existing cluster (--kubeconfig " + o.kubeconfig + ")"
	}
	return map[string]string{
		"nodes":              strconv.Itoa(o.cluster.nodes),
		"pods":               strconv.Itoa(o.pods),
		"objects":            strconv.FormatInt(o.objects, 10),
		"deployments":        fmt.Sprintf("%d of up to %d replicas", o.deployments, o.deploymentSize),
		"namespaces":         strconv.Itoa(o.namespaces),
		"pod":                "1 pause container, requests cpu 10m / memory 16Mi, no service account token",
		"podRate":            podRateText(o.podRate),
		"objectWrites":       fmt.Sprintf("%g/s, %d workers: ConfigMaps, Secrets, headless Services in turn", o.qps, o.workers),
		"hold":               o.cluster.duration.String(),
		"cluster":            mode,
		"apiservers":         strconv.Itoa(o.cluster.apiservers),
		"phaseTimeout":       o.phaseTimeout.String(),
		"stallTimeout":       o.stallTimeout.String(),
		"probeInterval":      o.probeInterval.String(),
		"scrapeInterval":     o.cluster.scrapeInterval.String(),
		"sampleInterval":     o.cluster.sampleInterval.String(),
		"minAvailableMemory": o.minAvailable,
		"runID":              id,
		"command":            strings.Join(os.Args, " "),
	}
}

func printDensitySummary(out io.Writer, r *lab.DensityResult) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\treached\ttarget")
	for _, row := range lab.DensitySummaryRows(r) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(out, err)
	}
	for _, p := range r.Processes {
		fmt.Fprintf(out, "  %-24s RSS max %7.1f MiB  CPU %7.1fs = %.2f cores\n", p.Name, float64(p.RSSMaxBytes)/(1<<20), p.CPUSeconds, p.Cores)
	}
	for _, reason := range r.Verdict.Reasons {
		fmt.Fprintf(out, "  fail: %s\n", lab.OneLine(reason, 600))
	}
	for _, w := range r.Verdict.Warnings {
		fmt.Fprintf(out, "  note: %s\n", w)
	}
}
