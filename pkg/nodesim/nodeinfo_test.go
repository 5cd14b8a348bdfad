package nodesim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilversion "k8s.io/apimachinery/pkg/util/version"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestNodeInfoLikeAKubelet checks what `kubectl get nodes -o wide` and
// `kubectl describe node` show.
func TestNodeInfoLikeAKubelet(t *testing.T) {
	h := start(t, Config{Count: 3, NamePrefix: "n-", StatusReportInterval: time.Minute})
	// Past a periodic report, which sends only the conditions: it must not
	// blank the rest.
	h.step(2*time.Minute, time.Second)
	machineIDs, uuids, boots := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range 3 {
		n := h.node(fmt.Sprint("n-", i))
		info := n.Status.NodeInfo
		if v, err := utilversion.ParseSemantic(info.KubeletVersion); err != nil || v.Major() != 1 || info.KubeletVersion != KubeletVersion {
			t.Errorf("%s kubeletVersion %q: want the cluster's parseable v1.x %q", n.Name, info.KubeletVersion, KubeletVersion)
		}
		if !strings.HasPrefix(info.ContainerRuntimeVersion, "containerd://2.") || info.OSImage == "" || info.KernelVersion == "" ||
			info.OperatingSystem != "linux" || info.Architecture != "amd64" {
			t.Errorf("%s nodeInfo %+v", n.Name, info)
		}
		if len(info.MachineID) != 32 || !uuidRE.MatchString(info.SystemUUID) || !uuidRE.MatchString(info.BootID) {
			t.Errorf("%s IDs not shaped as a kubelet reports them: %+v", n.Name, info)
		}
		machineIDs[info.MachineID], uuids[info.SystemUUID], boots[info.BootID] = true, true, true
		want := NodeAddress(i).String()
		if len(n.Status.Addresses) != 2 || n.Status.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: want}) {
			t.Errorf("%s addresses %v, want InternalIP %s", n.Name, n.Status.Addresses, want)
		}
		if n.Status.DaemonEndpoints.KubeletEndpoint.Port != DefaultKubeletPort {
			t.Errorf("%s kubelet port %d", n.Name, n.Status.DaemonEndpoints.KubeletEndpoint.Port)
		}
	}
	if len(machineIDs) != 3 || len(uuids) != 3 || len(boots) != 3 {
		t.Errorf("IDs shared between nodes: %d machine IDs, %d system UUIDs, %d boot IDs for 3 nodes", len(machineIDs), len(uuids), len(boots))
	}
	// Stable: the same node name always gets the same machine identity.
	if machineID("n-0") != h.node("n-0").Status.NodeInfo.MachineID || systemUUID("n-0") != h.node("n-0").Status.NodeInfo.SystemUUID {
		t.Error("machine ID or system UUID is not a function of the node name")
	}
}

// TestBootIDKeptAcrossRestartsNewAfterAFailure: a restarted simulator is a
// restarted kubelet (same boot); a node that failed and came back rebooted.
func TestBootIDKeptAcrossRestartsNewAfterAFailure(t *testing.T) {
	old := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n-0", UID: "old-uid", Labels: map[string]string{SimulatedLabel: "true"}},
		Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{BootID: "11111111-2222-4333-8444-555555555555"}},
	}
	h := start(t, Config{Count: 1, NamePrefix: "n-"}, old)
	if got := h.node("n-0").Status.NodeInfo.BootID; got != old.Status.NodeInfo.BootID {
		t.Fatalf("bootID after a simulator restart %q, want the node's %q", got, old.Status.NodeInfo.BootID)
	}
	ctx := context.Background()
	if err := SetFailure(ctx, h.client, []string{"n-0"}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("n-0 failed", h.s.nodes[0].failed.Load)
	h.step(time.Minute, time.Second)
	if err := SetFailure(ctx, h.client, []string{"n-0"}, false); err != nil {
		t.Fatal(err)
	}
	h.eventually("a new bootID after recovery", func() bool {
		id := h.node("n-0").Status.NodeInfo.BootID
		return id != old.Status.NodeInfo.BootID && uuidRE.MatchString(id)
	})
}

func TestNodeAddress(t *testing.T) {
	prefix := netip.MustParsePrefix(NodeAddressRange)
	seen := map[netip.Addr]bool{}
	for _, i := range []int{0, 1, 253, 254, 255, 9999, 10000, maxNodes - 1} {
		a := NodeAddress(i)
		if !prefix.Contains(a) || seen[a] || a.As4()[3] == 0 || a.As4()[3] == 255 {
			t.Errorf("node %d: %s", i, a)
		}
		seen[a] = true
		if got, ok := NodeIndex(a); !ok || got != i {
			t.Errorf("NodeIndex(%s) = %d, %t; want %d", a, got, ok, i)
		}
	}
	for _, a := range []string{"127.0.0.1", "127.16.0.0", "127.16.0.255", "127.32.0.1", "172.16.0.1", "::1"} {
		if i, ok := NodeIndex(netip.MustParseAddr(a)); ok {
			t.Errorf("NodeIndex(%s) = %d: not a node address", a, i)
		}
	}
}

// TestKubeletAPIServesTheNodesPods drives the wiring end to end: the port
// and address each Node reports, its own serving certificate, the
// simulator's pod cache, the API server's client certificate.
func TestKubeletAPIServesTheNodesPods(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	ips := []net.IP{NodeAddress(0).AsSlice(), NodeAddress(1).AsSlice()}
	certs, key, err := ca.EnsureServingBundle(dir, "kubelet-serving", ips)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, Config{Count: 2, NamePrefix: "n-", KubeletAPI: &KubeletAPIConfig{
		ServingCerts: certs, ServingKey: key, ClientCA: ca.CertFile, AllowedClients: []string{"kube-apiserver-kubelet-client"},
	}})
	h.createPod(podOn("web", "n-1"))
	h.waitPod("web", "running", running)
	h.eventually("the API answers from a cache that has the running pod", func() bool {
		p := simNodes{h.s}.Pod("default", "web")
		return p != nil && running(p)
	})

	node := h.node("n-1")
	addr := net.JoinHostPort(node.Status.Addresses[0].Address, fmt.Sprint(node.Status.DaemonEndpoints.KubeletEndpoint.Port))
	clientCert, clientKey, err := ca.EnsureCert(dir, "apiserver-kubelet-client", pki.Request{CommonName: "kube-apiserver-kubelet-client", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}}}
	resp, err := client.Get("https://" + addr + "/containerLogs/default/web/app?tailLines=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "web app line 1\n" {
		t.Fatalf("logs from n-1 at %s: %d %q", addr, resp.StatusCode, body)
	}
	// n-0 is the same socket, but not where the pod runs.
	other := net.JoinHostPort(NodeAddress(0).String(), fmt.Sprint(node.Status.DaemonEndpoints.KubeletEndpoint.Port))
	if resp, err := client.Get("https://" + other + "/containerLogs/default/web/app"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("n-0 answered for n-1's pod: %v %v", resp, err)
	}
}
