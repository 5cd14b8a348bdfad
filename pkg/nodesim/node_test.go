package nodesim

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   func(*Config)
		field string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no nodes", func(c *Config) { c.Count = 0 }, "Count"},
		{"negative start", func(c *Config) { c.StartIndex = -1 }, "StartIndex"},
		{"cidr too small", func(c *Config) { c.PodCIDR = "10.0.0.0/23"; c.Count = 3 }, "PodCIDR"},
		{"cidr fits exactly", func(c *Config) { c.PodCIDR = "10.0.0.0/23"; c.Count = 2 }, ""},
		{"cidr with offset", func(c *Config) { c.PodCIDR = "10.0.0.0/23"; c.Count = 1; c.StartIndex = 2 }, "PodCIDR"},
		{"cidr garbage", func(c *Config) { c.PodCIDR = "ten" }, "PodCIDR"},
		{"ipv6", func(c *Config) { c.PodCIDR = "fd00::/48" }, "PodCIDR"},
		{"bad prefix", func(c *Config) { c.NamePrefix = "Bad_" }, "NamePrefix"},
		{"bad label", func(c *Config) { c.Labels = map[string]string{"a b": "x"} }, "Labels"},
		{"bad taint", func(c *Config) { c.Taints = []corev1.Taint{{Key: "k", Effect: "Sometimes"}} }, "Taints[0].effect"},
		{"lease shorter than heartbeat", func(c *Config) { c.LeaseDuration = 5 * time.Second }, "LeaseDuration"},
		{"negative duration", func(c *Config) { c.JobDuration = -time.Second }, "JobDuration"},
		{"negative workers", func(c *Config) { c.Workers = -1 }, "Workers"},
		{"negative heartbeat workers", func(c *Config) { c.HeartbeatWorkers = -1 }, "HeartbeatWorkers"},
		{"negative pod workers", func(c *Config) { c.PodWorkers = -1 }, "PodWorkers"},
		{"kubelet API without certificates", func(c *Config) { c.KubeletAPI = &KubeletAPIConfig{Port: 10250, AllowedClients: []string{"a"}} }, "KubeletAPI"},
		{"kubelet API port", func(c *Config) {
			c.KubeletAPI = &KubeletAPIConfig{Port: 70000, ServingCerts: "c", ServingKey: "k", ClientCA: "ca", AllowedClients: []string{"a"}}
		}, "KubeletAPI.Port"},
		{"kubelet API open to nobody", func(c *Config) {
			c.KubeletAPI = &KubeletAPIConfig{Port: 10250, ServingCerts: "c", ServingKey: "k", ClientCA: "ca"}
		}, "KubeletAPI.AllowedClients"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Count: 10}
			tc.cfg(&c)
			c.Default()
			err := c.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field+":")):
				t.Fatalf("want error naming %s, got %v", tc.field, err)
			}
		})
	}
}

// TestHeartbeatWorkersScaleWithNodes: enough renewals in flight that every
// node renews once per interval even at half a second per request, and as
// many pod syncs, since every kubelet writes its own pods' status.
func TestHeartbeatWorkersScaleWithNodes(t *testing.T) {
	for count, want := range map[int]int{100: 32, 1000: 50, 10000: 500} {
		c := Config{Count: count}
		c.Default()
		if c.HeartbeatWorkers != want {
			t.Errorf("%d nodes: %d heartbeat workers, want %d", count, c.HeartbeatWorkers, want)
		}
		if c.PodWorkers != want {
			t.Errorf("%d nodes: %d pod workers, want %d", count, c.PodWorkers, want)
		}
		if perSecond := float64(c.HeartbeatWorkers) / 0.5; perSecond < float64(count)/c.HeartbeatInterval.Seconds() {
			t.Errorf("%d nodes: %d workers at 500 ms renew %.0f/s, fewer than the %.0f/s needed", count, c.HeartbeatWorkers, perSecond, float64(count)/c.HeartbeatInterval.Seconds())
		}
	}
}

func TestNodeCIDR(t *testing.T) {
	seen := map[netip.Prefix]bool{}
	for i := range 1000 {
		p, err := nodeCIDR("10.128.0.0/9", i)
		if err != nil {
			t.Fatal(err)
		}
		if p.Bits() != 24 || seen[p] {
			t.Fatalf("node %d: %s is not a fresh /24", i, p)
		}
		seen[p] = true
	}
	if p, _ := nodeCIDR("10.128.0.0/9", 257); p.String() != "10.129.1.0/24" {
		t.Fatalf("node 257: got %s", p)
	}
	if _, err := nodeCIDR("10.128.0.0/9", 1<<15); err == nil {
		t.Fatal("node 32768 fits in a /9? want error")
	}
}

func TestRegisterNodes(t *testing.T) {
	// Node 1 exists from an earlier run with its own label, taint and CIDR.
	old := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "sim-1", UID: "old-uid", Labels: map[string]string{
			"team": "a", SimulatedLabel: "true",
		}},
		Spec: corev1.NodeSpec{PodCIDR: "10.200.7.0/24", PodCIDRs: []string{"10.200.7.0/24"},
			Taints: []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}}},
	}
	h := start(t, Config{
		Count: 3, NamePrefix: "sim-",
		Labels: map[string]string{"pool": "blue"},
		Taints: []corev1.Taint{{Key: "sim", Value: "yes", Effect: corev1.TaintEffectNoSchedule}},
	}, old)

	cidrs := map[string]bool{}
	for i, name := range []string{"sim-0", "sim-1", "sim-2"} {
		n := h.node(name)
		for k, v := range map[string]string{
			"kubernetes.io/hostname":           name,
			"kubernetes.io/os":                 "linux",
			"kubernetes.io/arch":               "amd64",
			"beta.kubernetes.io/os":            "linux", // as kubelets register them: nobody patches them in later
			"beta.kubernetes.io/arch":          "amd64",
			"topology.kubernetes.io/zone":      []string{"zone-0", "zone-1", "zone-2"}[i],
			"topology.kubernetes.io/region":    "region-1",
			"node.kubernetes.io/instance-type": "myriad.sim",
			SimulatedLabel:                     "true",
			"pool":                             "blue",
		} {
			if n.Labels[k] != v {
				t.Errorf("%s label %s = %q, want %q", name, k, n.Labels[k], v)
			}
		}
		if got := n.Status.Capacity[corev1.ResourceMemory]; got.Cmp(resource.MustParse("256Gi")) != 0 {
			t.Errorf("%s memory capacity %s", name, got.String())
		}
		if !n.Status.Allocatable[corev1.ResourcePods].Equal(resource.MustParse("110")) {
			t.Errorf("%s allocatable pods %v", name, n.Status.Allocatable)
		}
		if cidrs[n.Spec.PodCIDR] {
			t.Errorf("%s podCIDR %s used twice", name, n.Spec.PodCIDR)
		}
		cidrs[n.Spec.PodCIDR] = true
		if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			t.Errorf("%s podCIDRs %v", name, n.Spec.PodCIDRs)
		}
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && c.Reason == "KubeletReady")
		}
		if !ready || n.Status.NodeInfo.KubeletVersion != KubeletVersion || len(n.Status.Addresses) != 2 {
			t.Errorf("%s status incomplete: %+v", name, n.Status)
		}
	}
	if n := h.node("sim-0"); n.Spec.PodCIDR != "10.128.0.0/24" {
		t.Errorf("sim-0 podCIDR %s, want the first /24", n.Spec.PodCIDR)
	}
	adopted := h.node("sim-1")
	if adopted.UID != "old-uid" || adopted.Labels["team"] != "a" || adopted.Spec.PodCIDR != "10.200.7.0/24" || len(adopted.Spec.Taints) != 2 {
		t.Errorf("adopted node lost what it had: %+v %+v", adopted.ObjectMeta, adopted.Spec)
	}
	if got := h.s.nodes[1].ips.prefix.String(); got != "10.200.7.0/24" {
		t.Errorf("adopted node allocates pod IPs from %s, want its own podCIDR", got)
	}
}

func TestRegisterForbiddenIsFatal(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "n", errors.New("RBAC: denied"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Run(ctx, client, Config{Count: 2, Clock: clocktesting.NewFakeClock(t0)})
	if err == nil || !strings.Contains(err.Error(), "RBAC") {
		t.Fatalf("want a fatal RBAC error, got %v", err)
	}
}

func TestLeaseRenewedWithoutGet(t *testing.T) {
	h := start(t, Config{Count: 5, NamePrefix: "n-"})
	h.step(35*time.Second, 500*time.Millisecond)

	for _, a := range h.client.Actions() {
		if a.GetResource().Resource == "leases" && a.GetVerb() == "get" {
			t.Fatalf("a lease was read before renewal: %v", a)
		}
	}
	byNode := map[string][]renewal{}
	for _, r := range h.renewals() {
		byNode[r.node] = append(byNode[r.node], r)
	}
	for _, n := range h.s.nodes {
		rs := byNode[n.name]
		if len(rs) < 3 || rs[0].verb != "create" {
			t.Fatalf("%s: want a create then renewals, got %+v", n.name, rs)
		}
		for i, r := range rs[1:] {
			if r.verb != "update" {
				t.Errorf("%s renewal %d is a %s", n.name, i+1, r.verb)
			}
			if gap := r.at.Sub(rs[i].at); gap < 9*time.Second || gap > 11*time.Second {
				t.Errorf("%s renewals %s apart, want ~10s", n.name, gap)
			}
		}
		l, err := h.client.CoordinationV1().Leases(LeaseNamespace).Get(context.Background(), n.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *l.Spec.HolderIdentity != n.name || *l.Spec.LeaseDurationSeconds != 40 ||
			len(l.OwnerReferences) != 1 || l.OwnerReferences[0].Kind != "Node" || l.OwnerReferences[0].UID != h.node(n.name).UID {
			t.Errorf("lease %s: %+v", n.name, l)
		}
		if !l.Spec.RenewTime.Time.Equal(rs[len(rs)-1].at) {
			t.Errorf("lease %s renewTime %s, want %s", n.name, l.Spec.RenewTime, rs[len(rs)-1].at)
		}
	}
}

func TestRenewalsSpreadEvenly(t *testing.T) {
	const nodes = 100
	h := start(t, Config{Count: nodes})
	h.step(30*time.Second, 100*time.Millisecond)
	perSecond := map[int]int{}
	for _, r := range h.renewals() {
		perSecond[int(r.at.Sub(t0)/time.Second)]++
	}
	share := nodes / 10 // 10s interval
	for sec := range 30 {
		if got := perSecond[sec]; got > 2*share || got == 0 {
			t.Errorf("second %d: %d renewals, want about %d", sec, got, share)
		}
	}
}

func TestNodeStatusOnlyPerReportInterval(t *testing.T) {
	const nodes = 10
	h := start(t, Config{Count: nodes, StatusReportInterval: time.Minute})
	h.client.ClearActions()
	h.step(2*time.Minute, 500*time.Millisecond)
	perNode := map[string]int{}
	for _, a := range h.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetResource().Resource == "nodes" && a.GetSubresource() == "status" {
			perNode[p.GetName()]++
		}
	}
	for _, n := range h.s.nodes {
		// ~12 heartbeats in two minutes, but only 2 (3 at the edges) reports.
		if got := perNode[n.name]; got < 1 || got > 3 {
			t.Errorf("%s: %d status patches in 2m with a 1m report interval", n.name, got)
		}
	}
	if rs := len(h.renewals()); rs < 10*nodes {
		t.Errorf("only %d lease renewals", rs)
	}
}

func TestFailureStopsHeartbeatsAndRecoveryResumes(t *testing.T) {
	h := start(t, Config{Count: 3, NamePrefix: "n-"})
	h.step(10*time.Second, 500*time.Millisecond)
	ctx := context.Background()
	if err := SetFailure(ctx, h.client, []string{"n-1"}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("n-1 failed", h.s.nodes[1].failed.Load)
	h.createPod(podOn("frozen", "n-1"))
	failedAt := h.clock.Now()
	h.step(30*time.Second, 500*time.Millisecond)
	for _, r := range h.renewals() {
		if r.node == "n-1" && r.at.After(failedAt) {
			t.Fatalf("failed node renewed its lease at %s", r.at)
		}
	}
	if p := h.pod("frozen"); p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" {
		t.Fatalf("pod on a failed node was touched: %+v", p.Status)
	}
	others := 0
	for _, r := range h.renewals() {
		if r.node != "n-1" && r.at.After(failedAt) {
			others++
		}
	}
	if others < 4 {
		t.Fatalf("healthy nodes renewed only %d times", others)
	}

	recoverAt := h.clock.Now()
	if err := SetFailure(ctx, h.client, []string{"n-1"}, false); err != nil {
		t.Fatal(err)
	}
	// No clock step: recovery renews at once.
	h.eventually("n-1 renews after recovery", func() bool {
		for _, r := range h.renewals() {
			if r.node == "n-1" && !r.at.Before(recoverAt) {
				return true
			}
		}
		return false
	})
	h.eventually("n-1 reports Ready again", func() bool {
		for _, c := range h.node("n-1").Status.Conditions {
			if c.Type == corev1.NodeReady && c.LastHeartbeatTime.Time.Equal(recoverAt) {
				return true
			}
		}
		return false
	})
	h.waitPod("frozen", "running after recovery", running)
}

func TestForbiddenPodWatchIsFatal(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("RBAC: denied"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Run(ctx, client, Config{Count: 2, Clock: clocktesting.NewFakeClock(t0)})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("want the forbidden pod list to end Run, got %v", err)
	}
}
