package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run scale experiments and write reports with charts",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchSoakCommand())
	cmd.AddCommand(newBenchHeartbeatCommand())
	cmd.AddCommand(newBenchSchedulerCommand())
	cmd.AddCommand(newBenchDensityCommand())
	cmd.AddCommand(newBenchWatchRestartCommand())
	cmd.AddCommand(newBenchLongReadCommand())
	cmd.AddCommand(newBenchEtcdSizeCommand())
	cmd.AddCommand(newBenchFailoverCommand())
	cmd.AddCommand(newBenchCloneSetCommand())
	return cmd
}

type soakOptions struct {
	nodes, apiservers, port, etcdPort int
	duration, grace, readyTimeout     time.Duration
	sampleInterval, scrapeInterval    time.Duration
	out, dataDir                      string
}

func newBenchSoakCommand() *cobra.Command {
	var o soakOptions
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Hold a cluster at size and check that every node stays Ready",
		Long: `Start a cluster of --nodes simulated nodes (as 'myriad up' does), wait until
every node is Ready, then measure for --duration: every transition of a node's
Ready condition away from True (a false NotReady), Lease renewal latency as the
simulator and the API server see it, RSS and CPU of every component, and the
bytes etcd writes. Writes result.json and report.html to --out, stops the
cluster, and exits non-zero unless every node stayed Ready the whole time.`,
		Example: `  myriad bench soak --nodes 10000 --duration 10m --out /tmp/soak-10k
  myriad bench soak --nodes 50 --duration 1m --out /tmp/soak-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			return runSoak(cmd, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.nodes, "nodes", 10000, "number of simulated nodes")
	f.DurationVar(&o.duration, "duration", 10*time.Minute, "how long to measure once every node is Ready")
	f.StringVar(&o.out, "out", "", "directory for result.json and report.html (required)")
	f.StringVar(&o.dataDir, "data-dir", "", "cluster data directory (default OUT/cluster, which must not exist yet)")
	addClusterFlags(cmd, &o)
	return cmd
}

// addClusterFlags are the flags of every bench scenario that starts its own
// cluster and measures it.
func addClusterFlags(cmd *cobra.Command, o *soakOptions) {
	f := cmd.Flags()
	f.IntVar(&o.apiservers, "apiservers", 1, "number of kube-apiserver processes")
	f.IntVar(&o.port, "port", 0, "port of the Kubernetes API (0 picks a free one)")
	f.IntVar(&o.etcdPort, "etcd-port", 0, "etcd client port; the next one is its peer port (0 picks free ones)")
	f.DurationVar(&o.grace, "node-monitor-grace-period", 40*time.Second, "how long a node may miss heartbeats before it is marked NotReady")
	f.DurationVar(&o.readyTimeout, "ready-timeout", 10*time.Minute, "how long each component may take to start; node registration gets this plus 10ms per node")
	f.DurationVar(&o.sampleInterval, "sample-interval", 5*time.Second, "how often process stats and the Ready count are sampled")
	f.DurationVar(&o.scrapeInterval, "scrape-interval", 15*time.Second, "how often metrics are scraped from the simulator, API server and etcd")
}

func (o soakOptions) validate() error {
	switch {
	case o.out == "":
		return errors.New("--out is required: the directory for result.json and report.html")
	case o.nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", o.nodes)
	case o.duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", o.duration)
	case o.port < 0 || o.port > 65535:
		return fmt.Errorf("--port must be 0 (pick one) or a TCP port, got %d", o.port)
	case o.etcdPort < 0 || o.etcdPort > 65534:
		return fmt.Errorf("--etcd-port must be 0 (pick one) or a TCP port below 65535, got %d", o.etcdPort)
	case o.sampleInterval < time.Second:
		return fmt.Errorf("--sample-interval must be at least 1s, got %s", o.sampleInterval)
	case o.scrapeInterval < time.Second:
		return fmt.Errorf("--scrape-interval must be at least 1s, got %s", o.scrapeInterval)
	}
	return nil
}

func runSoak(cmd *cobra.Command, o soakOptions) error {
	out := cmd.OutOrStdout()
	outDir, closeLog, err := prepareOut(o.out)
	if err != nil {
		return err
	}
	defer closeLog()
	dataDir := o.dataDir
	if dataDir == "" {
		dataDir = filepath.Join(outDir, "cluster")
	}
	if dataDir, err = freshDataDir(dataDir, o.dataDir == ""); err != nil {
		return err
	}
	con := lab.NewConsole(out)
	run := measureCluster(cmd.Context(), o, dataDir, nil, con, func(p lab.Progress) string { return progressLine(p, o.nodes) })
	err = finishSoak(out, outDir, run.in)
	if run.cluster != nil {
		fmt.Fprintln(out, "stopping the cluster ...")
		run.cluster.Stop()
		fmt.Fprintf(out, "cluster data and component logs kept in %s\n", dataDir)
	}
	return err
}

// freshDataDir returns dir made absolute; with mustNotExist (a directory
// the bench chose under --out) an existing one is refused.
func freshDataDir(dir string, mustNotExist bool) (string, error) {
	if mustNotExist {
		if _, err := os.Stat(dir); err == nil {
			return "", fmt.Errorf("%s already holds a cluster from an earlier run; choose another --out or remove it", dir)
		}
	}
	return filepath.Abs(dir)
}

// clusterRun is one cluster started with controlplane.Up and measured.
type clusterRun struct {
	in      lab.SoakInput         // with Procs and Ready; StartupErr if Up failed
	cluster *controlplane.Cluster // still running; nil when Up failed
	metrics lab.Targets
}

// recordedCluster is a cluster started with controlplane.Up while its
// processes and node readiness are recorded from the first second, so a
// run that never reaches its size still shows how far it got.
type recordedCluster struct {
	in          lab.SoakInput         // StartedAt, Machine, ...; StartupErr if Up failed
	cluster     *controlplane.Cluster // running; nil when Up failed
	metricsPort int                   // the simulator's metrics endpoint
	procs       *lab.ProcSampler
	ready       *lab.Readiness
	stop        context.CancelFunc
	wg          sync.WaitGroup
}

// startRecordedCluster starts a cluster of o.nodes on dataDir (extra flags
// for `myriad nodes` in nodeArgs) and returns once every node is Ready or
// Up failed. While Up runs, starting (if not nil) is shown as the progress
// line every second. The caller calls finish, then stops the cluster.
func startRecordedCluster(ctx context.Context, o soakOptions, dataDir string, nodeArgs []string, con *lab.Console, starting func(lab.ReadyPoint, time.Duration) string) *recordedCluster {
	clk := clock.RealClock{}
	rc := &recordedCluster{in: lab.SoakInput{
		Machine:    lab.ThisMachine(controlplane.KubernetesVersion),
		Parameters: soakParameters(o, dataDir),
		Nodes:      o.nodes,
		Duration:   o.duration,
		StartedAt:  clk.Now(),
	}}
	up, metricsPort, err := soakClusterOptions(o, dataDir)
	if err != nil {
		rc.in.StartupErr, rc.in.StoppedAt = err, clk.Now()
		return rc
	}
	rc.metricsPort = metricsPort
	up.NodeArgs = append(up.NodeArgs, nodeArgs...)
	up.Out = con

	// Recording is stopped before the cluster is.
	recCtx, stopRecording := context.WithCancel(context.Background())
	rc.stop = stopRecording
	var cluster atomic.Pointer[controlplane.Cluster]
	self := os.Getpid()
	rc.procs = &lab.ProcSampler{Clock: clk, Interval: o.sampleInterval, Pids: func() map[string]int {
		var pids map[string]int
		if c := cluster.Load(); c != nil {
			pids = c.Supervisor.Pids()
		} else {
			pids = lab.ChildPids("", self) // before Up returns its supervisor
		}
		if pids == nil {
			pids = map[string]int{}
		}
		pids["bench"] = self // informer, scraping and (with several API servers) the balancer
		return pids
	}}
	rc.ready = lab.NewReadiness(clk)
	rc.wg.Go(func() { rc.procs.Run(recCtx) })
	rc.wg.Go(func() {
		watchReadiness(recCtx, controlplane.DataDir{Root: dataDir}.AdminKubeconfig(), rc.ready, o.sampleInterval)
	})
	upDone := make(chan struct{})
	if starting != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-upDone:
					return
				case <-t.C:
					con.Progress(starting(rc.ready.Current(), clk.Since(rc.in.StartedAt)))
				}
			}
		}()
	}
	c, err := controlplane.Up(ctx, up)
	close(upDone)
	con.EndProgress()
	if err != nil {
		rc.in.StartupErr = err
		rc.finish()
		rc.in.StoppedAt = clk.Now()
		return rc
	}
	cluster.Store(c)
	rc.cluster = c
	return rc
}

// finish stops recording and puts the series into in.
func (rc *recordedCluster) finish() {
	if rc.stop != nil {
		rc.stop()
	}
	rc.wg.Wait()
	if rc.procs != nil {
		rc.in.Procs, rc.in.Ready = rc.procs.Series(), rc.ready
	}
}

// measureCluster starts a recorded cluster and, once every node is Ready,
// measures it as a soak for o.duration. The caller stops the cluster.
func measureCluster(ctx context.Context, o soakOptions, dataDir string, nodeArgs []string, con *lab.Console, progress func(lab.Progress) string) clusterRun {
	rec := startRecordedCluster(ctx, o, dataDir, nodeArgs, con, nil)
	run := clusterRun{cluster: rec.cluster}
	if rec.cluster == nil {
		run.in = rec.in
		return run
	}
	clk := clock.RealClock{}
	con.Printf("all %d nodes Ready after %s; measuring for %s (Ctrl-C stops early and still writes the report)\n",
		o.nodes, clk.Since(rec.in.StartedAt).Round(time.Second), o.duration)
	targets, err := soakTargets(rec.cluster.Plan, rec.metricsPort)
	if err != nil {
		con.Printf("warning: %v; figures from that endpoint will be absent\n", err)
	}
	run.metrics = targets
	soak := &lab.Soak{
		Duration:         o.duration,
		ScrapeInterval:   o.scrapeInterval,
		ProgressInterval: min(5*time.Second, o.sampleInterval),
		Clock:            clk,
		Targets:          targets,
		Ready:            rec.ready,
		Progress:         func(p lab.Progress) { con.Progress(progress(p)) },
	}
	m := soak.Measure(ctx)
	con.EndProgress()
	rec.finish()
	run.in = rec.in
	run.in.Measurement, run.in.StoppedAt = &m, m.To
	return run
}

// finishSoak writes the report, prints the verdict and returns an error
// (non-zero exit) unless the soak passed.
func finishSoak(out io.Writer, outDir string, in lab.SoakInput) error {
	res := lab.BuildSoakResult(in)
	path, werr := lab.WriteReport(outDir, res)
	if werr != nil {
		return fmt.Errorf("write report to %s: %w", outDir, werr)
	}
	printSoakSummary(out, res)
	fmt.Fprintf(out, "report: %s\n", path)
	if !res.Verdict.Pass {
		return fmt.Errorf("FAIL: %s (report: %s)", lab.OneLine(res.Verdict.Reasons[0], 200), path)
	}
	fmt.Fprintln(out, "PASS: every node stayed Ready")
	return nil
}

func printSoakSummary(out io.Writer, r *lab.SoakResult) {
	ms := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1fms", *v*1000)
	}
	mib := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f MiB", *v/(1<<20))
	}
	fmt.Fprintf(out, "\nfalse NotReady: %d   ready min: %d   measured: %s\n",
		r.Readiness.FalseNotReady, r.Readiness.ReadyMin, (time.Duration(r.MeasuredSeconds) * time.Second).String())
	fmt.Fprintf(out, "lease renew p50/p99: simulator %s/%s, API server PUT %s/%s, %.1f renewals/s, %.0f errors\n",
		ms(r.Lease.SimulatorP50), ms(r.Lease.SimulatorP99), ms(r.Lease.APIServerP50), ms(r.Lease.APIServerP99), r.Lease.RenewalsPerSecond, r.Lease.Errors)
	fmt.Fprintf(out, "etcd writes per minute: WAL %s, process (/proc io) %s\n", mib(r.Etcd.WALBytesPerMinute), mib(r.Etcd.ProcWriteBytesPerMinute))
	for _, p := range r.Processes {
		fmt.Fprintf(out, "  %-24s RSS max %7.1f MiB  avg %7.1f MiB  CPU %7.1fs = %.2f cores\n",
			p.Name, float64(p.RSSMaxBytes)/(1<<20), float64(p.RSSAvgBytes)/(1<<20), p.CPUSeconds, p.Cores)
	}
	for _, reason := range r.Verdict.Reasons {
		fmt.Fprintf(out, "  fail: %s\n", lab.OneLine(reason, 600))
	}
	for _, w := range r.Verdict.Warnings {
		fmt.Fprintf(out, "  note: %s\n", w)
	}
}

// soakClusterOptions are `myriad up`'s options for the soak, with free
// ports where the user left them at 0 and the simulator serving metrics.
func soakClusterOptions(o soakOptions, dataDir string) (controlplane.Options, int, error) {
	bin, err := os.Executable()
	if err != nil {
		return controlplane.Options{}, 0, fmt.Errorf("find own executable: %w", err)
	}
	up := controlplane.Options{
		DataDir: dataDir, Nodes: o.nodes, APIServers: o.apiservers, Port: o.port, EtcdPort: o.etcdPort,
		EtcdPortSet: o.etcdPort != 0, BindAddress: "127.0.0.1", EtcdQuota: controlplane.DefaultEtcdQuota,
		NodeMonitorGracePeriod: o.grace, Binary: bin, ReadyTimeout: o.readyTimeout,
	}
	if up.Port == 0 {
		if up.Port, err = controlplane.FreePort(); err != nil {
			return up, 0, err
		}
	}
	if up.EtcdPort == 0 {
		if up.EtcdPort, err = freePortPair(up.Port); err != nil {
			return up, 0, err
		}
	}
	metricsPort, err := controlplane.FreePort()
	if err != nil {
		return up, 0, err
	}
	up.NodeArgs = []string{"--metrics-addr", "127.0.0.1:" + strconv.Itoa(metricsPort)}
	return up, metricsPort, nil
}

// freePortPair finds p such that p and p+1 are free (etcd's client and peer
// ports) and neither is avoid.
func freePortPair(avoid int) (int, error) {
	for range 50 {
		p, err := controlplane.FreePort()
		if err != nil {
			return 0, err
		}
		if p == avoid || p+1 == avoid || p >= 65535 {
			continue
		}
		if controlplane.CheckPortFree("127.0.0.1", p+1, "--etcd-port") == nil {
			return p, nil
		}
	}
	return 0, errors.New("no two adjacent free ports for etcd; give --etcd-port")
}

func soakTargets(plan controlplane.Plan, metricsPort int) (lab.Targets, error) {
	var t lab.Targets
	var errs []error
	sim, err := lab.NewScraper("nodes", fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort), "", "", "")
	if err != nil {
		errs = append(errs, err)
	}
	t.NodeSim = sim
	cert, key := plan.Certs.Client(controlplane.AdminUser)
	for i, port := range plan.APIServerPort {
		s, err := lab.NewScraper(fmt.Sprintf("kube-apiserver-%d", i), fmt.Sprintf("https://127.0.0.1:%d/metrics", port), plan.Certs.CA, cert, key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.APIServers = append(t.APIServers, s)
	}
	etcd, err := lab.NewScraper("etcd", fmt.Sprintf("https://127.0.0.1:%d/metrics", plan.EtcdPort), plan.Certs.CA, plan.Certs.EtcdClientCert, plan.Certs.EtcdClientKey)
	if err != nil {
		errs = append(errs, err)
	} else {
		t.Etcd = etcd
	}
	return t, errors.Join(errs...)
}

// watchReadiness starts the node watch as soon as the API server answers,
// so the report shows nodes becoming Ready during start-up too.
func watchReadiness(ctx context.Context, kubeconfig string, r *lab.Readiness, interval time.Duration) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if cs, err := readinessClient(kubeconfig); err == nil {
			if _, err := cs.Discovery().ServerVersion(); err == nil {
				r.Run(ctx, cs, interval)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func readinessClient(kubeconfig string) (*kubernetes.Clientset, error) {
	if _, err := os.Stat(kubeconfig); err != nil {
		return nil, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// 10^4 nodes are listed once and then watched; protobuf keeps that cheap.
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	rc.UserAgent = "myriad-bench"
	rc.Timeout = 5 * time.Second
	return kubernetes.NewForConfig(rc)
}

func soakParameters(o soakOptions, dataDir string) map[string]string {
	return map[string]string{
		"nodes":                  strconv.Itoa(o.nodes),
		"duration":               o.duration.String(),
		"apiservers":             strconv.Itoa(o.apiservers),
		"nodeMonitorGracePeriod": o.grace.String(),
		"heartbeatInterval":      "10s (myriad nodes default)",
		"sampleInterval":         o.sampleInterval.String(),
		"scrapeInterval":         o.scrapeInterval.String(),
		"dataDir":                dataDir,
		"command":                strings.Join(os.Args, " "),
	}
}

func progressLine(p lab.Progress, nodes int) string {
	p99 := "-"
	if !math.IsNaN(p.LeaseP99) {
		p99 = fmt.Sprintf("%.1fms", p.LeaseP99*1000)
	}
	return fmt.Sprintf("soak %s elapsed, ETA %s | Ready %d/%d | lease renew p99 %s",
		p.Elapsed.Round(time.Second), p.Remaining.Round(time.Second), p.Ready.Ready, nodes, p99)
}
