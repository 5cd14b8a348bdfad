package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/supervisor"
)

const (
	benchNamespace     = "myriad-bench-scheduler"
	benchPhaseLabel    = "bench.myriad.dev/phase"
	ceilingSchedName   = "myriad-bench-ceiling"
	benchSchedulerName = "default-scheduler"
)

type schedBenchOptions struct {
	cluster       soakOptions
	pods          int
	phaseTimeout  time.Duration
	createWorkers int
	binders       int
	ceilingEvents bool
	order         string
	myriadArgs    []string
}

func newBenchSchedulerCommand() *cobra.Command {
	var o schedBenchOptions
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Compare Myriad's scheduler with kube-scheduler and the binding ceiling on one cluster",
		Long: `Start one cluster of --nodes simulated nodes with no scheduler, then run phases
on it, by default in the order kube, myriad, ceiling, myriad, kube (the
reverse half cancels drift). Each phase creates --pods identical pods
(cpu 100m, memory 128Mi) before anything schedules them, then:

  kube     starts kube-scheduler (client QPS/burst 5000, leader election off)
  myriad   starts 'myriad scheduler' (leader election off)
  ceiling  binds the pods itself, round-robin to precomputed nodes with
           --binders parallel Binding requests: what the API server accepts;
           with --ceiling-events (the default) it also records the
           Scheduled event per pod that both schedulers record, from as
           many parallel writers, so it is the ceiling of the same writes

and measures from that start until the bench's watch has seen every pod
bound: pods/s, latency percentiles, the scheduler process's CPU seconds and
RSS, and placement quality (feasible placements, spread of per-node CPU
requested). The scheduler is stopped and the pods deleted before the next
phase. Writes result.json and report.html to --out, and exits non-zero
unless every phase bound all its pods within --phase-timeout.`,
		Example: `  myriad bench scheduler --nodes 1000 --pods 5000 --out /tmp/sched-1k`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			return runSchedBench(cmd, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.cluster.nodes, "nodes", 1000, "number of simulated nodes")
	f.IntVar(&o.pods, "pods", 5000, "pods created and scheduled in each phase")
	f.StringVar(&o.cluster.out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	f.StringVar(&o.cluster.dataDir, "data-dir", "", "cluster data directory (default OUT/cluster, which must not exist yet)")
	f.DurationVar(&o.phaseTimeout, "phase-timeout", 10*time.Minute, "longest each step of a phase (create, schedule, delete) may take")
	f.IntVar(&o.createWorkers, "create-workers", 32, "concurrent pod creates (before the scheduler starts)")
	f.IntVar(&o.binders, "binders", 64, "concurrent Binding requests of the ceiling phase")
	f.BoolVar(&o.ceilingEvents, "ceiling-events", true, "the ceiling also records a Scheduled event per pod, as kube-scheduler and Myriad do (false: Bindings only)")
	f.StringVar(&o.order, "order", "kube,myriad,ceiling,myriad,kube", "phases in order, comma-separated: kube, myriad, ceiling")
	f.StringSliceVar(&o.myriadArgs, "myriad-scheduler-args", nil, "extra flags for 'myriad scheduler' (e.g. --sampling=log2,--binders=32)")
	addClusterFlags(cmd, &o.cluster)
	return cmd
}

func (o schedBenchOptions) validate() error {
	c := o.cluster
	switch {
	case c.out == "":
		return errors.New("--out is required: the directory for result.json and report.html")
	case c.nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", c.nodes)
	case o.pods < 1:
		return fmt.Errorf("--pods must be at least 1, got %d", o.pods)
	case o.phaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.phaseTimeout)
	case o.createWorkers < 1 || o.createWorkers > 1024:
		return fmt.Errorf("--create-workers must be between 1 and 1024, got %d", o.createWorkers)
	case o.binders < 1 || o.binders > 1024:
		return fmt.Errorf("--binders must be between 1 and 1024, got %d", o.binders)
	case c.port < 0 || c.port > 65535:
		return fmt.Errorf("--port must be 0 (pick one) or a TCP port, got %d", c.port)
	case c.etcdPort < 0 || c.etcdPort > 65534:
		return fmt.Errorf("--etcd-port must be 0 (pick one) or a TCP port below 65535, got %d", c.etcdPort)
	}
	_, err := parsePhaseOrder(o.order)
	return err
}

func parsePhaseOrder(s string) ([]string, error) {
	var kinds []string
	for k := range strings.SplitSeq(s, ",") {
		switch k = strings.TrimSpace(k); k {
		case lab.SchedKube, lab.SchedMyriad, lab.SchedCeiling:
			kinds = append(kinds, k)
		default:
			return nil, fmt.Errorf("--order: unknown phase %q (use kube, myriad, ceiling)", k)
		}
	}
	return kinds, nil
}

// schedBench is one run of the benchmark on one cluster.
type schedBench struct {
	o       schedBenchOptions
	bin     string
	cluster *controlplane.Cluster
	cs      kubernetes.Interface
	con     *lab.Console
	watch   *bindWatch
	nodes   []lab.NodeAlloc
}

func runSchedBench(cmd *cobra.Command, o schedBenchOptions) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	kinds, _ := parsePhaseOrder(o.order)
	outDir, closeLog, err := prepareOut(o.cluster.out)
	if err != nil {
		return err
	}
	defer closeLog()
	dataDir := o.cluster.dataDir
	if dataDir == "" {
		dataDir = filepath.Join(outDir, "cluster")
	}
	if dataDir, err = freshDataDir(dataDir, o.cluster.dataDir == ""); err != nil {
		return err
	}
	in := lab.SchedBenchInput{
		Machine:       lab.ThisMachine(controlplane.KubernetesVersion),
		Parameters:    schedBenchParameters(o, dataDir),
		StartedAt:     time.Now(),
		Binders:       o.binders,
		CeilingEvents: o.ceilingEvents,
	}
	con := lab.NewConsole(out)
	b := &schedBench{o: o, con: con}
	err = b.start(ctx, dataDir)
	in.StartupSeconds = time.Since(in.StartedAt).Seconds()
	if err != nil {
		in.StartupErr = err
		for i, k := range kinds {
			in.Skipped = append(in.Skipped, fmt.Sprintf("phase %d (%s): no cluster", i+1, k))
		}
	} else {
		fmt.Fprintf(out, "cluster of %d nodes ready after %s; %d phases of %d pods: %s\n",
			o.cluster.nodes, time.Duration(in.StartupSeconds*float64(time.Second)).Round(time.Second), len(kinds), o.pods, strings.Join(kinds, ", "))
		for i, kind := range kinds {
			if ctx.Err() != nil {
				in.Skipped = append(in.Skipped, fmt.Sprintf("phase %d (%s): interrupted", i+1, kind))
				continue
			}
			p, clean := b.phase(ctx, i+1, len(kinds), kind)
			in.Phases = append(in.Phases, p)
			if p.Err != "" {
				fmt.Fprintf(out, "  phase %d (%s) failed: %s\n", i+1, kind, lab.OneLine(p.Err, 300))
			}
			if !clean {
				// Leftover pods would be scheduled by the next phase's
				// scheduler and spoil its figures.
				for j := i + 1; j < len(kinds); j++ {
					in.Skipped = append(in.Skipped, fmt.Sprintf("phase %d (%s): phase %d's pods could not be deleted", j+1, kinds[j], i+1))
				}
				break
			}
		}
	}
	if b.watch != nil {
		b.watch.stop()
	}
	res := lab.BuildSchedBenchResult(in)
	path, werr := lab.WriteSchedBenchReport(outDir, res)
	if b.cluster != nil {
		fmt.Fprintln(out, "stopping the cluster ...")
		b.cluster.Stop()
		fmt.Fprintf(out, "cluster data and component logs kept in %s\n", dataDir)
	}
	if werr != nil {
		return fmt.Errorf("write report to %s: %w", outDir, werr)
	}
	printSchedBenchSummary(out, res)
	fmt.Fprintf(out, "report: %s\n", path)
	if !res.Verdict.Pass {
		return fmt.Errorf("FAIL: %s (report: %s)", lab.OneLine(res.Verdict.Reasons[0], 200), path)
	}
	return nil
}

// start brings up the cluster with no scheduler, the bench's client, the
// pod watch, the namespace and the node list.
func (b *schedBench) start(ctx context.Context, dataDir string) error {
	up, _, err := soakClusterOptions(b.o.cluster, dataDir)
	if err != nil {
		return err
	}
	up.Scheduler = "none"
	up.Out = b.con
	b.bin = up.Binary
	if b.cluster, err = controlplane.Up(ctx, up); err != nil {
		b.cluster = nil
		return err
	}
	if b.cs, err = benchClient(b.cluster.Plan.Dir.AdminKubeconfig()); err != nil {
		return err
	}
	if err := ensureBenchNamespace(ctx, b.cs); err != nil {
		return err
	}
	if b.nodes, err = listNodeAllocs(ctx, b.cs); err != nil {
		return err
	}
	b.watch = newBindWatch(b.cs)
	return b.watch.start(ctx)
}

// benchClient is the admin identity with a client limit that is never the
// bottleneck: creates and the ceiling's binds are what is measured.
func benchClient(kubeconfig string) (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 5000, 5000
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	rc.UserAgent = "myriad-bench-scheduler"
	rc.Timeout = 60 * time.Second
	return kubernetes.NewForConfig(rc)
}

// ensureBenchNamespace creates the namespace and waits for its default
// ServiceAccount, without which pods are rejected at admission.
func ensureBenchNamespace(ctx context.Context, cs kubernetes.Interface) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", benchNamespace, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := cs.CoreV1().ServiceAccounts(benchNamespace).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s has no default ServiceAccount after 2m (is the serviceaccount controller running?): %w", benchNamespace, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func listNodeAllocs(ctx context.Context, cs kubernetes.Interface) ([]lab.NodeAlloc, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "nodes.myriad.dev/simulated=true"})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := make([]lab.NodeAlloc, 0, len(list.Items))
	for _, n := range list.Items {
		a := n.Status.Allocatable
		out = append(out, lab.NodeAlloc{Name: n.Name, CPUMilli: a.Cpu().MilliValue(), MemBytes: a.Memory().Value(), Pods: a.Pods().Value()})
	}
	if len(out) == 0 {
		return nil, errors.New("no simulated nodes found")
	}
	return out, nil
}

// phase runs one phase. clean reports whether its pods were all deleted.
func (b *schedBench) phase(ctx context.Context, order, total int, kind string) (p lab.SchedPhaseInput, clean bool) {
	p = lab.SchedPhaseInput{Kind: kind, Order: order, Pods: b.o.pods, Nodes: b.nodes}
	label := fmt.Sprintf("%d-%s", order, kind)
	fmt.Fprintf(b.con, "== phase %d/%d: %s — creating %d pods ...\n", order, total, kind, b.o.pods)
	b.watch.begin(label, b.o.pods)
	defer func() { clean = b.cleanup(ctx, label) }()

	schedName := benchSchedulerName
	if kind == lab.SchedCeiling {
		schedName = ceilingSchedName
	}
	cctx, cancel := context.WithTimeout(ctx, b.o.phaseTimeout)
	began := time.Now()
	err := createPods(cctx, b.cs, label, schedName, b.o.pods, b.o.createWorkers, func(n int) {
		b.con.Progress(fmt.Sprintf("phase %d/%d %s: created %d/%d pods", order, total, kind, n, b.o.pods))
	})
	if err == nil {
		err = b.watch.waitSeen(cctx, b.o.pods)
	}
	cancel()
	b.con.EndProgress()
	if err != nil {
		p.Err = fmt.Sprintf("create pods: %v", err)
		return p, clean
	}
	fmt.Fprintf(b.con, "  %d pods created in %.1fs; starting %s\n", b.o.pods, time.Since(began).Seconds(), kind)

	before := b.componentCPU()
	sctx, cancel := context.WithTimeout(ctx, b.o.phaseTimeout)
	defer cancel()
	var proc *schedProc
	var binderErr atomic.Pointer[error]
	p.Start = time.Now()
	b.watch.markStart(p.Start)
	if kind == lab.SchedCeiling {
		go func() {
			if err := bindAll(sctx, b.cs, b.watch.podNames(label), b.nodes, b.o.binders, b.o.ceilingEvents); err != nil {
				binderErr.Store(&err)
			}
		}()
	} else {
		if proc, err = b.startScheduler(kind, label); err != nil {
			p.Err = err.Error()
			return p, clean
		}
	}
	err = b.waitBound(sctx, order, total, kind, proc, &binderErr)
	p.Components = cpuDelta(before, b.componentCPU())
	if proc != nil {
		cpu, rss := proc.finish()
		p.CPUSeconds, p.RSSMaxBytes = cpu, rss
	}
	b.con.EndProgress()
	p.Binds = b.watch.bindTimes()
	p.Placements = b.watch.placements(label)
	if err != nil {
		p.Err = err.Error()
		return p, clean
	}
	last := p.Binds[len(p.Binds)-1]
	for _, t := range p.Binds {
		if t.After(last) {
			last = t
		}
	}
	fmt.Fprintf(b.con, "  all %d pods bound %.1fs after start (%.0f pods/s)\n", len(p.Binds), last.Sub(p.Start).Seconds(), float64(len(p.Binds))/last.Sub(p.Start).Seconds())
	return p, clean
}

// waitBound waits until every pod of the phase is bound, printing
// progress; it fails if the scheduler exits, the binder fails or ctx ends.
func (b *schedBench) waitBound(ctx context.Context, order, total int, kind string, proc *schedProc, binderErr *atomic.Pointer[error]) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var exited <-chan struct{}
	if proc != nil {
		exited = proc.exited
	}
	for {
		bound, start := b.watch.boundCount(), b.watch.startTime()
		el := time.Since(start)
		b.con.Progress(fmt.Sprintf("phase %d/%d %s: bound %d/%d | %.0f pods/s | %s", order, total, kind, bound, b.o.pods,
			float64(bound)/max(el.Seconds(), 0.001), el.Round(time.Second)))
		if bound >= b.o.pods {
			return nil
		}
		if e := binderErr.Load(); e != nil {
			return fmt.Errorf("ceiling binder: %w (%d of %d bound)", *e, bound, b.o.pods)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d pods bound after %s (--phase-timeout): %w", bound, b.o.pods, el.Round(time.Second), ctx.Err())
		case <-exited:
			return fmt.Errorf("%s scheduler exited after %s with %d of %d pods bound: %s (see %s)", kind, el.Round(time.Second), bound, b.o.pods, proc.exitReason(), proc.log)
		case <-b.watch.allBound:
		case <-tick.C:
		}
	}
}

// startScheduler starts the scheduler under test as a child of the bench,
// with leader election off: each phase has one instance, and a Lease left
// by the previous phase's instance must not delay the next one.
func (b *schedBench) startScheduler(kind, label string) (*schedProc, error) {
	plan := b.cluster.Plan
	var args []string
	switch kind {
	case lab.SchedKube:
		// The same configuration `myriad up` gives kube-scheduler (client
		// QPS/burst 5000, protobuf), minus leader election.
		cfg := strings.Replace(plan.SchedulerConfig(), "leaderElect: true", "leaderElect: false", 1)
		path := filepath.Join(plan.Dir.Run(), "bench-kube-scheduler.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return nil, fmt.Errorf("write kube-scheduler config: %w", err)
		}
		args = append([]string{"kube-scheduler"}, plan.SchedulerArgs(path)...)
	case lab.SchedMyriad:
		args = append([]string{"scheduler", "--kubeconfig", plan.Dir.Kubeconfig("scheduler"),
			"--scheduler-name", benchSchedulerName, "--leader-elect=false",
			"--metrics-addr", "127.0.0.1:" + strconv.Itoa(plan.SchedulerPort)}, b.o.myriadArgs...)
	}
	return startSchedProc(b.bin, args, filepath.Join(plan.Dir.Logs(), "bench-"+label+".log"))
}

// componentCPU reads every cluster process's and the bench's CPU seconds.
func (b *schedBench) componentCPU() map[string]lab.ProcSample {
	pids := b.cluster.Supervisor.Pids()
	pids["bench"] = os.Getpid()
	out := map[string]lab.ProcSample{}
	for name, pid := range pids {
		if s, err := lab.ReadProc("/proc", pid); err == nil {
			out[name] = s
		}
	}
	return out
}

func cpuDelta(before, after map[string]lab.ProcSample) map[string]float64 {
	out := map[string]float64{}
	for name, a := range after {
		if bf, ok := before[name]; ok && bf.PID == a.PID {
			out[name] = a.CPUSeconds - bf.CPUSeconds
		}
	}
	return out
}

// cleanup deletes the phase's pods and waits until the watch has seen them
// all go; false if they did not.
func (b *schedBench) cleanup(ctx context.Context, label string) bool {
	if ctx.Err() != nil {
		// Interrupted: the cluster is about to stop anyway.
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, b.o.phaseTimeout)
	defer cancel()
	// One DELETE per pod, in parallel: a DeleteCollection of 10^4 pods
	// outlives the request timeout.
	if err := deletePods(ctx, b.cs, b.watch.podNames(label), b.o.createWorkers); err != nil {
		fmt.Fprintf(b.con, "  delete pods of phase %s: %v\n", label, err)
		return false
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		left := b.watch.present(label)
		b.con.Progress(fmt.Sprintf("deleting pods of phase %s: %d left", label, left))
		if left == 0 {
			b.con.EndProgress()
			return true
		}
		select {
		case <-ctx.Done():
			b.con.EndProgress()
			fmt.Fprintf(b.con, "  %d pods of phase %s still present after %s\n", left, label, b.o.phaseTimeout)
			return false
		case <-tick.C:
		}
	}
}

// benchPod is the same pod for every phase: replicas of one workload.
func benchPod(label, schedName string, i int) *corev1.Pod {
	zero, no := int64(0), false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%s-%06d", label, i), Namespace: benchNamespace,
			Labels: map[string]string{benchPhaseLabel: label, "app": "bench"}},
		Spec: corev1.PodSpec{
			SchedulerName:                 schedName,
			TerminationGracePeriodSeconds: &zero,
			AutomountServiceAccountToken:  &no,
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("100m"),
					corev1.ResourceMemory: resource.MustParse("128Mi"),
				}}}},
		},
	}
}

// createPods creates n pods with bounded concurrency.
func createPods(ctx context.Context, cs kubernetes.Interface, label, schedName string, n, workers int, progress func(int)) error {
	return forEachParallel(ctx, n, workers, progress, func(ctx context.Context, i int) error {
		_, err := cs.CoreV1().Pods(benchNamespace).Create(ctx, benchPod(label, schedName, i), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create pod %d: %w", i, err)
		}
		return nil
	})
}

// deletePods deletes pods at once (grace period 0) with bounded
// concurrency; pods already gone are fine.
func deletePods(ctx context.Context, cs kubernetes.Interface, pods []string, workers int) error {
	zero := int64(0)
	return forEachParallel(ctx, len(pods), workers, func(int) {}, func(ctx context.Context, i int) error {
		err := cs.CoreV1().Pods(benchNamespace).Delete(ctx, pods[i], metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s: %w", pods[i], err)
		}
		return nil
	})
}

// bindAll is the ceiling: bind pods to nodes round-robin, no decisions.
// With events, as many writers again record each bound pod's Scheduled
// event, off the binders' path as the schedulers' event recorders are.
// The phase's end cancels ctx; that is not a binder error.
func bindAll(ctx context.Context, cs kubernetes.Interface, pods []string, nodes []lab.NodeAlloc, binders int, events bool) error {
	bound := make(chan int, len(pods)) // never blocks a binder
	var recorders sync.WaitGroup
	if events {
		for range binders {
			recorders.Go(func() {
				for i := range bound {
					if ctx.Err() != nil {
						return
					}
					// Best effort, like an event recorder: a lost event is
					// not a lost binding.
					_ = recordScheduled(ctx, cs, pods[i], nodes[i%len(nodes)].Name)
				}
			})
		}
	}
	err := forEachParallel(ctx, len(pods), binders, func(int) {}, func(ctx context.Context, i int) error {
		bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pods[i], Namespace: benchNamespace},
			Target: corev1.ObjectReference{Kind: "Node", Name: nodes[i%len(nodes)].Name}}
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if err = cs.CoreV1().Pods(benchNamespace).Bind(ctx, bind, metav1.CreateOptions{}); err == nil {
				bound <- i
				return nil
			}
			if apierrors.IsConflict(err) {
				return nil // already bound
			}
		}
		return fmt.Errorf("bind %s: %w", pods[i], err)
	})
	close(bound)
	recorders.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// recordScheduled writes the events.k8s.io Event kube-scheduler records
// for a binding, with the same fields, so the ceiling's writes weigh what
// the schedulers' do.
func recordScheduled(ctx context.Context, cs kubernetes.Interface, pod, node string) error {
	now := time.Now()
	_, err := cs.EventsV1().Events(benchNamespace).Create(ctx, &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod, now.UnixNano()), Namespace: benchNamespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: ceilingSchedName,
		ReportingInstance:   ceilingSchedName,
		Action:              "Binding",
		Reason:              "Scheduled",
		Regarding:           corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: benchNamespace, Name: pod},
		Note:                fmt.Sprintf("Successfully assigned %s/%s to %s", benchNamespace, pod, node),
		Type:                corev1.EventTypeNormal,
	}, metav1.CreateOptions{})
	return err
}

// bindWatch watches the bench namespace's pods (one informer) and records
// when each pod of the current phase is first seen with a node: the bind
// as the API server's watch delivers it, to sub-second precision (the
// PodScheduled condition's lastTransitionTime has whole seconds only).
type bindWatch struct {
	cs       kubernetes.Interface
	inf      cache.SharedIndexInformer
	cancel   context.CancelFunc
	mu       sync.Mutex
	label    string
	want     int
	startAt  time.Time
	bound    map[string]time.Time
	allBound chan struct{}
}

func newBindWatch(cs kubernetes.Interface) *bindWatch {
	return &bindWatch{cs: cs, allBound: make(chan struct{}, 1)}
}

func (w *bindWatch) start(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(w.cs, 0, informers.WithNamespace(benchNamespace))
	w.inf = factory.Core().V1().Pods().Informer()
	if err := w.inf.AddIndexers(cache.Indexers{"phase": func(obj any) ([]string, error) {
		return []string{obj.(*corev1.Pod).Labels[benchPhaseLabel]}, nil
	}}); err != nil {
		return err
	}
	observe := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName == "" {
			return
		}
		now := time.Now()
		w.mu.Lock()
		defer w.mu.Unlock()
		if pod.Labels[benchPhaseLabel] != w.label || w.bound == nil {
			return
		}
		if _, seen := w.bound[pod.Name]; !seen {
			w.bound[pod.Name] = now
			if len(w.bound) == w.want {
				select {
				case w.allBound <- struct{}{}:
				default:
				}
			}
		}
	}
	if _, err := w.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	factory.Start(wctx.Done())
	sctx, scancel := context.WithTimeout(ctx, 2*time.Minute)
	defer scancel()
	if !cache.WaitForCacheSync(sctx.Done(), w.inf.HasSynced) {
		return errors.New("pod watch did not sync within 2m")
	}
	return nil
}

func (w *bindWatch) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// begin starts recording a new phase.
func (w *bindWatch) begin(label string, want int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.label, w.want, w.bound, w.startAt = label, want, nil, time.Now()
	select {
	case <-w.allBound:
	default:
	}
}

// markStart begins counting binds: nothing is bound before the scheduler
// starts (pods are created unbound), so only binds from now on count.
func (w *bindWatch) markStart(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.startAt, w.bound = t, make(map[string]time.Time, w.want)
}

func (w *bindWatch) startTime() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.startAt
}

func (w *bindWatch) boundCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.bound)
}

func (w *bindWatch) bindTimes() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]time.Time, 0, len(w.bound))
	for _, t := range w.bound {
		out = append(out, t)
	}
	return out
}

// present is how many of the phase's pods the watch still holds.
func (w *bindWatch) present(label string) int {
	objs, err := w.inf.GetIndexer().ByIndex("phase", label)
	if err != nil {
		return -1
	}
	return len(objs)
}

// waitSeen waits until the watch holds n pods of the current phase, so the
// scheduler under test starts against a complete, settled backlog.
func (w *bindWatch) waitSeen(ctx context.Context, n int) error {
	w.mu.Lock()
	label := w.label
	w.mu.Unlock()
	for w.present(label) < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("watch saw %d of %d created pods: %w", w.present(label), n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

func (w *bindWatch) podNames(label string) []string {
	objs, _ := w.inf.GetIndexer().ByIndex("phase", label)
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.(*corev1.Pod).Name)
	}
	return names
}

// placements are the phase's bound pods with their requests.
func (w *bindWatch) placements(label string) []lab.Placement {
	objs, _ := w.inf.GetIndexer().ByIndex("phase", label)
	out := make([]lab.Placement, 0, len(objs))
	for _, o := range objs {
		pod := o.(*corev1.Pod)
		if pod.Spec.NodeName == "" {
			continue
		}
		var cpu, mem int64
		for _, c := range pod.Spec.Containers {
			cpu += c.Resources.Requests.Cpu().MilliValue()
			mem += c.Resources.Requests.Memory().Value()
		}
		out = append(out, lab.Placement{Node: pod.Spec.NodeName, CPUMilli: cpu, MemBytes: mem})
	}
	return out
}

// schedProc is a scheduler under test: a child of the bench, sampled for
// CPU and RSS while it runs.
type schedProc struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	stopS  chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	cpu    *float64
	rssMax *int64
}

func startSchedProc(bin string, args []string, logPath string) (*schedProc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open scheduler log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), supervisor.ParentPIDEnv+"="+strconv.Itoa(os.Getpid()))
	// Own process group (Ctrl-C reaches the bench, which stops it) and
	// death with the bench.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	p := &schedProc{cmd: cmd, log: logPath, exited: make(chan struct{}), stopS: make(chan struct{}), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	go p.sample()
	return p, nil
}

// sample reads /proc every 250ms: RSS max, and CPU as of the last read.
func (p *schedProc) sample() {
	defer close(p.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		p.readOnce()
		select {
		case <-p.stopS:
			return
		case <-p.exited:
			return
		case <-t.C:
		}
	}
}

func (p *schedProc) readOnce() {
	s, err := lab.ReadProc("/proc", p.cmd.Process.Pid)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cpu := s.CPUSeconds
	p.cpu = &cpu
	if p.rssMax == nil || s.RSSBytes > *p.rssMax {
		rss := s.RSSBytes
		p.rssMax = &rss
	}
}

// finish takes a last reading, stops the process (SIGTERM, then SIGKILL
// after 10s) and returns its CPU seconds and largest RSS.
func (p *schedProc) finish() (*float64, *int64) {
	p.readOnce()
	close(p.stopS)
	<-p.done
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cpu, p.rssMax
}

func (p *schedProc) exitReason() string {
	if st := p.cmd.ProcessState; st != nil {
		return st.String()
	}
	return "exited"
}

func schedBenchParameters(o schedBenchOptions, dataDir string) map[string]string {
	myriadArgs := strings.Join(o.myriadArgs, " ")
	if myriadArgs == "" {
		myriadArgs = "(defaults)"
	}
	return map[string]string{
		"nodes":               strconv.Itoa(o.cluster.nodes),
		"pods":                strconv.Itoa(o.pods) + " per phase",
		"pod":                 "1 container, requests cpu 100m / memory 128Mi, created before the scheduler starts",
		"order":               o.order,
		"phaseTimeout":        o.phaseTimeout.String(),
		"createWorkers":       strconv.Itoa(o.createWorkers),
		"ceilingBinders":      strconv.Itoa(o.binders),
		"ceilingEvents":       strconv.FormatBool(o.ceilingEvents),
		"kubeScheduler":       "kube-scheduler v" + strings.TrimPrefix(controlplane.KubernetesVersion, "v") + ", myriad up's config: clientConnection qps/burst 5000, protobuf; leader election off",
		"myriadScheduler":     "myriad scheduler --scheduler-name default-scheduler --leader-elect=false " + myriadArgs,
		"apiservers":          strconv.Itoa(o.cluster.apiservers),
		"nodeCapacity":        "myriad nodes default (cpu 32, memory 256Gi, pods 110)",
		"bindTime":            "first watch event with spec.nodeName set, as the bench saw it",
		"dataDir":             dataDir,
		"command":             strings.Join(os.Args, " "),
		"nodeMonitorGrace":    o.cluster.grace.String(),
		"componentReadyLimit": o.cluster.readyTimeout.String(),
	}
}

func printSchedBenchSummary(out io.Writer, r *lab.SchedBenchResult) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tkube\tmyriad\tceiling")
	for _, row := range lab.SchedBenchRows(r) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Name, row.Kube, row.Myriad, row.Ceiling)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(out, err)
	}
	x := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.2fx", *v)
	}
	fmt.Fprintf(out, "myriad/kube pods/s %s (after first bind %s), myriad/ceiling %s, kube/myriad CPU per pod %s\n",
		x(r.Ratios.MyriadOverKubePodsPerSecond), x(r.Ratios.MyriadOverKubeAfterFirstBind), x(r.Ratios.MyriadOverCeiling), x(r.Ratios.KubeOverMyriadCPUPerPod))
	for _, reason := range r.Verdict.Reasons {
		fmt.Fprintf(out, "  fail: %s\n", lab.OneLine(reason, 600))
	}
}
