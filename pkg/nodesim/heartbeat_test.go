package nodesim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	k8stesting "k8s.io/client-go/testing"
)

// statusPatches returns the NodeStatus patches sent, by node.
func statusPatches(h *harness) map[string][]corev1.NodeStatus {
	h.t.Helper()
	out := map[string][]corev1.NodeStatus{}
	for _, a := range h.client.Actions() {
		p, ok := a.(k8stesting.PatchAction)
		if !ok || a.GetResource().Resource != "nodes" || a.GetSubresource() != "status" {
			continue
		}
		var body struct {
			Status corev1.NodeStatus `json:"status"`
		}
		if err := json.Unmarshal(p.GetPatch(), &body); err != nil {
			h.t.Fatalf("patch of %s: %v", p.GetName(), err)
		}
		out[p.GetName()] = append(out[p.GetName()], body.Status)
	}
	return out
}

func TestStatusModeSendsFullStatusEveryIntervalAndNoLease(t *testing.T) {
	const nodes = 5
	h := start(t, Config{Count: nodes, HeartbeatMode: HeartbeatStatus, Images: 7})
	h.client.ClearActions()
	h.step(60*time.Second, 500*time.Millisecond)

	if rs := h.renewals(); len(rs) != 0 {
		t.Fatalf("status mode wrote %d Leases, want none: %+v", len(rs), rs[0])
	}
	byNode := statusPatches(h)
	for _, n := range h.s.nodes {
		ps := byNode[n.name]
		// One patch per 10s heartbeat: 6 in a minute (5 or 7 at the edges).
		if len(ps) < 5 || len(ps) > 7 {
			t.Errorf("%s: %d status patches in 60s, want one per 10s", n.name, len(ps))
		}
		var last time.Time
		for i, st := range ps {
			if len(st.Conditions) != 4 || len(st.Addresses) != 2 || len(st.Images) != 7 ||
				st.NodeInfo.KubeletVersion != KubeletVersion || st.Capacity.Pods().IsZero() {
				t.Fatalf("%s patch %d is not a full NodeStatus: %+v", n.name, i, st)
			}
			hb := st.Conditions[0].LastHeartbeatTime.Time
			for _, c := range st.Conditions {
				if !c.LastHeartbeatTime.Time.Equal(hb) {
					t.Errorf("%s patch %d: condition %s heartbeat %s, others %s", n.name, i, c.Type, c.LastHeartbeatTime, hb)
				}
			}
			if i > 0 {
				if gap := hb.Sub(last); gap < 9*time.Second || gap > 11*time.Second {
					t.Errorf("%s heartbeats %s apart, want ~10s", n.name, gap)
				}
			}
			last = hb
		}
		if got := h.node(n.name).Status.Conditions; len(got) != 4 {
			t.Errorf("%s stored conditions: %+v", n.name, got)
		}
	}
	if got := testutilCounter(h, writeStatus); got < 5*nodes {
		t.Errorf("heartbeat writes{kind=status} = %v", got)
	}
	if got := testutilCounter(h, writeLease); got != 0 {
		t.Errorf("heartbeat writes{kind=lease} = %v, want 0", got)
	}
}

func TestLeaseModeKeepsPeriodicStatusSmall(t *testing.T) {
	h := start(t, Config{Count: 3, StatusReportInterval: time.Minute})
	h.client.ClearActions()
	h.step(2*time.Minute, 500*time.Millisecond)
	for name, ps := range statusPatches(h) {
		for _, st := range ps {
			if len(st.Images) != 0 || len(st.Addresses) != 0 || len(st.Conditions) != 4 {
				t.Errorf("%s: periodic lease-mode report carries more than conditions: %+v", name, st)
			}
		}
	}
	if got := testutilCounter(h, writeLease); got < 3*10 {
		t.Errorf("heartbeat writes{kind=lease} = %v", got)
	}
}

func testutilCounter(h *harness, kind string) float64 {
	return testutil.ToFloat64(h.s.metrics.hbWrites.WithLabelValues(kind))
}

func TestImagesLikeAKubelet(t *testing.T) {
	imgs := nodeImages(20)
	if len(imgs) != 20 {
		t.Fatalf("%d images, want 20", len(imgs))
	}
	seen := map[string]bool{}
	for i, im := range imgs {
		if len(im.Names) != 2 || !strings.HasPrefix(im.Names[0], "registry.example/app-") ||
			!strings.Contains(im.Names[0], "@sha256:") || len(im.Names[0][strings.Index(im.Names[0], "@sha256:")+8:]) != 64 ||
			!strings.HasSuffix(im.Names[1], ":v1") {
			t.Errorf("image %d names %v, want a digest and a :v1 tag", i, im.Names)
		}
		if seen[im.Names[1]] {
			t.Errorf("image %s listed twice", im.Names[1])
		}
		seen[im.Names[1]] = true
		if im.SizeBytes < 10<<20 || im.SizeBytes > 10<<20+1<<30 {
			t.Errorf("image %s size %d", im.Names[1], im.SizeBytes)
		}
		if i > 0 && im.SizeBytes > imgs[i-1].SizeBytes {
			t.Errorf("images not largest first at %d", i)
		}
	}
	again := nodeImages(20)
	for i := range imgs {
		if imgs[i].Names[0] != again[i].Names[0] || imgs[i].SizeBytes != again[i].SizeBytes {
			t.Fatalf("image %d differs between calls: not deterministic", i)
		}
	}
	if nodeImages(0) != nil {
		t.Error("0 images should be none")
	}
}

// TestNodeStatusSize states what a heartbeat weighs in each mode, so a
// change that shrinks the simulated NodeStatus below a real one's is seen.
func TestNodeStatusSize(t *testing.T) {
	h := start(t, Config{Count: 1})
	n := h.s.nodes[0]
	full, err := json.Marshal(map[string]any{"status": h.s.nodeStatus(n, t0, true)})
	if err != nil {
		t.Fatal(err)
	}
	conds, _ := json.Marshal(map[string]any{"status": h.s.nodeStatus(n, t0, false)})
	h.step(11*time.Second, time.Second)
	lease := leaseWireSize(h.s.renewed(n, n.lease, t0)) // as the fake returned it: no server metadata
	t.Logf("full NodeStatus patch %d B (20 images), conditions-only patch %d B, Lease PUT %d B", len(full), len(conds), lease)
	if len(full) < 4<<10 {
		t.Errorf("full NodeStatus patch is %d B, want kilobytes like a real kubelet's", len(full))
	}
	if lease < 100 || lease > 600 {
		t.Errorf("Lease PUT body %d B, want a few hundred", lease)
	}
}

func TestValidateHeartbeatModeAndImages(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Count: 1, HeartbeatMode: "gossip"}, "HeartbeatMode"},
		{Config{Count: 1, Images: 51}, "Images"},
		{Config{Count: 1, Images: -2}, "Images"},
	} {
		tc.cfg.Default()
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error naming %s", tc.cfg.HeartbeatMode, err, tc.want)
		}
	}
	for _, c := range []Config{{Count: 1, HeartbeatMode: HeartbeatStatus}, {Count: 1, Images: NoImages}, {Count: 1, Images: 50}} {
		c.Default()
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
