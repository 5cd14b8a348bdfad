package cli

// What the scenarios not yet moved onto pkg/lab/scenario still share: the
// old cluster flags and recorded cluster. pkg/lab/rig replaces all of it;
// this file goes when the last of them has moved.

import (
	"context"
	"errors"
	"fmt"
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

// recordedInput is what a recorded cluster recorded.
type recordedInput struct {
	Machine    lab.Machine
	Parameters map[string]string
	Nodes      int
	Duration   time.Duration
	StartedAt  time.Time
	StartupErr error
	Procs      map[string][]lab.ProcSample
	Ready      *lab.Readiness
	StoppedAt  time.Time
}

type soakOptions struct {
	nodes, apiservers, port, etcdPort int
	duration, grace, readyTimeout     time.Duration
	sampleInterval, scrapeInterval    time.Duration
	out, dataDir                      string
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

// recordedCluster is a cluster started with controlplane.Up while its
// processes and node readiness are recorded from the first second, so a
// run that never reaches its size still shows how far it got.
type recordedCluster struct {
	in          recordedInput         // StartedAt, Machine, ...; StartupErr if Up failed
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
	rc := &recordedCluster{in: recordedInput{
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
