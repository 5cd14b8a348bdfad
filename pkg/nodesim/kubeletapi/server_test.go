package kubeletapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
	"github.com/myriad-dev/myriad/pkg/loopback"
)

// cluster is a CA with the certificates `myriad up` issues: serving
// certificates for two node addresses and client certificates.
type cluster struct {
	caPool  *x509.CertPool
	serving map[netip.Addr]*tls.Certificate
	dir     string
	ca      *pki.CA
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("127.16.0.1"), netip.MustParseAddr("127.16.0.2")}
	certFile, keyFile, err := ca.EnsureServingBundle(dir, "kubelet-serving", []net.IP{addrs[0].AsSlice(), addrs[1].AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{caPool: x509.NewCertPool(), serving: map[netip.Addr]*tls.Certificate{}, dir: dir, ca: ca}
	c.caPool.AddCert(ca.Cert)
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keyutil.PrivateKeyFromFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, leaf := range certs {
		a, _ := netip.AddrFromSlice(leaf.IPAddresses[0])
		c.serving[a.Unmap()] = &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}
	}
	if len(c.serving) != 2 {
		t.Fatalf("issued serving certificates for %d addresses, want 2", len(c.serving))
	}
	return c
}

func (c *cluster) client(t *testing.T, cn string) *http.Client {
	t.Helper()
	certFile, keyFile, err := c.ca.EnsureCert(c.dir, cn, pki.Request{CommonName: cn, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.caPool, Certificates: []tls.Certificate{pair}}}}
}

// serve runs the server on l with the cluster's certificates.
func (c *cluster) serve(t *testing.T, l net.Listener) {
	t.Helper()
	s, _ := newTestServer(t, clock.RealClock{}, runningPod("web-1", "node-0", time.Now().Add(-2*time.Second), 0), runningPod("web-2", "node-1", time.Now(), 0))
	s.cfg.ClientCAs = c.caPool
	s.cfg.MetricsClients = []string{"metrics-server"}
	s.cfg.Certificate = func(a netip.Addr) (*tls.Certificate, error) {
		if cert := c.serving[a]; cert != nil {
			return cert, nil
		}
		return nil, fmt.Errorf("no certificate for %s", a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func fetch(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestOneListenerServesEveryNode is the design in one test: one socket on
// the loopback device, two node addresses, each verified against its own
// certificate by the client (as the API server does with
// --kubelet-certificate-authority) and each answering for its own pods only.
func TestOneListenerServesEveryNode(t *testing.T) {
	c := newCluster(t)
	l, err := loopback.Listen(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	c.serve(t, l)
	apiserver := c.client(t, "kube-apiserver-kubelet-client")

	code, body, err := fetch(apiserver, fmt.Sprintf("https://127.16.0.1:%d/containerLogs/default/web-1/app?tailLines=1", port))
	if err != nil || code != 200 || !strings.HasPrefix(body, "web-1 app line ") || strings.Count(body, "\n") != 1 {
		t.Fatalf("node-0's logs: %d %q %v", code, body, err)
	}
	if code, body, err := fetch(apiserver, fmt.Sprintf("https://127.16.0.2:%d/containerLogs/default/web-1/app", port)); err != nil || code != 404 {
		t.Fatalf("node-1 must not serve node-0's pod: %d %q %v", code, body, err)
	}
	if code, _, err := fetch(apiserver, fmt.Sprintf("https://127.16.0.2:%d/containerLogs/default/web-2/app", port)); err != nil || code != 200 {
		t.Fatalf("node-1's logs: %d %v", code, err)
	}
	// An address without a certificate fails the handshake rather than
	// presenting another node's.
	if _, _, err := fetch(apiserver, fmt.Sprintf("https://127.16.0.3:%d/healthz", port)); err == nil {
		t.Fatal("a node address without a serving certificate answered")
	}
}

func TestAuthorization(t *testing.T) {
	c := newCluster(t)
	l, err := net.Listen("tcp", "127.16.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.serve(t, l)
	url := fmt.Sprintf("https://%s/containerLogs/default/web-1/app", l.Addr())

	if code, body, err := fetch(c.client(t, "someone-else"), url); err != nil || code != 403 ||
		!strings.Contains(body, "Forbidden (user=someone-else, verb=get, resource=nodes, subresource=proxy)") {
		t.Fatalf("a client the CA signed but not allowed: %d %q %v", code, body, err)
	}
	// A scraper reads metrics and stats, and nothing else.
	scraper := c.client(t, "metrics-server")
	if code, body, err := fetch(scraper, url); err != nil || code != 403 ||
		!strings.Contains(body, "Forbidden (user=metrics-server, verb=get, resource=nodes, subresource=proxy)") {
		t.Fatalf("the metrics client read logs: %d %q %v", code, body, err)
	}
	for _, path := range []string{"/metrics/resource", "/stats/summary"} {
		if code, body, err := fetch(scraper, fmt.Sprintf("https://%s%s", l.Addr(), path)); err != nil || code != 200 {
			t.Fatalf("the metrics client on %s: %d %q %v", path, code, body, err)
		}
	}
	if code, body, err := fetch(c.client(t, "someone-else"), fmt.Sprintf("https://%s/metrics/resource", l.Addr())); err != nil || code != 403 ||
		!strings.Contains(body, "subresource=metrics") {
		t.Fatalf("an unlisted client scraped: %d %q %v", code, body, err)
	}
	anonymous := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.caPool}}}
	if code, _, err := fetch(anonymous, url); err == nil {
		t.Fatalf("a client without a certificate got %d", code)
	}
	other := newCluster(t) // a certificate from another CA
	foreign := other.client(t, "kube-apiserver-kubelet-client")
	foreign.Transport.(*http.Transport).TLSClientConfig.RootCAs = c.caPool
	if code, _, err := fetch(foreign, url); err == nil {
		t.Fatalf("a client certificate of another CA got %d", code)
	}
}
