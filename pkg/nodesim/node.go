package nodesim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	kubeletapis "k8s.io/kubelet/pkg/apis"
)

// simNode is all nodesim keeps per node: a few hundred bytes plus the last
// Lease, so 10^4 nodes fit in a few MB.
type simNode struct {
	index int // global index: Config.StartIndex + position
	name  string
	ip    netip.Addr
	ips   *podIPs // set before pod workers start; its prefix is the node's podCIDR

	failed    atomic.Bool
	recovered atomic.Bool // report Ready again (full NodeStatus) at the next heartbeat

	// Owned by whoever runs the node in the dispatcher (one worker at a time).
	registered bool
	uid        types.UID
	lease      *coordinationv1.Lease // last Lease the server returned
	nextStatus time.Time             // next periodic NodeStatus report
	readySince metav1.Time
	// bootID is the node's current boot (nodeInfo.bootID): kept from the
	// Node an earlier run registered, new when the node comes back from a
	// failure, which models a reboot.
	bootID string
	// conditions are the node's conditions as the server returned them
	// after the last status write (status mode only): the old side of the
	// next status patch. nil means unknown, and the next report is the
	// full status.
	conditions []corev1.NodeCondition
	// images is what the node's runtime has pulled; imagesReported what
	// the last full status listed of them (owned by the dispatcher's
	// worker).
	images         imageStore
	imagesReported imagesMark
	// memory and disk are the MemoryPressure and DiskPressure conditions
	// the eviction manager decided; pressureReported what the last status
	// written said (pressureBits; -1: unknown; owned by the dispatcher's
	// worker).
	memory, disk     pressure
	pressureReported int8
}

func (s *sim) nodeLabels(n *simNode) map[string]string {
	l := make(map[string]string, len(s.cfg.Labels)+8)
	maps.Copy(l, s.cfg.Labels)
	l[corev1.LabelHostname] = n.name
	l[corev1.LabelOSStable] = "linux"
	l[corev1.LabelArchStable] = "amd64"
	// A kubelet registers the beta OS and arch labels too; without them
	// kube-controller-manager's node lifecycle controller patches every
	// new node to add them, 10,000 writes at start-up.
	l[kubeletapis.LabelOS] = "linux"
	l[kubeletapis.LabelArch] = "amd64"
	l[corev1.LabelTopologyZone] = "zone-" + strconv.Itoa(n.index%s.cfg.Zones)
	l[corev1.LabelTopologyRegion] = region
	l[corev1.LabelInstanceTypeStable] = instanceType
	l[SimulatedLabel] = "true"
	return l
}

func (s *sim) newNode(n *simNode, now time.Time) *corev1.Node {
	cidr := n.ips.prefix.String()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: s.nodeLabels(n)},
		Spec: corev1.NodeSpec{
			PodCIDR:  cidr,
			PodCIDRs: []string{cidr},
			Taints:   append([]corev1.Taint(nil), s.cfg.Taints...),
		},
		Status: s.nodeStatus(n, now, true),
	}
}

// nodeStatus is what a healthy kubelet reports. With full=false only the
// conditions are filled: the periodic report only moves their heartbeat
// times, and a strategic merge patch keyed by condition type leaves every
// other field alone, as kubelet's two-way diff would.
func (s *sim) nodeStatus(n *simNode, now time.Time, full bool) corev1.NodeStatus {
	hb := metav1.NewTime(now)
	if n.readySince.IsZero() {
		n.readySince = hb
	}
	cond := func(t corev1.NodeConditionType, st corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: st, Reason: reason, Message: msg,
			LastHeartbeatTime: hb, LastTransitionTime: n.readySince}
	}
	st := corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		memoryCondition.condition(n, &n.memory, hb),
		diskCondition.condition(n, &n.disk, hb),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}}
	n.pressureReported = n.pressureBits()
	if !full {
		return st
	}
	st.Capacity = s.cfg.Capacity.DeepCopy()
	st.Allocatable = s.cfg.Capacity.DeepCopy()
	st.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: n.ip.String()},
		{Type: corev1.NodeHostName, Address: n.name},
	}
	// The API server reaches the kubelet API at InternalIP:port, which
	// this process serves when Config.KubeletAPI is set.
	st.DaemonEndpoints = corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(s.kubeletPort())}}
	if n.bootID == "" {
		n.bootID = newBootID()
	}
	st.NodeInfo = corev1.NodeSystemInfo{
		MachineID:               machineID(n.name),
		SystemUUID:              systemUUID(n.name),
		BootID:                  n.bootID,
		KernelVersion:           KernelVersion,
		OSImage:                 OSImage,
		ContainerRuntimeVersion: ContainerRuntimeVersion,
		KubeletVersion:          s.cfg.KubeletVersion,
		KubeProxyVersion:        "", // deprecated; kubelets leave it empty since v1.31
		OperatingSystem:         "linux",
		Architecture:            "amd64",
	}
	st.Images = n.images.statusImages(s.images, now, MaxImages)
	n.imagesReported = n.images.mark(now)
	return st
}

// patchStatus sends NodeStatus with a strategic merge patch on the status
// subresource. A patch is JSON whatever the client's content type, so its
// size on the wire is len(data).
//
// In status mode a heartbeat is what kubelets sent before NodeLease: the
// two-way strategic merge patch from the node's previous status to the
// current one (kubelet's tryUpdateNodeStatus through
// nodeutil.PatchNodeStatus). The heartbeat times of the conditions move
// every time, so the patch carries the conditions (type and heartbeat time
// each, plus whatever else of them the server has differently); the rest
// of the status goes only when it changed, i.e. with full.
func (s *sim) patchStatus(ctx context.Context, n *simNode, now time.Time, full bool) error {
	st := s.nodeStatus(n, now, full)
	var data []byte
	var err error
	if s.cfg.HeartbeatMode == HeartbeatStatus && !full && n.conditions != nil {
		// The rest of a simulated node's status is a function of its
		// configuration, the same at every report, so the diff of the
		// conditions alone is the diff of the whole status, at a tenth of
		// the CPU (TestStatusPatchOfConditionsIsTheWholeStatusDiff).
		data, err = statusPatch(corev1.NodeStatus{Conditions: n.conditions}, corev1.NodeStatus{Conditions: st.Conditions})
		if err == nil && string(data) == "{}" {
			return nil // reported this very second (heartbeat times are whole seconds): nothing to send
		}
	} else if full {
		data, err = json.Marshal(map[string]any{"status": st})
	} else {
		// Only the conditions: NodeStatus's nodeInfo and daemonEndpoints
		// are structs without omitempty, so marshalling the whole partial
		// status would blank them on the server.
		data, err = json.Marshal(map[string]any{"status": map[string]any{"conditions": st.Conditions}})
	}
	if err != nil {
		return fmt.Errorf("encode status of node %s: %w", n.name, err)
	}
	start := s.clock.Now()
	node, err := s.client.CoreV1().Nodes().Patch(ctx, n.name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
	s.metrics.heartbeatWrite(writeStatus, len(data), s.clock.Since(start))
	if err != nil {
		n.conditions = nil
		n.imagesReported = imagesMark{pulled: -1} // send the images again with the next status
		n.pressureReported = -1
		return fmt.Errorf("patch status of node %s: %w", n.name, err)
	}
	s.keepConditions(n, node)
	s.metrics.statusUpdates.Inc()
	n.nextStatus = now.Add(s.cfg.StatusReportInterval)
	return nil
}

// keepConditions keeps the server's conditions of node for the next
// status-mode patch. They are the server's, not ours: when the node
// lifecycle controller marked the node Unknown, the next patch sets it
// back, as a kubelet's patch against the node it read would.
func (s *sim) keepConditions(n *simNode, node *corev1.Node) {
	if s.cfg.HeartbeatMode != HeartbeatStatus || node == nil || len(node.Status.Conditions) == 0 {
		n.conditions = nil
		return
	}
	n.conditions = node.Status.Conditions
}

// statusPatch is the two-way strategic merge patch of a Node from status
// old to status cur, as nodeutil.PatchNodeStatus computes it (its one
// fix-up, for changed addresses, does not arise: a simulated node's
// addresses never change).
func statusPatch(old, cur corev1.NodeStatus) ([]byte, error) {
	a, err := json.Marshal(corev1.Node{Status: old})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(corev1.Node{Status: cur})
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(a, b, corev1.Node{})
}

// register creates the node, or adopts one left by an earlier run: our
// labels and taints are merged in, its podCIDR (immutable once set) wins
// over ours. existing may be nil when unknown.
func (s *sim) register(ctx context.Context, n *simNode, existing *corev1.Node) error {
	now := s.clock.Now()
	nodes := s.client.CoreV1().Nodes()
	if existing == nil {
		created, err := nodes.Create(ctx, s.newNode(n, now), metav1.CreateOptions{})
		switch {
		case err == nil:
			n.uid, n.registered = created.UID, true
			n.nextStatus = now.Add(s.statusOffset(n))
			s.keepConditions(n, created)
			if len(created.Status.Conditions) == 0 {
				// The server dropped status on create; report it now.
				return s.patchStatus(ctx, n, now, true)
			}
			return nil
		case !apierrors.IsAlreadyExists(err):
			return fmt.Errorf("create node %s: %w", n.name, err)
		}
	}
	var adopted *corev1.Node
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := existing
		existing = nil // only the first attempt may use the listed copy
		if cur == nil {
			var err error
			if cur, err = nodes.Get(ctx, n.name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		upd := cur.DeepCopy()
		if upd.Labels == nil {
			upd.Labels = map[string]string{}
		}
		maps.Copy(upd.Labels, s.nodeLabels(n))
		upd.Spec.Taints = mergeTaints(upd.Spec.Taints, s.cfg.Taints)
		if upd.Spec.PodCIDR == "" {
			upd.Spec.PodCIDR, upd.Spec.PodCIDRs = n.ips.prefix.String(), []string{n.ips.prefix.String()}
		}
		var err error
		adopted, err = nodes.Update(ctx, upd, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("adopt existing node %s: %w", n.name, err)
	}
	// Pod workers read n.ips without locks, so only swap it before they start.
	if p, err := netip.ParsePrefix(adopted.Spec.PodCIDR); err == nil && p != n.ips.prefix && p.Addr().Is4() && p.Bits() <= 24 && !s.podsStarted.Load() {
		klog.FromContext(ctx).Info("Adopted node keeps its podCIDR", "node", n.name, "podCIDR", p, "configured", n.ips.prefix)
		n.ips = newPodIPs(netip.PrefixFrom(p.Addr(), 24))
	}
	n.uid, n.registered = adopted.UID, true
	n.nextStatus = now.Add(s.statusOffset(n))
	if id := adopted.Status.NodeInfo.BootID; id != "" && n.bootID == "" {
		// A restarted simulator is a restarted kubelet, not a rebooted node.
		n.bootID = id
	}
	if adopted.Annotations[FailureAnnotation] != "" {
		s.setFailed(n, true)
		return nil
	}
	return s.patchStatus(ctx, n, now, true)
}

// statusOffset spreads periodic NodeStatus reports like heartbeats.
func (s *sim) statusOffset(n *simNode) time.Duration {
	pos := n.index - s.cfg.StartIndex
	return time.Duration(int64(s.cfg.StatusReportInterval) * int64(pos) / int64(s.cfg.Count))
}

// mergeTaints sets ours and keeps taints others added (e.g. not-ready).
func mergeTaints(cur, ours []corev1.Taint) []corev1.Taint {
	out := make([]corev1.Taint, 0, len(cur)+len(ours))
	for _, t := range cur {
		replaced := false
		for _, o := range ours {
			if o.Key == t.Key && o.Effect == t.Effect {
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return append(out, ours...)
}

// machineID and systemUUID are stable per node name, so they survive a
// restart of the simulator as /etc/machine-id and the DMI UUID survive a
// kubelet restart, and differ between nodes as on real machines.
func machineID(node string) string {
	sum := sha256.Sum256([]byte("machine-id/" + node))
	return hex.EncodeToString(sum[:16])
}

func systemUUID(node string) string {
	sum := sha256.Sum256([]byte("system-uuid/" + node))
	return formatUUID(sum[:16])
}

// newBootID is a random UUID, as /proc/sys/kernel/random/boot_id is: new at
// every boot.
func newBootID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never returns an error
	return formatUUID(b)
}

// formatUUID shapes 16 bytes as a version-4 UUID.
func formatUUID(b []byte) string {
	u := [16]byte(b[:16])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
