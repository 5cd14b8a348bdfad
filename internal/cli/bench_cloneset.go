package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/manager"
)

const (
	cloneSetBenchName      = "bench"
	cloneSetBenchContainer = "app"
	// cloneSetNodePods is `myriad nodes`' default pods capacity per node.
	cloneSetNodePods = 110
)

// cloneSetBenchImages are distinct, pullable images, so that the run also
// works on real nodes: each phase moves every pod to the next one.
var cloneSetBenchImages = []string{"registry.k8s.io/pause:3.7", "registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10"}

type cloneSetBenchOptions struct {
	cluster        soakOptions
	pods           int
	maxUnavailable string
	kubeconfig     string
	phaseTimeout   time.Duration
	rollouts       []string
	images         []string
	nodeCapacity   string
}

func newBenchCloneSetCommand() *cobra.Command {
	var o cloneSetBenchOptions
	cmd := &cobra.Command{
		Use:   "cloneset",
		Short: "Scale a CloneSet to P pods, then time image rollouts in place vs ReCreate on it",
		Long: `Start a cluster of --nodes simulated nodes (as 'myriad up' does, with the
CloneSet controller), or with --kubeconfig use an existing cluster that has the
CloneSet CRD and 'myriad manager' running, then run phases on one CloneSet:

  1 scale     create the CloneSet (InPlaceIfPossible, --max-unavailable) with
              --pods replicas
  then, per --rollouts (default in-place, recreate, in-place):
  in-place    change the image with updateStrategy.type InPlaceIfPossible
  recreate    change the image with updateStrategy.type ReCreate

Each phase is timed from its write to the pod-watch event after which every
pod is Running, Ready (InPlaceUpdateReady not False) and runs the phase's
image, with the CloneSet's status agreeing. Recorded per phase: pods over
time, per-pod latency, pods recreated or restarted in place, the most pods
unavailable at once, API requests served (apiserver_request_total before and
after), the manager's own counters, and CPU and RSS of every process.
Writes result.json and report.html to --out and exits non-zero unless every
phase finished within --phase-timeout with in-place rollouts keeping every pod,
ReCreate replacing every pod, and maxUnavailable never exceeded.`,
		Example: `  myriad bench cloneset --nodes 1000 --pods 10000 --out /tmp/cloneset-10k
  myriad bench cloneset --nodes 20 --pods 200 --out /tmp/cloneset-small
  myriad bench cloneset --kubeconfig ~/.kube/config --pods 2000 --out /tmp/cloneset-existing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.kubeconfig != "" && !cmd.Flags().Changed("nodes") {
				o.cluster.nodes = 0 // an existing cluster: any number of nodes
			}
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			return runCloneSetBench(cmd, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.cluster.nodes, "nodes", 1000, "simulated nodes to start (with --kubeconfig: the fewest Ready nodes required; any when not given)")
	f.IntVar(&o.pods, "pods", 10000, "replicas of the CloneSet")
	f.StringVar(&o.maxUnavailable, "max-unavailable", "20%", "updateStrategy.maxUnavailable of the CloneSet: a number of pods or a percentage of --pods")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "measure the cluster of this kubeconfig (CloneSet CRD and 'myriad manager' installed) instead of starting one")
	f.DurationVar(&o.phaseTimeout, "phase-timeout", 20*time.Minute, "longest each phase may take")
	f.StringSliceVar(&o.rollouts, "rollouts", []string{lab.CloneSetInPlace, lab.CloneSetRecreate, lab.CloneSetInPlace}, "rollouts after the scale-up, in order: in-place, recreate")
	f.StringSliceVar(&o.images, "images", cloneSetBenchImages, "container images, one per phase (the scale-up's first), all different")
	f.StringVar(&o.nodeCapacity, "node-capacity", "", "capacity of each simulated node, e.g. cpu=32,memory=256Gi,pods=110 (default as 'myriad nodes')")
	f.StringVar(&o.cluster.out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	f.StringVar(&o.cluster.dataDir, "data-dir", "", "cluster data directory (default OUT/cluster, which must not exist yet)")
	addClusterFlags(cmd, &o.cluster)
	// Metrics are scraped at phase boundaries, not on an interval.
	_ = f.MarkHidden("scrape-interval")
	return cmd
}

func (o cloneSetBenchOptions) validate() error {
	c := o.cluster
	if err := validateClusterFlags(c); err != nil {
		return err
	}
	switch {
	case o.pods < 1 || o.pods > 1_000_000:
		return fmt.Errorf("--pods must be between 1 and 1000000, got %d", o.pods)
	case o.kubeconfig == "" && c.nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", c.nodes)
	case c.nodes < 0:
		return fmt.Errorf("--nodes must not be negative, got %d", c.nodes)
	case o.kubeconfig != "" && c.dataDir != "":
		return errors.New("--data-dir is for a cluster the bench starts; with --kubeconfig there is none")
	case o.kubeconfig != "" && o.nodeCapacity != "":
		return errors.New("--node-capacity is for the simulated nodes the bench starts; with --kubeconfig there are none")
	case o.phaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.phaseTimeout)
	}
	if _, err := o.maxUnavailablePods(); err != nil {
		return err
	}
	for _, r := range o.rollouts {
		if r != lab.CloneSetInPlace && r != lab.CloneSetRecreate {
			return fmt.Errorf("--rollouts: unknown rollout %q (use %s or %s)", r, lab.CloneSetInPlace, lab.CloneSetRecreate)
		}
	}
	if len(o.images) < 1+len(o.rollouts) {
		return fmt.Errorf("--images must name %d images (the scale-up and %d rollouts), got %d", 1+len(o.rollouts), len(o.rollouts), len(o.images))
	}
	for i, img := range o.images[:1+len(o.rollouts)] {
		if strings.TrimSpace(img) == "" {
			return fmt.Errorf("--images: image %d is empty", i+1)
		}
		if slices.Contains(o.images[:i], img) {
			return fmt.Errorf("--images: %q is named twice; each phase needs an image the one before did not run", img)
		}
	}
	if o.kubeconfig == "" {
		perNode := int64(cloneSetNodePods)
		if o.nodeCapacity != "" {
			capacity, err := parseCapacity(o.nodeCapacity)
			if err != nil {
				return fmt.Errorf("--node-capacity: %w", err)
			}
			q, ok := capacity[corev1.ResourcePods]
			if !ok {
				return errors.New("--node-capacity must include pods=N: a node without it takes no pods")
			}
			perNode = q.Value()
		}
		if int64(o.pods) > int64(c.nodes)*perNode {
			return fmt.Errorf("--pods %d do not fit on --nodes %d with %d pods each; add nodes or raise pods= in --node-capacity", o.pods, c.nodes, perNode)
		}
	}
	return nil
}

// maxUnavailablePods resolves --max-unavailable as the controller does:
// a percentage of replicas rounded down.
func (o cloneSetBenchOptions) maxUnavailablePods() (int, error) {
	v, err := cloneSetMaxUnavailable(o.maxUnavailable)
	if err != nil {
		return 0, err
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, o.pods, false)
	if err != nil {
		return 0, fmt.Errorf("--max-unavailable: %w", err)
	}
	if n < 1 {
		return 0, fmt.Errorf("--max-unavailable %s of %d pods is 0: a rollout without surge could never start; give at least 1 pod", o.maxUnavailable, o.pods)
	}
	return n, nil
}

func cloneSetMaxUnavailable(s string) (intstr.IntOrString, error) {
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(pct)
		if err != nil || n < 0 || n > 100 {
			return intstr.IntOrString{}, fmt.Errorf("--max-unavailable must be a number of pods or a percentage from 0%% to 100%%, got %q", s)
		}
		return intstr.FromString(s), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return intstr.IntOrString{}, fmt.Errorf("--max-unavailable must be a number of pods or a percentage from 0%% to 100%%, got %q", s)
	}
	return intstr.FromInt32(int32(min(n, 1<<30))), nil
}

// cloneSetBench is one run of the scenario.
type cloneSetBench struct {
	o    cloneSetBenchOptions
	con  *lab.Console
	rec  *recordedCluster // the cluster the bench started; nil with --kubeconfig
	self *lab.ProcSampler // with --kubeconfig: the bench's own process
	cs   kubernetes.Interface
	c    client.WithWatch
	ns   string
	pods *lab.CloneSetPods
	// apis are the API servers' metrics; mgr the manager's (nil when out
	// of reach).
	apis []*lab.Scraper
	mgr  *lab.Scraper
	gen  int64 // the CloneSet's generation after the bench's last write
	// bgCtx runs the watches and the sampling until stopBg; bg joins them.
	bgCtx  context.Context
	stopBg context.CancelFunc
	bg     sync.WaitGroup
	in     lab.CloneSetBenchInput
}

func runCloneSetBench(cmd *cobra.Command, o cloneSetBenchOptions) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	outDir, closeLog, err := prepareOut(o.cluster.out)
	if err != nil {
		return err
	}
	defer closeLog()
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
	maxUnavail, _ := o.maxUnavailablePods()
	b := &cloneSetBench{o: o, con: lab.NewConsole(out), ns: "myriad-bench-cloneset-" + strconv.FormatUint(rand.Uint64()%(36*36*36*36), 36)}
	b.in = lab.CloneSetBenchInput{Nodes: o.cluster.nodes, Pods: o.pods, MaxUnavailable: o.maxUnavailable, MaxUnavailablePods: maxUnavail}
	b.in.Info = lab.NewRunInfo("cloneset", lab.ThisMachine(controlplane.KubernetesVersion), cloneSetParameters(o, dataDir, b.ns, maxUnavail), time.Now())
	b.bgCtx, b.stopBg = context.WithCancel(context.Background())

	if err := b.run(ctx, dataDir); err != nil {
		b.con.EndProgress()
		b.in.Info.StoppedEarly = err.Error()
		fmt.Fprintf(out, "stopped: %s\n", lab.OneLine(err.Error(), 300))
	}
	b.stopBg()
	b.bg.Wait()
	b.in.Info.FinishedAt = time.Now()
	var procs map[string][]lab.ProcSample
	switch {
	case b.rec != nil:
		b.rec.finish()
		procs = b.rec.in.Procs
	case b.self != nil:
		procs = b.self.Series()
	}
	b.in.Info.SetProcesses(procs, b.in.Info.StartedAt, b.in.Info.FinishedAt)
	res := lab.BuildCloneSetBenchResult(b.in)
	path, werr := lab.WriteCloneSetBenchReport(outDir, res)
	b.cleanup(out, dataDir)
	if werr != nil {
		return fmt.Errorf("write report to %s: %w", outDir, werr)
	}
	printCloneSetSummary(out, res)
	if err := finishLab(out, path, res.Verdict); err != nil {
		return err
	}
	fmt.Fprintln(out, "PASS: every phase finished; in-place rollouts kept every pod, ReCreate replaced every pod, maxUnavailable held")
	return nil
}

// run starts or reaches the cluster and runs the phases; an error says
// which step stopped the run.
func (b *cloneSetBench) run(ctx context.Context, dataDir string) error {
	o := b.o
	kubeconfig := o.kubeconfig
	if kubeconfig == "" {
		fmt.Fprintf(b.con, "starting a cluster of %d nodes in %s\n", o.cluster.nodes, dataDir)
		var nodeArgs []string
		if o.nodeCapacity != "" {
			nodeArgs = []string{"--capacity", o.nodeCapacity}
		}
		b.rec = startRecordedCluster(ctx, o.cluster, dataDir, nodeArgs, b.con, func(r lab.ReadyPoint, el time.Duration) string {
			return fmt.Sprintf("starting: %d/%d nodes Ready | %s elapsed", r.Ready, o.cluster.nodes, el.Round(time.Second))
		})
		if b.rec.cluster == nil {
			return fmt.Errorf("starting the cluster: %w", b.rec.in.StartupErr)
		}
		b.in.StartupSeconds = ptr.To(time.Since(b.in.Info.StartedAt).Seconds())
		b.in.ClusterSampled = true
		fmt.Fprintf(b.con, "all %d nodes Ready after %s\n", o.cluster.nodes, time.Since(b.in.Info.StartedAt).Round(time.Second))
		kubeconfig = b.rec.cluster.Plan.Dir.AdminKubeconfig()
	}
	if err := b.connect(kubeconfig); err != nil {
		return err
	}
	if err := b.preflight(ctx); err != nil {
		return err
	}
	if err := b.watch(ctx); err != nil {
		return err
	}
	kinds := append([]string{lab.CloneSetScale}, o.rollouts...)
	for i, kind := range kinds {
		p, err := b.phase(ctx, i, len(kinds), kind)
		b.in.Phases = append(b.in.Phases, p)
		if err != nil {
			for j := i + 1; j < len(kinds); j++ {
				b.in.Skipped = append(b.in.Skipped, fmt.Sprintf("phase %d (%s): phase %d did not finish", j+1, kinds[j], i+1))
			}
			return fmt.Errorf("phase %d (%s): %w", i+1, kind, err)
		}
		if i+1 < len(kinds) {
			b.settle(ctx)
		}
	}
	return nil
}

// connect builds the clients and the metrics scrapers.
func (b *cloneSetBench) connect(kubeconfig string) error {
	rc, err := restConfig(kubeconfig)
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst, rc.UserAgent = 100, 200, "myriad-bench-cloneset"
	rc.Timeout = time.Minute
	scheme, err := manager.Scheme()
	if err != nil {
		return err
	}
	// controller-runtime's client logs through its own logger; send it
	// where klog goes (bench.log), not to a warning on the terminal.
	ctrllog.SetLogger(klog.NewKlogr())
	// CloneSets are JSON (CRDs have no protobuf); pods go over protobuf.
	if b.c, err = client.NewWithWatch(rc, client.Options{Scheme: scheme}); err != nil {
		return fmt.Errorf("CloneSet client: %w", err)
	}
	pb := rest.CopyConfig(rc)
	pb.ContentType = "application/vnd.kubernetes.protobuf"
	pb.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if b.cs, err = kubernetes.NewForConfig(pb); err != nil {
		return err
	}
	if b.rec != nil {
		t, err := soakTargets(b.rec.cluster.Plan, b.rec.metricsPort)
		if err != nil {
			fmt.Fprintf(b.con, "warning: %v; figures from that endpoint will be absent\n", err)
		}
		b.apis = t.APIServers
		if b.mgr, err = lab.NewScraper("myriad-manager", fmt.Sprintf("http://127.0.0.1:%d/metrics", b.rec.cluster.Plan.ManagerMetricsPort), "", "", ""); err != nil {
			return err
		}
		return nil
	}
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	b.apis = []*lab.Scraper{{Name: "kube-apiserver", URL: strings.TrimSuffix(rc.Host, "/") + "/metrics", Client: hc}}
	self := os.Getpid()
	b.self = &lab.ProcSampler{Clock: clock.RealClock{}, Interval: b.o.cluster.sampleInterval, Pids: func() map[string]int { return map[string]int{"bench": self} }}
	b.bg.Go(func() { b.self.Run(b.bgCtx) })
	b.in.Notes = append(b.in.Notes, "Existing cluster (--kubeconfig): API requests were scraped from the API server's /metrics through the kubeconfig (behind a load balancer, from whichever API server answered); "+
		"the manager's metrics and the cluster's processes were out of reach, so only the bench's own process was sampled.")
	return nil
}

// preflight checks what the phases need: the CloneSet API, room for the
// pods (on an existing cluster) and the namespace with its default
// ServiceAccount, without which pods are rejected at admission.
func (b *cloneSetBench) preflight(ctx context.Context) error {
	err := b.c.List(ctx, &v1alpha1.CloneSetList{}, client.InNamespace("default"), client.Limit(1))
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return errors.New("the cluster has no CloneSet API (apps.kruise.io/v1alpha1): apply config/crd with --server-side and run 'myriad manager'")
	}
	if err != nil {
		return fmt.Errorf("list CloneSets: %w", err)
	}
	if b.o.kubeconfig != "" {
		if err := b.checkNodes(ctx); err != nil {
			return err
		}
		b.checkManager(ctx)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.ns, Labels: map[string]string{"app.kubernetes.io/created-by": "myriad-bench"}}}
	if _, err := b.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", b.ns, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := b.cs.CoreV1().ServiceAccounts(b.ns).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s has no default ServiceAccount after 2m (is the serviceaccount controller running?): %w", b.ns, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// checkNodes makes sure an existing cluster has --nodes Ready nodes and
// room for --pods pods.
func (b *cloneSetBench) checkNodes(ctx context.Context) error {
	ready, room := 0, int64(0)
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := b.cs.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return fmt.Errorf("list nodes: %w", err)
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
			break
		}
		opts.Continue = l.Continue
	}
	switch {
	case ready < b.o.cluster.nodes:
		return fmt.Errorf("the cluster has %d Ready schedulable nodes; --nodes asks for at least %d", ready, b.o.cluster.nodes)
	case room < int64(b.o.pods):
		return fmt.Errorf("the cluster's %d Ready nodes take %d pods in all; --pods asks for %d", ready, room, b.o.pods)
	}
	b.in.Nodes = ready
	return nil
}

// checkManager warns when no manager holds its Lease: the CloneSet would
// never get pods and the first phase would only time out.
func (b *cloneSetBench) checkManager(ctx context.Context) {
	l, err := b.cs.CoordinationV1().Leases("kube-system").Get(ctx, manager.LeaderElectionID, metav1.GetOptions{})
	if err != nil {
		fmt.Fprintf(b.con, "warning: no Lease kube-system/%s (%v): is 'myriad manager' running? The scale-up will time out without it\n", manager.LeaderElectionID, err)
		return
	}
	if l.Spec.RenewTime == nil || time.Since(l.Spec.RenewTime.Time) > time.Minute {
		fmt.Fprintf(b.con, "warning: Lease kube-system/%s was not renewed in the last minute: is 'myriad manager' running?\n", manager.LeaderElectionID)
	}
}

// watch starts the pod informer and the CloneSet watch that decide when a
// phase is done, and returns once both have synced.
func (b *cloneSetBench) watch(ctx context.Context) error {
	b.pods = lab.NewCloneSetPods(cloneSetBenchContainer, clock.RealClock{})
	factory := informers.NewSharedInformerFactoryWithOptions(b.cs, 0, informers.WithNamespace(b.ns))
	podInf := factory.Core().V1().Pods().Informer()
	// 10^4 pods: keep what the tracker reads, not every pod's managedFields.
	if err := podInf.SetTransform(func(obj any) (any, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			p.ManagedFields = nil
		}
		return obj, nil
	}); err != nil {
		return err
	}
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { b.observePod(obj) },
		UpdateFunc: func(_, obj any) { b.observePod(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				b.pods.Delete(p.UID)
			}
		},
	}); err != nil {
		return err
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			l := &v1alpha1.CloneSetList{}
			return l, b.c.List(ctx, l, client.InNamespace(b.ns), &client.ListOptions{Raw: &opts})
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return b.c.Watch(ctx, &v1alpha1.CloneSetList{}, client.InNamespace(b.ns), &client.ListOptions{Raw: &opts})
		},
	}
	csInf := cache.NewSharedIndexInformer(lw, &v1alpha1.CloneSet{}, 0, cache.Indexers{})
	observe := func(obj any) {
		if cs, ok := obj.(*v1alpha1.CloneSet); ok && cs.Name == cloneSetBenchName {
			s := cs.Status
			b.pods.ObserveStatus(lab.CloneSetStatusView{Generation: cs.Generation, ObservedGeneration: s.ObservedGeneration,
				Replicas: s.Replicas, ReadyReplicas: s.ReadyReplicas, UpdatedReplicas: s.UpdatedReplicas, UpdatedReady: s.UpdatedReadyReplicas})
		}
	}
	if _, err := csInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}); err != nil {
		return err
	}
	factory.Start(b.bgCtx.Done())
	b.bg.Go(func() {
		<-b.bgCtx.Done()
		factory.Shutdown()
	})
	b.bg.Go(func() { csInf.RunWithContext(b.bgCtx) })
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), podInf.HasSynced, csInf.HasSynced) {
		return errors.New("the pod and CloneSet watches did not sync within 2m")
	}
	return nil
}

func (b *cloneSetBench) observePod(obj any) {
	if p, ok := obj.(*corev1.Pod); ok {
		b.pods.Upsert(p)
	}
}

// phase runs one phase: the write, then the wait until the pods and the
// status say it is done, with API and manager counters and process
// samples taken on both sides.
func (b *cloneSetBench) phase(ctx context.Context, i, total int, kind string) (lab.CloneSetPhaseInput, error) {
	image := b.o.images[i]
	p := lab.CloneSetPhaseInput{Kind: kind, Image: image, Want: b.o.pods}
	what := fmt.Sprintf("creating a CloneSet of %d pods running %s", b.o.pods, image)
	if kind != lab.CloneSetScale {
		what = fmt.Sprintf("changing the image of %d pods to %s", b.o.pods, image)
	}
	fmt.Fprintf(b.con, "== phase %d/%d: %s — %s\n", i+1, total, kind, what)
	before := b.snapshot(ctx)
	machineFrom, machineErr := lab.ReadMachineCPU("")
	p.ProcFrom, _ = b.sampleProcs()
	var err error
	p.Start, err = b.write(ctx, kind, image)
	p.WriteSeconds = time.Since(p.Start).Seconds()
	if err == nil {
		err = b.wait(ctx, i+1, total, kind, p.Start)
	}
	p.End = time.Now()
	b.con.EndProgress()
	p.Pods = b.pods.End()
	_, p.ProcTo = b.sampleProcs()
	if machineTo, err := lab.ReadMachineCPU(""); err == nil && machineErr == nil {
		p.MachineCPUSeconds = ptr.To(machineTo - machineFrom)
	}
	after := b.snapshot(ctx)
	if before.api != nil && after.api != nil {
		p.API = after.api.Since(*before.api)
	}
	if before.mgr != nil && after.mgr != nil {
		p.Manager = lab.CounterDelta(before.mgr, after.mgr)
	}
	if err != nil {
		p.Err = err.Error()
		return p, err
	}
	d := p.Pods.DoneAt.Sub(p.Start)
	fmt.Fprintf(b.con, "  done in %.1fs (%.0f pods/s): %d pods recreated, %d restarted in place, at most %d unavailable\n",
		d.Seconds(), float64(b.o.pods)/d.Seconds(), p.Pods.Recreated, p.Pods.RestartedInPlace, p.Pods.MaxUnavailable)
	return p, nil
}

// write makes the phase's change and returns when it was sent: the
// tracker's phase begins just before the request that changes the spec.
func (b *cloneSetBench) write(ctx context.Context, kind, image string) (time.Time, error) {
	var start time.Time
	if kind == lab.CloneSetScale {
		cs := b.cloneSet(image)
		start = b.pods.Begin(image, b.o.pods, 1)
		if err := b.c.Create(ctx, cs); err != nil {
			return start, fmt.Errorf("create CloneSet %s/%s: %w", b.ns, cloneSetBenchName, err)
		}
		b.gen = cs.Generation
		return start, nil
	}
	typ := v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType
	if kind == lab.CloneSetRecreate {
		typ = v1alpha1.RecreateCloneSetUpdateStrategyType
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cs := &v1alpha1.CloneSet{}
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: b.ns, Name: cloneSetBenchName}, cs); err != nil {
			return err
		}
		cs.Spec.UpdateStrategy.Type = typ
		cs.Spec.Template.Spec.Containers[0].Image = image
		if start.IsZero() {
			// Generation only grows, so any status of at least the next one
			// has seen this change.
			start = b.pods.Begin(image, b.o.pods, cs.Generation+1)
		}
		if err := b.c.Update(ctx, cs); err != nil {
			return err
		}
		b.gen = cs.Generation
		return nil
	})
	if start.IsZero() {
		start = time.Now()
	}
	if err != nil {
		return start, fmt.Errorf("update CloneSet %s/%s: %w", b.ns, cloneSetBenchName, err)
	}
	return start, nil
}

// cloneSet is the benchmark's CloneSet: small requests so that --pods fit,
// updated in place when only its image changes.
func (b *cloneSetBench) cloneSet(image string) *v1alpha1.CloneSet {
	labels := map[string]string{"app": "myriad-bench-cloneset"}
	mu, _ := cloneSetMaxUnavailable(b.o.maxUnavailable)
	return &v1alpha1.CloneSet{
		ObjectMeta: metav1.ObjectMeta{Name: cloneSetBenchName, Namespace: b.ns},
		Spec: v1alpha1.CloneSetSpec{
			Replicas: ptr.To(int32(b.o.pods)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr.To(false),
					Containers: []corev1.Container{{Name: cloneSetBenchContainer, Image: image,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("10m"),
							corev1.ResourceMemory: resource.MustParse("16Mi"),
						}}}},
				},
			},
			UpdateStrategy: v1alpha1.CloneSetUpdateStrategy{Type: v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType, MaxUnavailable: &mu},
		},
	}
}

// wait samples the pods every second (the phase's series and the progress
// line) until the tracker says the phase is done, the phase times out or
// the run is interrupted.
func (b *cloneSetBench) wait(ctx context.Context, order, total int, kind string, start time.Time) error {
	done := b.pods.Done()
	timeout := time.NewTimer(time.Until(start.Add(b.o.phaseTimeout)))
	defer timeout.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("interrupted after %s", time.Since(start).Round(time.Second))
		case <-timeout.C:
			c := b.pods.Counts()
			return fmt.Errorf("not done within --phase-timeout %s: %d of %d pods updated, %d available, %d live, %d terminating",
				b.o.phaseTimeout, c.Updated, b.o.pods, c.Available, c.Live, c.Terminating)
		case <-tick.C:
			c := b.pods.Sample()
			el := time.Since(start)
			rate := float64(c.Updated) / max(el.Seconds(), 0.001)
			eta := "-"
			if c.Updated > 0 && c.Updated < b.o.pods {
				eta = (time.Duration(float64(b.o.pods-c.Updated) / rate * float64(time.Second))).Round(time.Second).String()
			}
			b.con.Progress(fmt.Sprintf("phase %d/%d %s: updated %d/%d | available %d | live %d | terminating %d | %.0f pods/s | %s | ETA %s",
				order, total, kind, c.Updated, b.o.pods, c.Available, c.Live, c.Terminating, rate, el.Round(time.Second), eta))
		}
	}
}

// settle waits (untimed, at most two minutes) until pods deleted by the
// phase are gone, so that the next phase's requests and counts are its own.
func (b *cloneSetBench) settle(ctx context.Context) {
	deadline := time.Now().Add(2 * time.Minute)
	for b.pods.Counts().Terminating > 0 && time.Now().Before(deadline) {
		b.con.Progress(fmt.Sprintf("waiting for %d terminating pods to go before the next phase", b.pods.Counts().Terminating))
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	b.con.EndProgress()
}

// sampleProcs samples every process now, so that a phase's CPU and RSS
// figures have a sample at each end however short the phase. The samples
// are stamped between before and after.
func (b *cloneSetBench) sampleProcs() (before, after time.Time) {
	before = time.Now()
	switch {
	case b.rec != nil:
		b.rec.procs.SampleOnce()
	case b.self != nil:
		b.self.SampleOnce()
	}
	return before, time.Now()
}

// cloneSetSnapshot is the counters at a phase boundary; nil when a scrape
// failed.
type cloneSetSnapshot struct {
	api *lab.APIRequestTally
	mgr map[string]float64
}

// snapshot scrapes the API servers and the manager. It runs even when the
// run was interrupted: the phase that stopped is reported too.
func (b *cloneSetBench) snapshot(ctx context.Context) cloneSetSnapshot {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var s cloneSetSnapshot
	var fams []lab.Families
	for _, sc := range b.apis {
		f, err := sc.Scrape(ctx)
		if err != nil {
			b.in.ScrapeErrors = append(b.in.ScrapeErrors, err.Error())
			fams = nil
			break
		}
		fams = append(fams, f)
	}
	if len(fams) > 0 {
		t := lab.TallyAPIRequests(fams...)
		s.api = &t
	}
	if b.mgr != nil {
		f, err := b.mgr.Scrape(ctx)
		if err != nil {
			b.in.ScrapeErrors = append(b.in.ScrapeErrors, err.Error())
		} else {
			s.mgr = lab.ManagerCounters(f)
		}
	}
	return s
}

// cleanup stops the cluster the bench started, or deletes the namespace it
// made in an existing one.
func (b *cloneSetBench) cleanup(out io.Writer, dataDir string) {
	if b.rec != nil {
		if b.rec.cluster != nil {
			fmt.Fprintln(out, "stopping the cluster ...")
			b.rec.cluster.Stop()
		}
		fmt.Fprintf(out, "cluster data and component logs kept in %s\n", dataDir)
		return
	}
	if b.cs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.cs.CoreV1().Namespaces().Delete(ctx, b.ns, metav1.DeleteOptions{})
	switch {
	case err == nil:
		fmt.Fprintf(out, "deleting namespace %s (its CloneSet and pods go with it)\n", b.ns)
	case !apierrors.IsNotFound(err):
		fmt.Fprintf(out, "could not delete namespace %s: %v; delete it yourself\n", b.ns, err)
	}
}

func cloneSetParameters(o cloneSetBenchOptions, dataDir, ns string, maxUnavail int) map[string]string {
	mode := "own cluster: myriad up with kube-scheduler and myriad-manager, " + strconv.Itoa(o.cluster.apiservers) + " API server(s)"
	if o.kubeconfig != "" {
		mode = "existing cluster (--kubeconfig " + o.kubeconfig + ")"
	}
	capacity := o.nodeCapacity
	if capacity == "" {
		capacity = "myriad nodes default (cpu 32, memory 256Gi, pods 110)"
	}
	phases := append([]string{lab.CloneSetScale}, o.rollouts...)
	p := map[string]string{
		"cluster":        mode,
		"nodes":          strconv.Itoa(o.cluster.nodes),
		"pods":           strconv.Itoa(o.pods),
		"phases":         strings.Join(phases, ", "),
		"images":         strings.Join(o.images[:len(phases)], ", "),
		"maxUnavailable": fmt.Sprintf("%s (%d pods)", o.maxUnavailable, maxUnavail),
		"maxSurge":       "0",
		"pod":            "1 container, requests cpu 10m / memory 16Mi, no service account token",
		"phaseTimeout":   o.phaseTimeout.String(),
		"namespace":      ns,
		"doneWhen":       "every pod Running, Ready, InPlaceUpdateReady not False, with the phase's image (pod watch), and status.updatedReadyReplicas = readyReplicas = replicas for the phase's generation (CloneSet watch)",
		"sampleInterval": o.cluster.sampleInterval.String() + " (and at every phase boundary)",
		"command":        strings.Join(os.Args, " "),
	}
	if o.kubeconfig == "" {
		p["dataDir"] = dataDir
		p["nodeCapacity"] = capacity
		p["nodeMonitorGrace"] = o.cluster.grace.String()
	}
	return p
}

func printCloneSetSummary(out io.Writer, r *lab.CloneSetBenchResult) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	head := []string{""}
	for _, p := range r.Phases {
		head = append(head, lab.CloneSetPhaseName(p))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, row := range lab.CloneSetPhaseRows(r) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	fmt.Fprintln(tw)
	for _, row := range lab.CloneSetComparisonRows(r) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(out, err)
	}
}
