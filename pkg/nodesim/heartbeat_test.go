package nodesim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// rawStatusPatches returns the NodeStatus patches sent, as sent, by node.
func rawStatusPatches(h *harness) map[string][][]byte {
	out := map[string][][]byte{}
	for _, a := range h.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetResource().Resource == "nodes" && a.GetSubresource() == "status" {
			out[p.GetName()] = append(out[p.GetName()], p.GetPatch())
		}
	}
	return out
}

// Status mode is the kubelet before NodeLease: every 10 s the two-way
// strategic merge patch of the node's status against its previous one.
// Only the conditions' heartbeat times moved, so that is all it carries:
// a few hundred bytes, not the whole status (images, addresses, nodeInfo)
// the simulator used to send every time.
func TestStatusModeSendsAKubeletPatchEveryIntervalAndNoLease(t *testing.T) {
	const nodes = 5
	h := start(t, Config{Count: nodes, HeartbeatMode: HeartbeatStatus, Images: 7})
	h.client.ClearActions()
	h.step(60*time.Second, 500*time.Millisecond)

	if rs := h.renewals(); len(rs) != 0 {
		t.Fatalf("status mode wrote %d Leases, want none: %+v", len(rs), rs[0])
	}
	full, _ := json.Marshal(map[string]any{"status": h.s.nodeStatus(h.s.nodes[0], t0, true)})
	raw := rawStatusPatches(h)
	byNode := statusPatches(h)
	for _, n := range h.s.nodes {
		ps := raw[n.name]
		// One patch per 10s heartbeat: 6 in a minute (5 or 7 at the edges).
		if len(ps) < 5 || len(ps) > 7 {
			t.Errorf("%s: %d status patches in 60s, want one per 10s", n.name, len(ps))
		}
		var last time.Time
		for i, p := range ps {
			var body map[string]map[string][]map[string]any
			if err := json.Unmarshal(p, &body); err != nil || len(body) != 1 {
				t.Fatalf("%s patch %d is not a status patch: %s (%v)", n.name, i, p, err)
			}
			st := body["status"]
			if len(st) != 2 || len(st["conditions"]) != 4 || len(st["$setElementOrder/conditions"]) != 4 {
				t.Fatalf("%s patch %d: %s\nwant the conditions and their order only", n.name, i, p)
			}
			for _, c := range st["conditions"] {
				if len(c) != 2 || c["type"] == nil || c["lastHeartbeatTime"] == nil {
					t.Errorf("%s patch %d condition %v: want its type and heartbeat time only", n.name, i, c)
				}
			}
			if len(p) > 600 || 4*len(p) > len(full) {
				t.Errorf("%s patch %d is %d B (the full status is %d B), want a few hundred", n.name, i, len(p), len(full))
			}
			hb := byNode[n.name][i].Conditions[0].LastHeartbeatTime.Time
			for _, c := range byNode[n.name][i].Conditions {
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
		// The server merged the patches into the status it got at
		// registration: nothing was lost.
		stored := h.node(n.name).Status
		if len(stored.Conditions) != 4 || len(stored.Images) != 7 || len(stored.Addresses) != 2 || stored.NodeInfo.KubeletVersion != KubeletVersion {
			t.Errorf("%s stored status: %+v", n.name, stored)
		}
		if r := readyOf(stored); r == nil || r.Status != corev1.ConditionTrue || h.clock.Since(r.LastHeartbeatTime.Time) > 11*time.Second {
			t.Errorf("%s stored Ready %+v, want True with a recent heartbeat", n.name, r)
		}
	}
	writes, bytes := testutilCounter(h, writeStatus), testutil.ToFloat64(h.s.metrics.hbBytes.WithLabelValues(writeStatus))
	if writes < 5*nodes || bytes/writes > 600 {
		t.Errorf("heartbeat writes{kind=status} = %v of %v B each, want ≥ %d of a few hundred", writes, bytes/writes, 5*nodes)
	}
	if got := testutilCounter(h, writeLease); got != 0 {
		t.Errorf("heartbeat writes{kind=lease} = %v, want 0", got)
	}
}

// The patch is computed against the status the server returned, not the
// one the simulator sent: when the node lifecycle controller marked the
// node Unknown, a following heartbeat sets Ready back (the next but one:
// the simulator learns of the change from the server's answer to the
// next), as a kubelet's patch against the node it read does.
func TestStatusModeSetsReadyBackAfterTheControllerMarkedItUnknown(t *testing.T) {
	h := start(t, Config{Count: 1, HeartbeatMode: HeartbeatStatus, Images: 3})
	h.step(15*time.Second, 500*time.Millisecond)
	name := h.s.nodes[0].name
	n := h.node(name)
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status, n.Status.Conditions[i].Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
		}
	}
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.client.ClearActions()
	h.step(35*time.Second, 500*time.Millisecond)
	if r := readyOf(h.node(name).Status); r == nil || r.Status != corev1.ConditionTrue || r.Reason != "KubeletReady" {
		t.Fatalf("Ready after three heartbeats: %+v, want True again", r)
	}
	ps := rawStatusPatches(h)[name]
	setBack := 0
	for _, p := range ps {
		if strings.Contains(string(p), `"status":"True"`) {
			setBack++
		}
	}
	if len(ps) != 3 || setBack != 1 || strings.Contains(string(ps[2]), `"status":"True"`) {
		t.Errorf("patches %s: want Ready set back once, then heartbeat times only", ps)
	}
}

func readyOf(st corev1.NodeStatus) *corev1.NodeCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.NodeReady {
			return &st.Conditions[i]
		}
	}
	return nil
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
	prev := h.s.nodeStatus(n, t0, true)
	next := h.s.nodeStatus(n, t0.Add(10*time.Second), true)
	kubelet, err := statusPatch(prev, next)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full NodeStatus patch %d B (20 images), conditions-only patch %d B, status-mode heartbeat patch %d B, Lease PUT %d B", len(full), len(conds), len(kubelet), lease)
	if len(kubelet) < 300 || len(kubelet) > 600 {
		t.Errorf("status-mode heartbeat patch is %d B, want the few hundred of a kubelet's before NodeLease", len(kubelet))
	}
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

// The simulator diffs only the conditions because the rest of its status
// never changes between reports; this holds it to that.
func TestStatusPatchOfConditionsIsTheWholeStatusDiff(t *testing.T) {
	h := start(t, Config{Count: 1, HeartbeatMode: HeartbeatStatus})
	n := h.s.nodes[0]
	prev, next := h.s.nodeStatus(n, t0, true), h.s.nodeStatus(n, t0.Add(10*time.Second), true)
	whole, err := statusPatch(prev, next)
	if err != nil {
		t.Fatal(err)
	}
	conds, err := statusPatch(corev1.NodeStatus{Conditions: prev.Conditions}, corev1.NodeStatus{Conditions: next.Conditions})
	if err != nil {
		t.Fatal(err)
	}
	if string(whole) != string(conds) {
		t.Errorf("whole-status diff\n%s\nconditions diff\n%s", whole, conds)
	}
}

// BenchmarkStatusPatch is the simulator's cost of one status-mode
// heartbeat's patch.
func BenchmarkStatusPatch(b *testing.B) {
	h := start(&testing.T{}, Config{Count: 1})
	n := h.s.nodes[0]
	prev, next := h.s.nodeStatus(n, t0, false), h.s.nodeStatus(n, t0.Add(10*time.Second), false)
	for b.Loop() {
		if _, err := statusPatch(prev, next); err != nil {
			b.Fatal(err)
		}
	}
}
