package nodesim

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/version"
)

// Annotations and labels that make up nodesim's contract with the cluster.
const (
	// FailureAnnotation on a Node marks it failed. Value "heartbeat": stop
	// Lease renewals and NodeStatus updates and stop touching the node's pods.
	FailureAnnotation = "nodes.myriad.dev/failure"
	// FailureHeartbeat is the only failure mode so far.
	FailureHeartbeat = "heartbeat"

	// SimulatedLabel marks Nodes run by nodesim (value "true").
	SimulatedLabel = "nodes.myriad.dev/simulated"

	// RunDurationAnnotation on a pod overrides Config.JobDuration for it.
	RunDurationAnnotation = "nodes.myriad.dev/run-duration"
	// ExitCodeAnnotation on a pod sets the exit code of its containers when
	// they finish (jobs) — 0 by default.
	ExitCodeAnnotation = "nodes.myriad.dev/exit-code"
	// StopDurationAnnotation on a pod says how long its containers take to
	// exit after deletion; the grace period still caps it. Default: the
	// grace period for a container whose PID 1 ignores SIGTERM (a shell or
	// sleep), else 0 (stopsignal.go).
	StopDurationAnnotation = "nodes.myriad.dev/stop-duration"
)

// Heartbeat modes (Config.HeartbeatMode).
const (
	HeartbeatLease  = "lease"
	HeartbeatStatus = "status"
)

// NoImages as Config.Images reports an empty status.images.
const NoImages = -1

// MaxImages is the kubelet's default --node-status-max-images.
const MaxImages = 50

// What NodeStatus.nodeInfo reports besides the per-node IDs: a node as a
// current kubeadm or managed-cluster worker looks. The kubelet version is the
// cluster's own (KubeletVersion).
const (
	ContainerRuntimeVersion = "containerd://2.1.4"
	OSImage                 = "Ubuntu 24.04.3 LTS"
	KernelVersion           = "6.8.0-87-generic"
	instanceType            = "myriad.sim"
	region                  = "region-1"
	// DefaultKubeletPort is the kubelet's --port, where nodes' kubelet API
	// listens unless Config.KubeletAPI says otherwise.
	DefaultKubeletPort = 10250
)

// KubeletVersion is what simulated nodes report as nodeInfo.kubeletVersion:
// the Kubernetes version linked into this binary, the same the API server
// reports, as on a cluster whose kubelets match its control plane.
var KubeletVersion = version.Kubernetes()

// Config says how many nodes to run and how they behave. Zero fields are
// filled by Default.
type Config struct {
	Count      int    // number of nodes
	NamePrefix string // node i is fmt.Sprintf("%s%d", NamePrefix, i); default "myriad-node-"
	StartIndex int    // first index, so several processes can split a fleet

	Capacity corev1.ResourceList // default cpu 32, memory 256Gi, pods 110, ephemeral-storage 1Ti; allocatable = capacity
	Labels   map[string]string   // extra labels on every node
	Taints   []corev1.Taint
	Zones    int    // default 3: topology.kubernetes.io/zone = "zone-<i%Zones>"
	PodCIDR  string // default "10.128.0.0/9"; node i gets the i-th /24 inside it

	HeartbeatInterval    time.Duration // Lease renew period, default 10s
	LeaseDuration        time.Duration // default 40s
	StatusReportInterval time.Duration // full NodeStatus at most this often unless something changed, default 5m
	// HeartbeatMode is how a node says it is alive: HeartbeatLease (default,
	// what kubelets do since NodeLease) or HeartbeatStatus (the kubelet
	// before NodeLease: no Lease, and every HeartbeatInterval a NodeStatus
	// patch computed from the node's previous status, which carries the
	// conditions and the rest only when it changed; StatusReportInterval
	// is then unused).
	HeartbeatMode string

	// Images is how many container images each node reports in
	// status.images (the kubelet reports up to 50, largest first); they are
	// most of a real NodeStatus's bytes. Default 20; NoImages reports none.
	Images int

	// JobDuration is how long containers of pods with restartPolicy other
	// than Always run before exiting (default 2s; RunDurationAnnotation
	// overrides it per pod, ExitCodeAnnotation sets the exit code).
	JobDuration time.Duration
	// InitDuration is how long a pod's init containers run, all together,
	// before its main containers start. Default 200ms.
	InitDuration time.Duration

	// ImageCatalog says which digest each image reference resolves to
	// (imageID); nil derives one per reference.
	ImageCatalog *ImageCatalog
	// Profile is how long the nodes' runtime takes to create a sandbox,
	// pull an image and start a container; the zero Profile (the fast
	// one) takes no time.
	Profile Profile

	// Workers bounds write concurrency of registration, default 32.
	Workers int
	// PodWorkers bounds how many pods are synced (their status written) at
	// once; default Count/20, at least Workers. Each kubelet writes its own
	// pods' status, so 2,000 real nodes start pods in parallel; a fixed
	// pool made the simulator the pods' bottleneck. Measured with `bench
	// density --nodes 2000 --pods 20000` on 2 cores: 32 workers started
	// ~40 pods/s while ~95/s were created and bound, the queue grew past
	// 10,000 pods, and pod startup p99 reached 107 s with scheduling p99
	// at 5 s.
	PodWorkers int
	// HeartbeatWorkers bounds how many heartbeats are in flight at once;
	// default Count/20, at least Workers. Each kubelet renews on its own,
	// so 10,000 real nodes keep renewing however slow the API server gets;
	// a small pool would make simulated nodes the first to go NotReady
	// when requests slow down (32 writers at 100 ms renew 320 Leases a
	// second, a third of what 10,000 nodes need). Count/20 renews every
	// node once per 10 s interval at up to half a second per request.
	HeartbeatWorkers int
	// KubeletVersion is reported as nodeInfo.kubeletVersion; default
	// KubeletVersion, the cluster's own.
	KubeletVersion string

	// KubeletAPI serves the kubelet API (logs, exec, attach, port-forward)
	// for every node; nil serves none and nodes still advertise
	// DefaultKubeletPort.
	KubeletAPI *KubeletAPIConfig

	// Events turns on the kubelets' events about pods (Pulling, Pulled,
	// Created, Started, Killing, BackOff, Unhealthy, admission failures)
	// and nodes (Rebooted, NodeReady after a recovery); see events.go.
	Events bool

	Clock    clock.WithTicker      // default real clock; tests inject a fake
	Registry prometheus.Registerer // metrics are registered only if non-nil
}

// Default fills zero fields.
func (c *Config) Default() {
	if c.NamePrefix == "" {
		c.NamePrefix = "myriad-node-"
	}
	if c.Capacity == nil {
		c.Capacity = corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("32"),
			corev1.ResourceMemory:           resource.MustParse("256Gi"),
			corev1.ResourcePods:             resource.MustParse("110"),
			corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
		}
	}
	if c.Zones == 0 {
		c.Zones = 3
	}
	if c.PodCIDR == "" {
		c.PodCIDR = "10.128.0.0/9"
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 10 * time.Second
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = 40 * time.Second
	}
	if c.StatusReportInterval == 0 {
		c.StatusReportInterval = 5 * time.Minute
	}
	if c.HeartbeatMode == "" {
		c.HeartbeatMode = HeartbeatLease
	}
	if c.Images == 0 {
		c.Images = 20
	}
	if c.JobDuration == 0 {
		c.JobDuration = 2 * time.Second
	}
	if c.InitDuration == 0 {
		c.InitDuration = 200 * time.Millisecond
	}
	if c.Workers == 0 {
		c.Workers = 32
	}
	if c.HeartbeatWorkers == 0 {
		c.HeartbeatWorkers = max(c.Workers, c.Count/20)
	}
	if c.PodWorkers == 0 {
		c.PodWorkers = max(c.Workers, c.Count/20)
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.KubeletVersion == "" {
		c.KubeletVersion = KubeletVersion
	}
}

// Validate reports every invalid field, each named as the CLI user knows it.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Count <= 0 {
		bad("Count", "must be positive, got %d", c.Count)
	}
	if c.StartIndex < 0 {
		bad("StartIndex", "must not be negative, got %d", c.StartIndex)
	}
	if c.NamePrefix != "" {
		// The longest name must still be a DNS subdomain.
		last := fmt.Sprintf("%s%d", c.NamePrefix, c.StartIndex+max(c.Count, 1)-1)
		if msgs := validation.IsDNS1123Subdomain(last); len(msgs) > 0 {
			bad("NamePrefix", "node name %q is invalid: %s", last, msgs[0])
		}
	}
	for k, v := range c.Labels {
		for _, m := range validation.IsQualifiedName(k) {
			bad("Labels", "key %q: %s", k, m)
		}
		for _, m := range validation.IsValidLabelValue(v) {
			bad("Labels", "value %q of %q: %s", v, k, m)
		}
	}
	for i, t := range c.Taints {
		if t.Key == "" {
			bad(fmt.Sprintf("Taints[%d].key", i), "must not be empty")
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			bad(fmt.Sprintf("Taints[%d].effect", i), "must be NoSchedule, PreferNoSchedule or NoExecute, got %q", t.Effect)
		}
	}
	for name, q := range c.Capacity {
		if q.Sign() < 0 {
			bad("Capacity", "%s must not be negative, got %s", name, q.String())
		}
	}
	if c.Count > 0 && c.StartIndex >= 0 && c.StartIndex+c.Count > maxNodes {
		bad("Count", "StartIndex+Count must be at most %d (node addresses come from %s), got %d", maxNodes, NodeAddressRange, c.StartIndex+c.Count)
	}
	if k := c.KubeletAPI; k != nil {
		if k.Port < 0 || k.Port > 65535 {
			bad("KubeletAPI.Port", "must be a TCP port (1-65535, or 0 for any free one), got %d", k.Port)
		}
		if k.ServingCerts == "" || k.ServingKey == "" || k.ClientCA == "" {
			bad("KubeletAPI", "needs the serving certificates, their key and the client CA (--kubelet-serving-certs, --kubelet-serving-key, --kubelet-client-ca)")
		}
		if len(k.AllowedClients) == 0 {
			bad("KubeletAPI.AllowedClients", "must name at least one client certificate common name (--kubelet-allowed-clients), e.g. the API server's kubelet client")
		}
	}
	if err := c.Profile.validate(); err != nil {
		bad("Profile", "%v", err)
	}
	if c.Zones < 0 {
		bad("Zones", "must be positive, got %d", c.Zones)
	}
	if c.PodCIDR != "" && c.Count > 0 && c.StartIndex >= 0 {
		if _, err := nodeCIDR(c.PodCIDR, c.StartIndex+c.Count-1); err != nil {
			bad("PodCIDR", "%v", err)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"HeartbeatInterval", c.HeartbeatInterval},
		{"LeaseDuration", c.LeaseDuration},
		{"StatusReportInterval", c.StatusReportInterval},
		{"JobDuration", c.JobDuration},
		{"InitDuration", c.InitDuration},
	} {
		if d.v < 0 {
			bad(d.name, "must not be negative, got %s", d.v)
		}
	}
	if c.HeartbeatInterval > 0 && c.LeaseDuration > 0 && c.LeaseDuration <= c.HeartbeatInterval {
		bad("LeaseDuration", "must be longer than HeartbeatInterval (%s), got %s", c.HeartbeatInterval, c.LeaseDuration)
	}
	if c.LeaseDuration > 0 && c.LeaseDuration < time.Second {
		bad("LeaseDuration", "must be at least 1s (Lease holds whole seconds), got %s", c.LeaseDuration)
	}
	switch c.HeartbeatMode {
	case "", HeartbeatLease, HeartbeatStatus:
	default:
		bad("HeartbeatMode", "must be %q or %q, got %q", HeartbeatLease, HeartbeatStatus, c.HeartbeatMode)
	}
	if c.Images > MaxImages || c.Images < NoImages {
		bad("Images", "must be between 0 and %d (the kubelet's default --node-status-max-images), got %d", MaxImages, c.Images)
	}
	if c.Workers < 0 {
		bad("Workers", "must be positive, got %d", c.Workers)
	}
	if c.HeartbeatWorkers < 0 {
		bad("HeartbeatWorkers", "must be positive, got %d", c.HeartbeatWorkers)
	}
	if c.PodWorkers < 0 {
		bad("PodWorkers", "must be positive, got %d", c.PodWorkers)
	}
	return errors.Join(errs...)
}

// nodeCIDR returns the index-th /24 inside cidr.
func nodeCIDR(cidr string, index int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse %q: %w", cidr, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q: only IPv4 is supported", cidr)
	}
	if p.Bits() > 24 {
		return netip.Prefix{}, fmt.Errorf("%q is smaller than one /24", cidr)
	}
	p = p.Masked()
	slots := 1 << (24 - p.Bits())
	if index < 0 || index >= slots {
		return netip.Prefix{}, fmt.Errorf("%q holds %d /24 node ranges, node index %d does not fit", cidr, slots, index)
	}
	a := p.Addr().As4()
	base := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8
	base += uint32(index) << 8
	return netip.PrefixFrom(u32Addr(base), 24), nil
}

// maxNodes is how many node addresses internalIP can hand out.
const maxNodes = 4096 * 254

// NodeAddressRange holds every simulated node's InternalIP. It is inside
// 127.0.0.0/8, which Linux routes to the loopback interface as a whole, so
// each node has an address of its own that only this machine can reach:
// the kubelet API tells nodes apart by the address a connection came to
// (see kubeletapi), with one listening socket for all of them.
const NodeAddressRange = "127.16.0.0/12"

// NodeAddress is node index's InternalIP in NodeAddressRange, skipping .0
// and .255 host parts so every address looks usable.
func NodeAddress(index int) netip.Addr {
	const base = 127<<24 | 16<<16
	// 254 hosts per /24, 4096 /24s in the /12: ~1M nodes.
	n := uint32(index)
	return u32Addr(base + (n/254)<<8 + n%254 + 1)
}

// NodeIndex inverts NodeAddress; ok is false for addresses it never hands
// out.
func NodeIndex(a netip.Addr) (int, bool) {
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	if b[0] != 127 || b[1]&0xf0 != 16 || b[3] == 0 || b[3] == 255 {
		return 0, false
	}
	block := int(b[1]&0x0f)<<8 | int(b[2])
	return block*254 + int(b[3]) - 1, true
}

func internalIP(index int) netip.Addr { return NodeAddress(index) }

func u32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
