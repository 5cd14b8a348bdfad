package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// Options are the user's choices for `myriad up`.
type Options struct {
	DataDir    string
	Nodes      int
	APIServers int
	Port       int
	EtcdPort   int
	// EtcdPortSet says the user chose EtcdPort, rather than the default.
	EtcdPortSet bool
	BindAddress string
	EtcdQuota   int64
	// NodeMonitorGracePeriod is passed to the node lifecycle controller.
	NodeMonitorGracePeriod time.Duration
	// MaxRequestsInflight and MaxMutatingRequestsInflight are each API
	// server's concurrency; 0 is the default (see inflight.go).
	MaxRequestsInflight, MaxMutatingRequestsInflight int
	// APIServerMemory bounds each API server's memory (apiservermemory.go).
	APIServerMemory APIServerMemory
	// Profile is a named set of settings (profile.go) filling in what the
	// fields above leave unset.
	Profile string
	// NodeArgs are extra flags for the node simulator (`myriad nodes`).
	NodeArgs []string
	// ManagerArgs are extra flags for the workload controllers (`myriad
	// manager`).
	ManagerArgs []string
	// SidecarSetRevisionNamespace, when set, is created if missing and
	// handed to the manager (--sidecarset-revision-namespace).
	SidecarSetRevisionNamespace string
	// Binary is the myriad executable the children run.
	Binary string
	// Out receives progress lines.
	Out io.Writer
	// ReadyTimeout bounds each component's start-up.
	ReadyTimeout time.Duration
	// Scheduler is "myriad" (Myriad's scheduler as default-scheduler; also
	// when empty), "kube" (kube-scheduler), or "none" (no scheduler:
	// `myriad bench scheduler` starts its own).
	Scheduler string
	// MetricsServer runs metrics-server (the Metrics API) scraping every
	// MetricsResolution (0: MetricsResolution(Nodes)).
	MetricsServer     bool
	MetricsResolution time.Duration
	// AuditPolicy turns on the API server's audit log: "default" for
	// Myriad's policy (DefaultAuditPolicy) or the path of a policy file.
	AuditPolicy string
	// HA runs three etcd members and two instances of every leader-elected
	// controller (see ha.go); APIServers should then be 3 or more.
	HA bool
}

// Validate rejects bad options with a line that names the flag.
func (o Options) Validate() error {
	switch {
	case o.DataDir == "":
		return errors.New("--data-dir must not be empty")
	case o.Nodes < 0:
		return fmt.Errorf("--nodes must be 0 or more, got %d", o.Nodes)
	case o.APIServers < 1 || o.APIServers > 16:
		return fmt.Errorf("--apiservers must be between 1 and 16, got %d", o.APIServers)
	case o.Port < 1 || o.Port > 65535:
		return fmt.Errorf("--port must be a TCP port (1-65535), got %d", o.Port)
	case o.EtcdPort < 1 || o.EtcdPort > 65534:
		return fmt.Errorf("--etcd-port must be a TCP port (1-65534; the next one is etcd's peer port), got %d", o.EtcdPort)
	case o.HA && o.EtcdPort > 65535-2*EtcdHAMembers+1:
		return fmt.Errorf("--etcd-port must leave room for %d etcd members' ports (--ha uses %d from it), got %d", EtcdHAMembers, 2*EtcdHAMembers, o.EtcdPort)
	case o.Port >= o.EtcdPort && o.Port < o.EtcdPort+len(o.etcdPorts()):
		return fmt.Errorf("--port %d collides with etcd's ports %d-%d; choose another --port or --etcd-port", o.Port, o.EtcdPort, o.EtcdPort+len(o.etcdPorts())-1)
	case net.ParseIP(o.BindAddress) == nil:
		return fmt.Errorf("--bind-address must be an IP address, got %q", o.BindAddress)
	case o.EtcdQuota < 64<<20:
		return fmt.Errorf("--etcd-quota must be at least 64Mi, got %d bytes", o.EtcdQuota)
	case o.Scheduler != "" && o.Scheduler != "kube" && o.Scheduler != "myriad" && o.Scheduler != "none":
		return fmt.Errorf("--scheduler must be kube, myriad or none, got %q", o.Scheduler)
	case o.MetricsResolution != 0 && o.MetricsResolution < 10*time.Second:
		return fmt.Errorf("--metric-resolution must be at least 10s (metrics-server's minimum), got %s", o.MetricsResolution)
	case o.NodeMonitorGracePeriod < 15*time.Second:
		return fmt.Errorf("--node-monitor-grace-period must be at least 15s (nodes renew leases every 10s), got %s", o.NodeMonitorGracePeriod)
	}
	if err := validInflight("--max-requests-inflight", o.MaxRequestsInflight); err != nil {
		return err
	}
	if err := o.APIServerMemory.Validate(); err != nil {
		return err
	}
	if err := ValidProfile(o.Profile); err != nil {
		return err
	}
	return validInflight("--max-mutating-requests-inflight", o.MaxMutatingRequestsInflight)
}

// Cluster is a running `myriad up`.
type Cluster struct {
	Plan       Plan
	Supervisor *supervisor.Supervisor
	// Handovers release the Lease of a leader-elected component that died
	// while leading, by component name (see LeaseHandover).
	Handovers map[string]*LeaseHandover
	events    chan supervisor.Event
	release   func()
	cancelLB  []context.CancelFunc // the balancers' (API servers, webhook replicas)
	// cancelTenants stops the tenant host (tenanthost.go).
	cancelTenants context.CancelFunc
}

// Up starts every component and returns once the whole cluster is ready:
// etcd healthy, every API server ready, controllers and scheduler healthy
// and all simulated nodes Ready. On error everything started is stopped.
func Up(ctx context.Context, o Options) (_ *Cluster, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	dir := DataDir{Root: o.DataDir}
	stamp, fresh, err := dir.Inspect(o.EtcdPort)
	var damaged *DamagedStampError
	rewriteStamp := errors.As(err, &damaged) && o.EtcdPortSet
	if err != nil && !rewriteStamp {
		return nil, err
	}
	if stamp.Role == RoleTenantHost {
		return nil, fmt.Errorf("data directory %s belongs to a tenant host ('myriad tenant-host'), not a cluster; choose another --data-dir", o.DataDir)
	}
	if stamp.EtcdPort != o.EtcdPort {
		if o.EtcdPortSet {
			return nil, fmt.Errorf("data directory %s was created with --etcd-port %d; etcd keeps its address, so use that port", o.DataDir, stamp.EtcdPort)
		}
		o.EtcdPort = stamp.EtcdPort
	}
	// An existing directory is locked before the port checks, so a second
	// `myriad up` on it hears "in use by another myriad up", not "port busy".
	var release func()
	if !fresh {
		if release, err = dir.Lock(); err != nil {
			return nil, err
		}
	}
	for _, p := range append([]portUse{{o.Port, "--port"}}, o.etcdPorts()...) {
		if err := CheckPortFree(o.BindAddress, p.port, p.flag); err != nil {
			if release != nil {
				release()
			}
			return nil, err
		}
	}
	if fresh {
		if err := dir.Create(); err != nil {
			return nil, err
		}
		if release, err = dir.Lock(); err != nil {
			return nil, err
		}
	}
	if stamp.Upgraded {
		fmt.Fprintf(o.Out, "upgrading data directory %s to Kubernetes %s\n", o.DataDir, stamp.KubernetesVersion)
	}
	if fresh || rewriteStamp || stamp.Upgraded {
		if err := dir.WriteStamp(stamp); err != nil {
			release()
			return nil, err
		}
	}
	c := &Cluster{release: release, events: make(chan supervisor.Event, 64)}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	fmt.Fprintf(o.Out, "myriad up: %d nodes, %d API server(s), data in %s\n", o.Nodes, o.APIServers, o.DataDir)
	o.APIServerMemory = o.APIServerMemory.WithProfile(o.Profile, MachineMemory())
	if o.Profile != ProfileDefault {
		fmt.Fprintf(o.Out, "  profile %s: API server memory: %s\n", o.Profile, o.APIServerMemory)
	}
	if err := dir.MakeDirs(); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", o.DataDir, err)
	}
	certs, err := EnsureCerts(dir, servingIPs(o.BindAddress)...)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	if report, err := CertReport(dir); err == nil {
		for _, w := range CAWarnings(report, time.Now()) {
			fmt.Fprintf(o.Out, "WARNING: %s\n", w)
		}
	}
	plan := Plan{Dir: dir, Certs: certs, BindAddress: o.BindAddress, EtcdPort: o.EtcdPort, EtcdMembers: 1, APIPort: o.Port,
		NodeMonitorGracePeriod: o.NodeMonitorGracePeriod, APIServerMemory: o.APIServerMemory}
	if o.HA {
		plan.EtcdMembers = EtcdHAMembers
	}
	plan.MaxRequestsInflight, plan.MaxMutatingRequestsInflight = DefaultMaxRequestsInflight, DefaultMaxMutatingRequestsInflight
	if o.MaxRequestsInflight > 0 {
		plan.MaxRequestsInflight = o.MaxRequestsInflight
	}
	if o.MaxMutatingRequestsInflight > 0 {
		plan.MaxMutatingRequestsInflight = o.MaxMutatingRequestsInflight
	}
	if plan.EncryptionConfig, err = EnsureEncryptionConfig(dir); err != nil {
		return nil, err
	}
	if plan.AuditArgs, err = auditArgs(dir, o.AuditPolicy); err != nil {
		return nil, err
	}
	// Every port of the run is chosen in one call, so no two components are
	// handed the same one.
	fixed := []*int{&plan.ControllerManagerPort, &plan.SchedulerPort, &plan.ManagerMetricsPort,
		&plan.ManagerProbePort, &plan.WebhookPort, &plan.KubeletPort, &plan.StoragePort, &plan.MetricsServerPort, &plan.SyncerPort, &plan.TenantKubeletPort}
	apiServers := 0
	if o.APIServers > 1 {
		apiServers = o.APIServers
	}
	// Tenants' API servers start after the cluster and keep their ports
	// across restarts: none of those may go to a component first.
	given := []int{o.Port}
	for _, p := range o.etcdPorts() {
		given = append(given, p.port)
	}
	replicaPorts := 0
	if o.HA {
		replicaPorts = ControllerReplicas * portsPerReplica
	}
	ports, err := FreePorts(len(fixed)+apiServers+replicaPorts, append(slices.Clone(given), tenantPorts(dir)...)...)
	if err != nil {
		return nil, err
	}
	for i, p := range fixed {
		*p = ports[i]
	}
	plan.APIServerPort = ports[len(fixed) : len(fixed)+apiServers]
	plan.Replicas = replicasOf(ports[len(fixed)+apiServers:])
	if o.APIServers == 1 {
		plan.APIServerPort = []int{o.Port}
	}
	plan.Ports = append(slices.Clone(ports), given...)
	if plan.AdmissionConfig, err = writeWebhookClientConfig(dir, certs, plan.WebhookPort); err != nil {
		return nil, fmt.Errorf("webhook client credentials: %w", err)
	}
	c.Plan = plan
	if err := writeKubeconfigs(plan); err != nil {
		return nil, err
	}

	c.Supervisor = &supervisor.Supervisor{Binary: o.Binary, Events: c.events, StopTimeout: 20 * time.Second}
	go printEvents(o.Out, c.events)
	step := func(name string, p supervisor.Process) error {
		began := time.Now()
		fmt.Fprintf(o.Out, "  starting %s ...\n", name)
		if p.LogFile == "" {
			p.LogFile = filepath.Join(dir.Logs(), p.Name+".log")
		}
		if err := c.Supervisor.Start(ctx, p, o.ReadyTimeout); err != nil {
			return err
		}
		if p.Ready == nil {
			fmt.Fprintf(o.Out, "  %s started\n", name)
		} else {
			fmt.Fprintf(o.Out, "  %s ready (%.1fs)\n", name, time.Since(began).Seconds())
		}
		return nil
	}

	adminCert, adminKey := certs.Client(SuperAdminUser) // up's own identity, as upClient's
	if err := startEtcdMembers(ctx, o, plan, step); err != nil {
		return nil, err
	}
	if err := checkEtcdSpace(ctx, dir, certs, plan.EtcdClientPorts(), o.Out); err != nil {
		return nil, err
	}
	if err := enableEtcdAuth(ctx, certs, plan.EtcdClientPorts()); err != nil {
		return nil, err
	}
	apiReady := make([]func(context.Context) error, len(plan.APIServerPort))
	for i, port := range plan.APIServerPort {
		ready, err := httpsProbe(fmt.Sprintf("https://127.0.0.1:%d/readyz", port), certs.CA, adminCert, adminKey, "")
		if err != nil {
			return nil, err
		}
		apiReady[i] = ready
		name := "kube-apiserver"
		if len(plan.APIServerPort) > 1 {
			name = fmt.Sprintf("kube-apiserver-%d", i)
		}
		if err := step(name, supervisor.Process{Name: name, Ready: ready, Args: append([]string{"kube-apiserver"}, plan.APIServerArgs(i)...),
			Env: plan.APIServerMemory.env()}); err != nil {
			return nil, err
		}
	}
	if len(plan.APIServerPort) > 1 {
		if err := c.startBalancer(plan, apiReady); err != nil {
			return nil, err
		}
	}
	if err := ensureAdminBinding(ctx, dir); err != nil {
		return nil, err
	}
	cs, err := upClient(dir)
	if err != nil {
		return nil, err
	}
	if err := Bootstrap(ctx, cs); err != nil {
		return nil, fmt.Errorf("bootstrap cluster objects: %w", err)
	}
	if ns := o.SidecarSetRevisionNamespace; ns != "" {
		if err := ensureNamespace(ctx, cs, ns); err != nil {
			return nil, err
		}
		o.ManagerArgs = append(o.ManagerArgs, "--sidecarset-revision-namespace="+ns)
	}
	if err := InstallCRDs(ctx, dir, o.ReadyTimeout); err != nil {
		return nil, err
	}
	elected, err := c.startControllers(ctx, o, plan, cs, step)
	if err != nil {
		return nil, err
	}
	if err := step("myriad-storage", elected(storageProcess(plan))); err != nil {
		return nil, err
	}
	var proxyCert, proxyKey string
	if o.Nodes > 0 {
		if proxyCert, proxyKey, err = EnsureTenantKubeletServingCerts(dir, o.Nodes); err != nil {
			return nil, fmt.Errorf("tenant kubelet proxy certificates: %w", err)
		}
	}
	if err := step(syncerName, elected(syncerProcess(plan, proxyCert, proxyKey))); err != nil {
		return nil, err
	}
	if o.Nodes > 0 {
		servingCert, servingKey, err := EnsureNodeServingCerts(dir, o.Nodes)
		if err != nil {
			return nil, fmt.Errorf("kubelet serving certificates: %w", err)
		}
		// A port of its own per cluster, so several clusters on one
		// machine never collide on the node addresses they share.
		args := append([]string{"nodes", "--kubeconfig", dir.Kubeconfig("nodesim"), "--count", strconv.Itoa(o.Nodes),
			"--kubelet-port", strconv.Itoa(plan.KubeletPort), "--kubelet-serving-certs", servingCert, "--kubelet-serving-key", servingKey,
			"--kubelet-client-ca", certs.CA, "--kubelet-allowed-clients", KubeletClientUser, "--kubelet-metrics-clients", MetricsServerUser}, o.NodeArgs...)
		args = append(args, plan.endpointArgs(certs.NodesCert, certs.NodesKey)...)
		if err := step("simulated nodes", supervisor.Process{Name: "nodes", Args: args}); err != nil {
			return nil, err
		}
		// Registration is rate-bounded, so allow time in proportion to size.
		wait := o.ReadyTimeout + time.Duration(o.Nodes)*10*time.Millisecond
		if err := waitNodesReady(ctx, cs, o.Nodes, wait, o.Out); err != nil {
			return nil, err
		}
	}
	if err := c.startTenantHost(o); err != nil {
		return nil, err
	}
	if o.MetricsServer {
		resolution := o.MetricsResolution
		if resolution == 0 {
			resolution = MetricsResolution(o.Nodes)
		}
		ms, err := metricsServerProcess(plan, resolution)
		if err != nil {
			return nil, err
		}
		if err := step("metrics-server", ms); err != nil {
			return nil, err
		}
		if err := applyMetricsAPI(ctx, cs, plan); err != nil {
			return nil, fmt.Errorf("Metrics API: %w", err)
		}
	}
	return c, nil
}

// Failed receives an error when a component crash-loops and its
// supervisor gives up on it; the cluster then no longer works as a whole.
func (c *Cluster) Failed() <-chan error {
	if c.Supervisor == nil {
		return nil
	}
	return c.Supervisor.Failed()
}

// Stop stops every component in reverse order and releases the data
// directory.
func (c *Cluster) Stop() {
	if c.cancelTenants != nil {
		c.cancelTenants()
	}
	if c.Supervisor != nil {
		// The syncer watches every tenant's API server, and an API server
		// with watchers left waits for them (its request timeout, a
		// minute) before it exits: the syncer goes first, then the
		// tenants together (the supervisor stops expendable children at
		// once), then the rest in reverse order.
		_ = c.Supervisor.Remove(syncerName) // absent before it started
		c.Supervisor.Stop()
	}
	for _, cancel := range c.cancelLB {
		cancel()
	}
	if c.release != nil {
		c.release()
	}
}

// startBalancer puts the API servers behind --port, each skipped while
// its /readyz fails (a paused or overloaded server).
func (c *Cluster) startBalancer(plan Plan, ready []func(context.Context) error) error {
	l, err := net.Listen("tcp", net.JoinHostPort(plan.BindAddress, strconv.Itoa(plan.APIPort)))
	if err != nil {
		return fmt.Errorf("port %d (--port) is in use; choose another --port", plan.APIPort)
	}
	b := &Balancer{Healthy: func(ctx context.Context, i int) error { return ready[i](ctx) }}
	for _, p := range plan.APIServerPort {
		b.Backends = append(b.Backends, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	c.serve(b, l)
	return nil
}

// serve runs b on l until the cluster stops.
func (c *Cluster) serve(b *Balancer, l net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancelLB = append(c.cancelLB, cancel)
	go func() { _ = b.Serve(ctx, l) }()
}

// printEvents prints the supervisor's events (exits, restarts), one line
// each, until events is closed.
func printEvents(out io.Writer, events <-chan supervisor.Event) {
	for e := range events {
		fmt.Fprintf(out, "%s  %s: %s\n", time.Now().Format(time.TimeOnly), e.Process, e.Message)
	}
}

func writeKubeconfigs(p Plan) error {
	server := p.APIServerURL()
	for _, k := range []struct{ path, user string }{
		{p.Dir.AdminKubeconfig(), AdminUser},
		{p.Dir.SuperAdminKubeconfig(), SuperAdminUser},
		{p.Dir.Kubeconfig("controller-manager"), ControllerManagerUser},
		{p.Dir.Kubeconfig("scheduler"), SchedulerUser},
		{p.Dir.Kubeconfig("nodesim"), NodeSimUser},
		{p.Dir.Kubeconfig("manager"), ManagerUser},
		{p.Dir.Kubeconfig("storage"), StorageUser},
		{p.Dir.Kubeconfig("metrics-server"), MetricsServerUser},
		{p.Dir.Kubeconfig("syncer"), SyncerUser},
	} {
		cert, key := p.Certs.Client(k.user)
		if err := WriteKubeconfig(k.path, server, p.Certs.CA, cert, key, k.user); err != nil {
			return err
		}
	}
	return nil
}

// upClient is `up`'s own client: the super-admin, so that the cluster's
// own objects (components' RBAC, CRDs, webhook configuration) are kept
// even when the user has revoked the admin (adminbinding.go).
func upClient(dir DataDir) (*kubernetes.Clientset, error) {
	return kubeclient.Clientset(dir.SuperAdminKubeconfig(), kubeclient.Options{QPS: 100, Burst: 200, UserAgent: "myriad-up"})
}

// waitNodesReady watches nodes (one informer, not a poll of 10^4 objects)
// until want simulated nodes report Ready, printing progress.
func waitNodesReady(ctx context.Context, cs kubernetes.Interface, want int, timeout time.Duration, out io.Writer) error {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "nodes.myriad.dev/simulated=true"
	}))
	inf := factory.Core().V1().Nodes().Informer()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	began, lastPrint := time.Now(), time.Time{}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		t := tallyNodes(inf.GetStore().List())
		if t.ready >= want {
			fmt.Fprintf(out, "  %d/%d nodes Ready (%.1fs)\n", t.ready, want, time.Since(began).Seconds())
			return nil
		}
		if time.Since(lastPrint) >= 5*time.Second {
			fmt.Fprintf(out, "  %d/%d nodes Ready: %s ...\n", t.ready, want, t.waitingFor(want))
			lastPrint = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d nodes Ready after %s (%s; see logs/nodes.log and logs/kube-controller-manager*.log): %w",
				t.ready, want, timeout, t.waitingFor(want), ctx.Err())
		case <-tick.C:
		}
	}
}

// nodeTally counts simulated nodes by how far they are from schedulable,
// so that a start that hangs says which component it waits for.
type nodeTally struct {
	registered int // Node objects
	reporting  int // with Ready=True, set by the simulator
	ready      int // what the scheduler needs: Ready=True and no not-ready/unreachable taint
}

func tallyNodes(objs []any) nodeTally {
	var t nodeTally
	for _, obj := range objs {
		n := obj.(*corev1.Node)
		t.registered++
		if conditionReady(n) {
			t.reporting++
			if !notReadyTainted(n) {
				t.ready++
			}
		}
	}
	return t
}

// waitingFor gives the counts at each step and names the component behind
// the step most nodes are stuck at.
func (t nodeTally) waitingFor(want int) string {
	counts := fmt.Sprintf("%d registered, %d report Ready, %d untainted", t.registered, t.reporting, t.ready)
	gaps := []struct {
		n   int
		who string
	}{
		{want - t.registered, "the node simulator registers them"},
		{t.registered - t.reporting, "the node simulator reports them Ready"},
		{t.reporting - t.ready, "kube-controller-manager's node lifecycle controller lifts the not-ready taint"},
	}
	worst := gaps[0]
	for _, g := range gaps[1:] {
		if g.n > worst.n {
			worst = g
		}
	}
	if worst.n <= 0 {
		return counts
	}
	return counts + " (" + worst.who + ")"
}

func notReadyTainted(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			return true
		}
	}
	return false
}

func conditionReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// servingIPs are the addresses clients may use to reach an API server bound
// to bind: none beyond loopback by default, every interface address for
// 0.0.0.0 or ::, else the address itself.
func servingIPs(bind string) []net.IP {
	ip := net.ParseIP(bind)
	switch {
	case ip == nil || ip.IsLoopback():
		return nil
	case !ip.IsUnspecified():
		return []net.IP{ip}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			ips = append(ips, n.IP)
		}
	}
	return ips
}
