package rig

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/lab"
)

// Rig is the cluster under test and what samples it.
//
// A test builds one with New and a fake clientset; Start and Attach build
// real ones.
type Rig struct {
	Clock clock.WithTicker
	// Kubeconfig is the admin kubeconfig; Config and Client use it with
	// protobuf and no client-side rate limit worth the name: the bench
	// paces its own writes.
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	// Cluster is the cluster started for the run; nil when attached.
	Cluster *controlplane.Cluster
	// DataDir is the started cluster's data directory.
	DataDir string
	// MetricsPort is the started simulator's metrics port.
	MetricsPort int
	// StartedAt is when the rig began: recording starts there.
	StartedAt time.Time
	// Procs samples every process of the run (components, extra
	// components, the bench itself); Ready watches node readiness.
	Procs *lab.ProcSampler
	Ready *lab.Readiness

	opts     Options
	con      *lab.Console
	cluster  atomic.Pointer[controlplane.Cluster]
	stopRec  context.CancelFunc
	recDone  sync.WaitGroup
	stopOnce sync.Once

	mu     sync.Mutex
	extras map[string]*Component
}

// New is a rig around a client, for tests and for callers that built the
// client themselves: nothing is started or sampled.
func New(clk clock.WithTicker, client kubernetes.Interface) *Rig {
	return &Rig{Clock: clk, Client: client, StartedAt: clk.Now(), Ready: lab.NewReadiness(clk), extras: map[string]*Component{}}
}

// Start starts `myriad up` with o and returns once every node is Ready or
// start-up failed. Processes and readiness are recorded from before the
// first component starts. While start-up runs, starting (if not nil) is
// the progress line, every second. On error the rig is still returned:
// its samples show how far start-up got; Stop it as usual.
func Start(ctx context.Context, o Options, con *lab.Console, starting func(lab.ReadyPoint, time.Duration) string) (*Rig, error) {
	clk := clock.RealClock{}
	r := &Rig{Clock: clk, StartedAt: clk.Now(), DataDir: o.DataDir, opts: o, con: con, extras: map[string]*Component{}}
	// The bench drives its own cluster as the super-admin, whose
	// system:masters group API Priority and Fairness exempts, as the admin
	// was when earlier figures were taken: the load a scenario offers is
	// its own, never throttled by its driver's priority level.
	r.Kubeconfig = controlplane.DataDir{Root: o.DataDir}.SuperAdminKubeconfig()
	up, err := r.upOptions()
	if err != nil {
		return r, err
	}
	r.record(up.APIServers)
	upDone := make(chan struct{})
	if starting != nil {
		go func() {
			t := clk.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-upDone:
					return
				case <-t.C():
					con.Progress(starting(r.Ready.Current(), clk.Since(r.StartedAt)))
				}
			}
		}()
	}
	c, err := controlplane.Up(ctx, up)
	close(upDone)
	con.EndProgress()
	if err != nil {
		return r, err
	}
	r.cluster.Store(c)
	r.Cluster = c
	return r, r.connect()
}

// Attach uses the cluster o.Kubeconfig points at. Only the bench's own
// process is sampled: the cluster's processes are not this machine's to
// read.
func Attach(ctx context.Context, o Options, con *lab.Console) (*Rig, error) {
	clk := clock.RealClock{}
	r := &Rig{Clock: clk, StartedAt: clk.Now(), Kubeconfig: o.Kubeconfig, opts: o, con: con, extras: map[string]*Component{}}
	r.record(0)
	if err := r.connect(); err != nil {
		return r, err
	}
	if _, err := r.Client.Discovery().ServerVersion(); err != nil {
		return r, fmt.Errorf("--kubeconfig %s: the API server does not answer: %w", o.Kubeconfig, err)
	}
	return r, nil
}

func (r *Rig) connect() error {
	rc, err := kubeclient.Config(r.Kubeconfig, kubeclient.Options{QPS: 5000, Burst: 5000, Protobuf: true, UserAgent: "myriad-bench"})
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	r.Config, r.Client = rc, cs
	return nil
}

// upOptions are `myriad up`'s options for the run, with free ports where
// the user left them at 0 and the simulator serving metrics.
func (r *Rig) upOptions() (controlplane.Options, error) {
	o := r.opts
	bin, err := os.Executable()
	if err != nil {
		return controlplane.Options{}, fmt.Errorf("find own executable: %w", err)
	}
	up := controlplane.Options{
		DataDir: o.DataDir, Nodes: o.Nodes, APIServers: o.APIServers, Port: o.Port, EtcdPort: o.EtcdPort,
		EtcdPortSet: o.EtcdPort != 0, BindAddress: "127.0.0.1", EtcdQuota: controlplane.DefaultEtcdQuota,
		NodeMonitorGracePeriod: o.NodeMonitorGracePeriod, Binary: bin, ReadyTimeout: o.ReadyTimeout,
		MaxRequestsInflight: o.MaxRequestsInflight, MaxMutatingRequestsInflight: o.MaxMutatingRequestsInflight,
		Scheduler: o.Scheduler, Out: r.con, MetricsServer: o.MetricsServer, HA: o.HA,
		APIServerMemory: o.APIServerMemory, Profile: o.Profile,
	}
	ports, err := controlplane.FreePorts(2, up.Port, up.EtcdPort, up.EtcdPort+1)
	if err != nil {
		return up, err
	}
	if up.Port == 0 {
		up.Port = ports[1]
	}
	if up.EtcdPort == 0 {
		ports := 2
		if o.HA {
			ports = 2 * controlplane.EtcdHAMembers
		}
		if up.EtcdPort, err = freePortRun(up.Port, ports); err != nil {
			return up, err
		}
	}
	r.MetricsPort = ports[0]
	up.NodeArgs = append([]string{"--metrics-addr", "127.0.0.1:" + strconv.Itoa(r.MetricsPort)}, o.NodeArgs...)
	if o.NodeProfile != "" {
		up.NodeArgs = append(up.NodeArgs, "--node-profile", o.NodeProfile)
	}
	return up, nil
}

// freePortRun finds p such that p..p+n-1 are free (etcd's client and
// peer ports, of each member under --ha) and none is avoid.
func freePortRun(avoid, n int) (int, error) {
	for range 50 {
		p, err := controlplane.FreePort()
		if err != nil {
			return 0, err
		}
		if (avoid >= p && avoid < p+n) || p+n > 65536 {
			continue
		}
		free := true
		for q := p + 1; q < p+n && free; q++ {
			free = controlplane.CheckPortFree("127.0.0.1", q, "--etcd-port") == nil
		}
		if free {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no %d adjacent free ports for etcd; give --etcd-port", n)
}

// record starts sampling processes and node readiness; it runs until Stop.
func (r *Rig) record(apiservers int) {
	self := os.Getpid()
	interval := r.opts.SampleInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	r.Procs = &lab.ProcSampler{Clock: r.Clock, Interval: interval, Pids: func() map[string]int {
		pids := r.pids(self, apiservers)
		pids["bench"] = self // informers, scrapes, writers (and the balancer of several API servers)
		return pids
	}}
	r.Ready = lab.NewReadiness(r.Clock)
	ctx, stop := context.WithCancel(context.Background())
	r.stopRec = stop
	r.recDone.Go(func() { r.Procs.Run(ctx) })
	r.recDone.Go(func() { r.watchReadiness(ctx, interval) })
}

func (r *Rig) pids(self, apiservers int) map[string]int {
	pids := map[string]int{}
	if c := r.cluster.Load(); c != nil {
		pids = c.Supervisor.Pids()
	} else if !r.opts.Attached() {
		pids = lab.ChildPids("", self) // before Up returns its supervisor
		// While only the first of several API servers runs, ChildPids
		// cannot number it; the supervisor calls it kube-apiserver-0.
		if pid, ok := pids["kube-apiserver"]; ok && apiservers > 1 {
			delete(pids, "kube-apiserver")
			pids["kube-apiserver-0"] = pid
		}
		if pids == nil {
			pids = map[string]int{}
		}
	}
	r.mu.Lock()
	for name, c := range r.extras {
		if pid := c.sup.Pids()[name]; pid > 0 {
			pids[name] = pid
		}
	}
	r.mu.Unlock()
	return pids
}

// watchReadiness starts the node watch as soon as the API server answers,
// so the report shows nodes becoming Ready during start-up too.
func (r *Rig) watchReadiness(ctx context.Context, interval time.Duration) {
	tick := r.Clock.NewTicker(time.Second)
	defer tick.Stop()
	for {
		// Load fails until `myriad up` has written the kubeconfig.
		if cs, err := kubeclient.Clientset(r.Kubeconfig, kubeclient.Options{Protobuf: true, UserAgent: "myriad-bench", Timeout: 5 * time.Second}); err == nil {
			if _, err := cs.Discovery().ServerVersion(); err == nil {
				r.Ready.Run(ctx, cs, interval)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

// Processes are the process samples so far (all of them once stopped).
func (r *Rig) Processes() map[string][]lab.ProcSample {
	if r == nil || r.Procs == nil {
		return nil
	}
	return r.Procs.Series()
}

// StopRecording ends the sampling; the cluster keeps running.
func (r *Rig) StopRecording() {
	r.stopOnce.Do(func() {
		if r.stopRec != nil {
			r.stopRec()
			r.recDone.Wait()
		}
	})
}

// Stop ends the sampling, every extra component and the started cluster;
// the data directory is kept. It is safe on a nil or failed rig.
func (r *Rig) Stop() {
	if r == nil {
		return
	}
	r.StopRecording()
	r.mu.Lock()
	extras := r.extras
	r.extras = map[string]*Component{}
	r.mu.Unlock()
	for _, c := range extras {
		c.sup.Stop()
	}
	if r.Cluster != nil {
		r.printf("stopping the cluster ...")
		r.Cluster.Stop()
		r.printf("cluster data and component logs kept in %s", r.DataDir)
	}
}

func (r *Rig) printf(format string, args ...any) {
	if r.con != nil {
		r.con.Printf(format, args...)
	}
}

// Options are the options the rig was made with.
func (r *Rig) Options() Options { return r.opts }
