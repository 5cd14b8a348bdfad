package controlplane

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Plan is everything the control plane's processes need to know about each
// other: ports, certificates and tuning. It is computed once per `myriad up`
// and turned into each component's command line by the functions below.
type Plan struct {
	Dir         DataDir
	Certs       Certs
	BindAddress string // 127.0.0.1 unless the user asks otherwise
	// EtcdPort is the first etcd member's client port; EtcdMembers is how
	// many members there are (1, or EtcdHAMembers under --ha; see
	// EtcdMemberPorts for the others' ports).
	EtcdPort, EtcdMembers                int
	APIPort                              int   // what clients use: the API server, or the balancer in front of several
	APIServerPort                        []int // one per API server
	ControllerManagerPort, SchedulerPort int
	// The manager's loopback ports: Prometheus metrics, health probes, and
	// the admission webhook the API server calls.
	ManagerMetricsPort, ManagerProbePort, WebhookPort int
	// KubeletPort is where every simulated node's kubelet API listens.
	KubeletPort int
	// StoragePort serves `myriad storage`'s metrics and probes;
	// MetricsServerPort is metrics-server's (the Metrics API).
	StoragePort, MetricsServerPort int
	// SyncerPort serves `myriad syncer`'s metrics and probes;
	// TenantKubeletPort is its kubelet proxy's, which tenants' virtual
	// nodes report as their kubelet port.
	SyncerPort, TenantKubeletPort int
	// Replicas are the ports of each instance of the leader-elected
	// controllers under --ha (ha.go); empty without it, when the single
	// instance uses the ports above.
	Replicas []ReplicaPorts
	// Ports are all of the above and etcd's two: what a tenant's control
	// plane, started later, must not take.
	Ports []int
	// NodeMonitorGracePeriod is how long the node lifecycle controller waits
	// for a heartbeat before marking a node NotReady.
	NodeMonitorGracePeriod time.Duration
	// MaxRequestsInflight and MaxMutatingRequestsInflight are the API
	// servers' concurrency (see inflight.go).
	MaxRequestsInflight, MaxMutatingRequestsInflight int
	// APIServerMemory is the API servers' memory limit and watch cache
	// (apiservermemory.go).
	APIServerMemory APIServerMemory
	// EncryptionConfig encrypts Secrets at rest (EnsureEncryptionConfig);
	// AuditArgs are the API server's audit flags, empty when auditing is
	// off (auditArgs).
	EncryptionConfig string
	AuditArgs        []string
	// AdmissionConfig gives the API server its client certificate for the
	// manager's webhook (writeWebhookClientConfig); none when empty.
	AdmissionConfig string
}

// EtcdClientPorts are every etcd member's client port.
func (p Plan) EtcdClientPorts() []int {
	out := make([]int, max(p.EtcdMembers, 1))
	for i := range out {
		out[i], _ = EtcdMemberPorts(p.EtcdPort, i)
	}
	return out
}

// localEtcd is the etcd member API server i talks to: member i of
// several, as kubeadm's stacked control plane gives each API server its
// own node's member. etcd's client spreads requests over every endpoint
// it is given, so an API server given all three sends a third of its
// requests to a member that hangs (paused, a stuck disk) and they wait
// there for as long as it does (`myriad bench chaos` measured 8 s pauses
// stalling requests on every API server). With one member each, a hung
// member takes only its own API server out: that server's /readyz fails
// its etcd check, and the balancer stops sending to it and closes its
// connections.
func (p Plan) localEtcd(i int) []int {
	all := p.EtcdClientPorts()
	return all[i%len(all) : i%len(all)+1]
}

// APIServerURL is the endpoint every client (kubeconfig) uses.
func (p Plan) APIServerURL() string { return fmt.Sprintf("https://%s:%d", p.clientHost(), p.APIPort) }

func (p Plan) clientHost() string {
	if p.BindAddress == "0.0.0.0" || p.BindAddress == "" || p.BindAddress == "::" {
		return "127.0.0.1"
	}
	return p.BindAddress
}

// APIServerArgs is the kube-apiserver command line for server i.
func (p Plan) APIServerArgs(i int) []string {
	c := p.Certs
	args := []string{
		"--bind-address=" + p.BindAddress,
		"--secure-port=" + strconv.Itoa(p.APIServerPort[i]),
		"--advertise-address=" + p.clientHost(),
		"--etcd-servers=" + strings.Join(etcdEndpoints(p.localEtcd(i)), ","),
		"--etcd-cafile=" + c.EtcdCA,
		"--etcd-certfile=" + c.EtcdClientCert,
		"--etcd-keyfile=" + c.EtcdClientKey,
		"--tls-cert-file=" + c.APIServerCert,
		"--tls-private-key-file=" + c.APIServerKey,
		"--client-ca-file=" + c.CA,
		"--authorization-mode=Node,RBAC",
		"--anonymous-auth=false",
		"--allow-privileged=true",
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.ServiceAccountPub,
		"--service-account-signing-key-file=" + c.ServiceAccountKey,
		"--requestheader-client-ca-file=" + c.FrontProxyCA,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + c.FrontProxyClientCert,
		"--proxy-client-key-file=" + c.FrontProxyClientKey,
		"--enable-admission-plugins=NodeRestriction",
		// Logs, exec, attach and port-forward reach the simulated nodes'
		// kubelet API at their InternalIP (a loopback address; no node
		// hostname resolves), as a client of the CA-verified kubelet.
		"--kubelet-client-certificate=" + c.KubeletClientCert,
		"--kubelet-client-key=" + c.KubeletClientKey,
		"--kubelet-certificate-authority=" + c.CA,
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
		// The watch cache serves lists and watches from memory, which is what
		// keeps etcd out of the read path at 10^6 objects.
		"--watch-cache=true",
		"--etcd-compaction-interval=5m",
		// Room for every heartbeat of 10k nodes sent as one APF flow (see
		// inflight.go for what fewer seats did).
		"--max-requests-inflight=" + strconv.Itoa(p.MaxRequestsInflight),
		"--max-mutating-requests-inflight=" + strconv.Itoa(p.MaxMutatingRequestsInflight),
		"--profiling=false",
		"--v=1",
	}
	if p.EncryptionConfig != "" {
		// Reloaded when the file changes, so a key rotation needs no restart.
		args = append(args, "--encryption-provider-config="+p.EncryptionConfig,
			"--encryption-provider-config-automatic-reload=true")
	}
	args = append(args, p.AuditArgs...)
	args = append(args, p.APIServerMemory.args()...)
	if p.AdmissionConfig != "" {
		args = append(args, "--admission-control-config-file="+p.AdmissionConfig)
	}
	if len(p.APIServerPort) > 1 {
		// With several servers behind one address, a small chance of GOAWAY
		// makes long-lived HTTP/2 clients reconnect and so spread out
		// (upstream's recommended value).
		args = append(args, "--goaway-chance=0.001")
	}
	if net.ParseIP(p.clientHost()).IsLoopback() || i > 0 {
		// The "kubernetes" Service cannot point at a loopback address, and
		// with several servers only one may maintain its endpoints.
		args = append(args, "--endpoint-reconciler-type=none")
	}
	return args
}

// ControllerManagerArgs is the kube-controller-manager command line.
func (p Plan) ControllerManagerArgs() []string {
	kc := p.Dir.Kubeconfig("controller-manager")
	c := p.Certs
	args := append(p.servingArgs(kc, p.ControllerManagerPort, c.ControllerManagerCert, c.ControllerManagerKey),
		"--kubeconfig="+kc,
		// Each controller acts under its own service account, so RBAC limits
		// every controller rather than the process as a whole.
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+c.ServiceAccountKey,
		"--root-ca-file="+c.CA,
		"--cluster-signing-cert-file="+c.CA,
		"--cluster-signing-key-file="+c.CAKey,
		"--controllers=*",
		"--leader-elect=true",
		"--node-monitor-grace-period="+p.NodeMonitorGracePeriod.String(),
		// The default 20 QPS lets the node lifecycle and workload controllers
		// fall minutes behind at 10^4 nodes.
		"--kube-api-qps=300",
		"--kube-api-burst=600",
		"--profiling=false",
	)
	if p.standbyRetry() {
		args = append(args, handoverRetryPeriod)
	}
	return args
}

// SchedulerArgs is the kube-scheduler command line; configFile holds its
// KubeSchedulerConfiguration (see SchedulerConfig).
func (p Plan) SchedulerArgs(configFile string) []string {
	c := p.Certs
	return append(p.servingArgs(p.Dir.Kubeconfig("scheduler"), p.SchedulerPort, c.SchedulerCert, c.SchedulerKey),
		"--config="+configFile)
}

// servingArgs are the flags kube-controller-manager and kube-scheduler share
// for their health and metrics endpoint: loopback only, our certificate,
// and requests authenticated and authorized through the API server.
func (p Plan) servingArgs(kubeconfig string, port int, cert, key string) []string {
	return []string{
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + cert,
		"--tls-private-key-file=" + key,
		"--client-ca-file=" + p.Certs.CA,
		"--requestheader-client-ca-file=" + p.Certs.FrontProxyCA,
		"--v=1",
	}
}

// endpointArgs serve a Myriad component's own endpoint (--metrics-addr)
// over HTTPS with cert, /metrics to callers the API server authenticates
// (client certificates of the cluster CA, or tokens) and authorizes.
func (p Plan) endpointArgs(cert, key string) []string {
	return []string{"--tls-cert-file", cert, "--tls-private-key-file", key, "--client-ca-file", p.Certs.CA}
}

// endpointProbe is the readiness probe of such an endpoint at port. The
// client is made at each probe, so a missing file is the probe's error.
func (p Plan) endpointProbe(port int) func(context.Context) error {
	cert, key := p.Certs.Client(SuperAdminUser)
	return func(ctx context.Context) error {
		probe, err := httpsProbe(fmt.Sprintf("https://127.0.0.1:%d/readyz", port), p.Certs.CA, cert, key, "")
		if err != nil {
			return err
		}
		return probe(ctx)
	}
}

// SchedulerConfig is kube-scheduler's configuration. Its client QPS is
// raised from the default 50, which otherwise caps it at ~50 pods/s.
// Under --ha its standby tries a free Lease as often as Myriad's own
// components do (see standbyRetry).
func (p Plan) SchedulerConfig() string {
	cfg := fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: 5000
  burst: 5000
  contentType: application/vnd.kubernetes.protobuf
leaderElection:
  leaderElect: true
`, p.Dir.Kubeconfig("scheduler"))
	if p.standbyRetry() {
		cfg += "  retryPeriod: 500ms\n"
	}
	return cfg
}

// standbyRetry says whether upstream's controllers try a free Lease every
// 500 ms, as Myriad's own do under `up` (handoverRetryPeriod), rather than
// upstream's 2 s: under --ha, where a warm standby waits beside the
// leader. When the leader dies its Lease is released at once, and the
// standby, with its caches synced, should take it before the restarted
// leader, which starts cold, tries at its start a second or two later.
func (p Plan) standbyRetry() bool { return p.replicaCount() > 1 }
