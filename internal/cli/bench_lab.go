package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

// What the watch-restart, long-read and failover scenarios share: a
// cluster started for the run with its processes sampled from the first
// second, signals to its components, ConfigMaps made in bulk, and writes
// at a fixed rate.

// labCluster is a cluster a scenario started for itself.
type labCluster struct {
	*controlplane.Cluster
	cs       *kubernetes.Clientset
	procs    *lab.ProcSampler
	stopRec  context.CancelFunc
	recDone  sync.WaitGroup
	dataDir  string
	stopOnce sync.Once
}

// labOutput makes --out (klog goes there) and picks the data directory:
// --data-dir, or OUT/cluster, which must not exist yet.
func labOutput(out, dataDir string) (outDir, dir string, closeLog func(), err error) {
	outDir, closeLog, err = prepareOut(out)
	if err != nil {
		return "", "", nil, err
	}
	dir = dataDir
	if dir == "" {
		dir = filepath.Join(outDir, "cluster")
	}
	if dir, err = freshDataDir(dir, dataDir == ""); err != nil {
		closeLog()
		return "", "", nil, err
	}
	return outDir, dir, closeLog, nil
}

// startLabCluster starts `myriad up` on dataDir with o's size and ports
// (tweak adjusts the options) and samples every process, the bench
// included, from before the first component starts. On error the returned
// cluster may still be non-nil: its samples show how far start-up got.
func startLabCluster(ctx context.Context, o soakOptions, dataDir string, con *lab.Console, tweak func(*controlplane.Options)) (*labCluster, error) {
	l := &labCluster{dataDir: dataDir}
	up, _, err := soakClusterOptions(o, dataDir)
	if err != nil {
		return nil, err
	}
	up.Out = con
	if tweak != nil {
		tweak(&up)
	}
	var started atomic.Pointer[controlplane.Cluster]
	self := os.Getpid()
	l.procs = &lab.ProcSampler{Clock: clock.RealClock{}, Interval: o.sampleInterval, Pids: func() map[string]int {
		var pids map[string]int
		if c := started.Load(); c != nil {
			pids = c.Supervisor.Pids()
		} else {
			pids = lab.ChildPids("", self) // before Up returns its supervisor
			// While only the first of several API servers runs, ChildPids
			// cannot number it; the supervisor calls it kube-apiserver-0.
			if pid, ok := pids["kube-apiserver"]; ok && up.APIServers > 1 {
				delete(pids, "kube-apiserver")
				pids["kube-apiserver-0"] = pid
			}
		}
		if pids == nil {
			pids = map[string]int{}
		}
		pids["bench"] = self
		return pids
	}}
	recCtx, stop := context.WithCancel(context.Background())
	l.stopRec = stop
	l.recDone.Go(func() { l.procs.Run(recCtx) })
	c, err := controlplane.Up(ctx, up)
	if err != nil {
		l.stopRecording()
		return l, err
	}
	started.Store(c)
	l.Cluster = c
	if l.cs, err = protobufClient(c.Plan.Dir.AdminKubeconfig(), 5000, 5000, "myriad-bench"); err != nil {
		return l, err
	}
	return l, nil
}

func (l *labCluster) stopRecording() {
	l.stopOnce.Do(func() {
		l.stopRec()
		l.recDone.Wait()
	})
}

// stop ends the sampling and the cluster; the data directory is kept.
func (l *labCluster) stop(out io.Writer) {
	if l == nil {
		return
	}
	l.stopRecording()
	if l.Cluster != nil {
		fmt.Fprintln(out, "stopping the cluster ...")
		l.Cluster.Stop()
		fmt.Fprintf(out, "cluster data and component logs kept in %s\n", l.dataDir)
	}
}

// processes are the samples so far (all of them once stopped).
func (l *labCluster) processes() map[string][]lab.ProcSample {
	if l == nil || l.procs == nil {
		return nil
	}
	return l.procs.Series()
}

// signal sends sig to the named component and returns its pid; the
// supervisor restarts it after it exits.
func (l *labCluster) signal(name string, sig syscall.Signal) (int, error) {
	pid, ok := l.Supervisor.Pids()[name]
	if !ok || pid <= 0 {
		return 0, fmt.Errorf("no running process %q in this cluster", name)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return 0, fmt.Errorf("signal %s (pid %d): %w", name, pid, err)
	}
	return pid, nil
}

// waitRestarted waits until the supervisor has replaced oldPid and ready
// answers, and returns when it did.
func (l *labCluster) waitRestarted(ctx context.Context, name string, oldPid int, ready func(context.Context) error) (time.Time, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid := l.Supervisor.Pids()[name]; pid != 0 && pid != oldPid {
			if ready == nil || ready(ctx) == nil {
				return time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s was not back within the time allowed: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}

// restart signals a component and waits until its successor is ready.
func (l *labCluster) restart(ctx context.Context, name string, sig syscall.Signal, ready func(context.Context) error, timeout time.Duration) error {
	pid, err := l.signal(name, sig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = l.waitRestarted(ctx, name, pid, ready)
	return err
}

// apiServerName is the supervisor's name for API server i.
func (l *labCluster) apiServerName(i int) string {
	if len(l.Plan.APIServerPort) == 1 {
		return "kube-apiserver"
	}
	return fmt.Sprintf("kube-apiserver-%d", i)
}

// apiServerReady asks API server i itself (not the balancer) for /readyz.
func (l *labCluster) apiServerReady(i int) (func(context.Context) error, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", l.Plan.Dir.AdminKubeconfig())
	if err != nil {
		return nil, err
	}
	rc.Host = "https://127.0.0.1:" + strconv.Itoa(l.Plan.APIServerPort[i])
	rc.Timeout = 3 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}, nil
}

// ownConnectionConfig is the admin config on a TCP connection of its own:
// client-go shares one transport (one HTTP/2 connection) between clients
// with equal configs, and a dialer of its own opts out of that, so each
// such client is balanced to an API server on its own, as separate
// processes are.
func ownConnectionConfig(kubeconfig, userAgent string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 1000, 1000
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	rc.UserAgent = userAgent
	rc.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return rc, nil
}

// ensureNamespaces creates the namespaces that do not exist yet.
func ensureNamespaces(ctx context.Context, cs kubernetes.Interface, names ...string) error {
	for _, n := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", n, err)
		}
	}
	return nil
}

// benchConfigMap is a ConfigMap whose data is size bytes, about what a
// small Kubernetes object weighs.
func benchConfigMap(ns, name string, size int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/created-by": "myriad-bench"}},
		Data:       map[string]string{"data": strings.Repeat("x", size)},
	}
}

// createConfigMaps creates perNS ConfigMaps "cm-000000"... in each
// namespace with bounded concurrency, calling progress with the count so far.
func createConfigMaps(ctx context.Context, cs kubernetes.Interface, namespaces []string, perNS, size, workers int, progress func(int)) error {
	return forEachParallel(ctx, len(namespaces)*perNS, workers, progress, func(ctx context.Context, i int) error {
		ns, name := namespaces[i%len(namespaces)], fmt.Sprintf("cm-%06d", i/len(namespaces))
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, benchConfigMap(ns, name, size), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create configmap %s/%s: %w", ns, name, err)
		}
		return nil
	})
}

// forEachParallel calls op for 0..n-1 on workers goroutines, stopping at
// the first error, and reports the count done to progress every half
// second and at the end.
func forEachParallel(ctx context.Context, n, workers int, progress func(int), op func(context.Context, int) error) error {
	var (
		next, done atomic.Int64
		firstErr   atomic.Pointer[error]
		wg         sync.WaitGroup
	)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				progress(int(done.Load()))
			}
		}
	}()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || firstErr.Load() != nil || ctx.Err() != nil {
					return
				}
				if err := op(ctx, i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	progress(int(done.Load()))
	if e := firstErr.Load(); e != nil {
		return *e
	}
	return ctx.Err()
}

// paced calls op rate times per second until ctx ends, each call in its
// own goroutine with at most maxInflight at once: the schedule does not
// wait for slow calls (a closed loop would hide the latency it measures
// by slowing down), and a slot with maxInflight calls still out is counted
// as skipped. i numbers the calls from 0.
func paced(ctx context.Context, rate float64, maxInflight int, op func(ctx context.Context, i int)) (skipped int) {
	if rate <= 0 {
		<-ctx.Done()
		return 0
	}
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return skipped
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return skipped
		}
		select {
		case sem <- struct{}{}:
		default:
			skipped++
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			op(ctx, i)
		})
	}
}

// stoppedEarly records why a run stopped before its end, if it did.
func stoppedEarly(out io.Writer, con *lab.Console, info *lab.RunInfo, err error) {
	if err == nil {
		return
	}
	info.StoppedEarly = err.Error()
	con.EndProgress()
	fmt.Fprintf(out, "stopped: %s\n", lab.OneLine(err.Error(), 300))
}

// endLab stops the run's cluster and closes its result head.
func endLab(out io.Writer, info *lab.RunInfo, lc *labCluster) {
	lc.stop(out)
	info.Finish(time.Now(), lc.processes())
}

// reportLab prints the summary rows, then finishes as finishLab does;
// path and err are what writing the report returned.
func reportLab(out io.Writer, outDir, path string, err error, rows [][]string, v lab.Verdict) error {
	if err != nil {
		return fmt.Errorf("write report to %s: %w", outDir, err)
	}
	fmt.Fprintln(out)
	printRows(out, rows)
	return finishLab(out, path, v)
}

// finishLab prints where the report is and turns a failed verdict into the
// command's error (a non-zero exit).
func finishLab(out io.Writer, path string, v lab.Verdict) error {
	fmt.Fprintf(out, "report: %s\n", path)
	for _, w := range v.Warnings {
		fmt.Fprintf(out, "  note: %s\n", lab.OneLine(w, 300))
	}
	if !v.Pass {
		for _, r := range v.Reasons[1:] {
			fmt.Fprintf(out, "  fail: %s\n", lab.OneLine(r, 300))
		}
		return fmt.Errorf("FAIL: %s (report: %s)", lab.OneLine(v.Reasons[0], 200), path)
	}
	return nil
}

// clusterParameters are the parameters every cluster scenario reports.
func clusterParameters(params map[string]string, o soakOptions, dataDir string) map[string]string {
	params["apiservers"] = strconv.Itoa(o.apiservers)
	params["nodes"] = strconv.Itoa(o.nodes)
	params["dataDir"] = dataDir
	params["command"] = strings.Join(os.Args, " ")
	return params
}

// inRange is nil if lo <= v <= hi, else the error naming flag.
func inRange(flag string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s must be between %d and %d, got %d", flag, lo, hi, v)
	}
	return nil
}

// parseSignal accepts TERM or KILL (with or without SIG).
func parseSignal(flag, s string) (syscall.Signal, error) {
	switch strings.TrimPrefix(strings.ToUpper(s), "SIG") {
	case "TERM":
		return syscall.SIGTERM, nil
	case "KILL":
		return syscall.SIGKILL, nil
	}
	return 0, fmt.Errorf("%s must be TERM (a graceful restart) or KILL (a crash), got %q", flag, s)
}

func signalName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGTERM"
}

// addLabClusterFlags are a cluster scenario's flags: --out, --data-dir,
// --nodes (default nodes) and addClusterFlags'.
func addLabClusterFlags(cmd *cobra.Command, o *soakOptions, nodes int, nodesHelp string) {
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	f.StringVar(&o.dataDir, "data-dir", "", "cluster data directory (default OUT/cluster, which must not exist yet)")
	f.IntVar(&o.nodes, "nodes", nodes, nodesHelp)
	addClusterFlags(cmd, o)
}

// validateClusterFlags checks the flags addClusterFlags defines.
func validateClusterFlags(o soakOptions) error {
	switch {
	case o.out == "":
		return errors.New("--out is required: the directory for result.json and report.html")
	case o.port < 0 || o.port > 65535:
		return fmt.Errorf("--port must be 0 (pick one) or a TCP port, got %d", o.port)
	case o.etcdPort < 0 || o.etcdPort > 65534:
		return fmt.Errorf("--etcd-port must be 0 (pick one) or a TCP port below 65535, got %d", o.etcdPort)
	case o.apiservers < 1 || o.apiservers > 16:
		return fmt.Errorf("--apiservers must be between 1 and 16, got %d", o.apiservers)
	case o.sampleInterval < time.Second:
		return fmt.Errorf("--sample-interval must be at least 1s, got %s", o.sampleInterval)
	case o.scrapeInterval < time.Second:
		return fmt.Errorf("--scrape-interval must be at least 1s, got %s", o.scrapeInterval)
	}
	return nil
}

// eta is a progress line's "ETA" for a run planned to end at end.
func eta(end time.Time) string {
	return max(0, time.Until(end)).Round(time.Second).String()
}
