package syncer

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apitypes "k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
	"github.com/myriad-dev/myriad/pkg/loopback"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// proxyWorld is a syncer serving tenants t1 and t2 through its kubelet
// proxy, in front of a stand-in for the super cluster's API server that
// records what reaches it.
type proxyWorld struct {
	t        *testing.T
	dir      string
	port     int
	kubelets *pki.CA // the tenants' kubelet CA: signs the proxy's serving certificates
	tenants  map[string]*pki.CA

	mu   sync.Mutex
	seen []*http.Request // what reached the super API server
	who  []string        // as whom
}

func newProxyWorld(t *testing.T) *proxyWorld {
	t.Helper()
	w := &proxyWorld{t: t, dir: t.TempDir(), tenants: map[string]*pki.CA{}}
	var err error
	if w.kubelets, err = pki.LoadOrCreateCA(w.dir, "tenant-kubelet-ca", "tenant-kubelet-ca"); err != nil {
		t.Fatal(err)
	}
	superCA, err := pki.LoadOrCreateCA(w.dir, "super-ca", "super-ca")
	if err != nil {
		t.Fatal(err)
	}
	s := &Syncer{o: Options{Clock: clock.RealClock{}}, tenants: map[string]*tenantCluster{}}
	superPods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	s.super = &superCache{pods: corelisters.NewPodLister(superPods)}
	for _, name := range []string{"t1", "t2"} {
		ca, err := pki.LoadOrCreateCA(w.dir, name+"-ca", "myriad-tenant-"+name+"-ca")
		if err != nil {
			t.Fatal(err)
		}
		w.tenants[name] = ca
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
		s.tenants[name] = &tenantCluster{name: name, pods: corelisters.NewPodLister(pods), clientCAs: pool}
		// Each tenant has pod web/p1 (UIDs differ), placed on the cluster.
		// t1 also has web/p2, not on the cluster yet, and web/p3, whose
		// name an older pod's copy still holds there.
		uid := "uid-" + name
		_ = pods.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "p1", UID: apitypes.UID(uid)}})
		_ = superPods.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: tenancy.SuperNamespace(name, "web"), Name: "p1",
			Labels: map[string]string{tenancy.LabelTenant: name}, Annotations: map[string]string{tenancy.AnnotationUID: uid}}})
	}
	t1Pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "p1", UID: "uid-t1"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "p2", UID: "uid-p2"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "p3", UID: "uid-p3-new"}},
	} {
		_ = t1Pods.Add(p)
	}
	s.tenants["t1"].pods = corelisters.NewPodLister(t1Pods)
	_ = superPods.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "t1-web", Name: "p3",
		Labels: map[string]string{tenancy.LabelTenant: "t1"}, Annotations: map[string]string{tenancy.AnnotationUID: "uid-p3-old"}}})

	// The super cluster's API server: serves logs, and upgrades exec to
	// an echo of whatever the client sends.
	api := httptest.NewUnstartedServer(http.HandlerFunc(w.superAPI))
	apiCert, apiKey, err := superCA.EnsureCert(w.dir, "api", pki.Request{CommonName: "api", Server: true, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(apiCert, apiKey)
	if err != nil {
		t.Fatal(err)
	}
	superPool := x509.NewCertPool()
	superPool.AddCert(superCA.Cert)
	api.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: superPool}
	api.StartTLS()
	t.Cleanup(api.Close)
	syncerCert, syncerKey, err := superCA.EnsureCert(w.dir, "syncer", pki.Request{CommonName: "myriad:syncer", Client: true})
	if err != nil {
		t.Fatal(err)
	}

	servingCerts, servingKey, err := w.kubelets.EnsureServingBundle(w.dir, "serving", []net.IP{net.ParseIP("127.16.0.1"), net.ParseIP("127.16.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := LoadServingBundle(servingCerts, servingKey)
	if err != nil || len(certs) != 2 {
		t.Fatalf("LoadServingBundle: %d certificates, %v", len(certs), err)
	}
	l, err := loopback.Listen(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w.port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	p, err := newKubeletProxy(s, KubeletProxy{Port: w.port, Certificates: certs, Super: &rest.Config{Host: api.URL,
		TLSClientConfig: rest.TLSClientConfig{CAFile: superCA.CertFile, CertFile: syncerCert, KeyFile: syncerKey}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *proxyWorld) superAPI(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.seen = append(w.seen, r.Clone(context.Background()))
	w.who = append(w.who, r.TLS.PeerCertificates[0].Subject.CommonName)
	w.mu.Unlock()
	if r.Header.Get("Upgrade") == "" {
		fmt.Fprintf(rw, "log of %s\n", r.URL.Path)
		return
	}
	conn, buf, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + r.Header.Get("Upgrade") + "\r\n\r\n")
	_ = buf.Flush()
	_, _ = io.Copy(conn, buf)
}

// client is a tenant's API server (or an impostor) calling node 127.16.0.1.
func (w *proxyWorld) client(ca *pki.CA, cn string) *tls.Config {
	w.t.Helper()
	cert, key, err := ca.EnsureCert(w.dir, strings.ReplaceAll(ca.Cert.Subject.CommonName+"-"+cn, ":", "-"), pki.Request{CommonName: cn, Client: true})
	if err != nil {
		w.t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		w.t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.kubelets.Cert)
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots}
}

func (w *proxyWorld) get(cfg *tls.Config, path string) (int, string) {
	w.t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	var resp *http.Response
	var err error
	// The proxy may not be listening yet.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = c.Get(fmt.Sprintf("https://127.16.0.1:%d%s", w.port, path)); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (w *proxyWorld) last() (*http.Request, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) == 0 {
		return nil, ""
	}
	return w.seen[len(w.seen)-1], w.who[len(w.who)-1]
}

func TestKubeletProxyForwardsATenantsLogsToItsPodsCopy(t *testing.T) {
	w := newProxyWorld(t)
	t1 := w.client(w.tenants["t1"], KubeletClientUser)
	code, body := w.get(t1, "/containerLogs/web/p1/app?tailLines=5&follow=true&bogus=1")
	if code != http.StatusOK || body != "log of /api/v1/namespaces/t1-web/pods/p1/log\n" {
		t.Fatalf("t1's logs: %d %q", code, body)
	}
	r, who := w.last()
	if who != "myriad:syncer" {
		t.Errorf("the super API server was called as %q, want the syncer", who)
	}
	if q := r.URL.Query(); q.Get("container") != "app" || q.Get("tailLines") != "5" || q.Get("follow") != "true" || q.Has("bogus") {
		t.Errorf("super query = %v", q)
	}
	// Same path, other tenant: its own pod's copy.
	if code, body := w.get(w.client(w.tenants["t2"], KubeletClientUser), "/containerLogs/web/p1/app"); code != http.StatusOK || !strings.Contains(body, "/namespaces/t2-web/") {
		t.Fatalf("t2's logs: %d %q", code, body)
	}
}

func TestKubeletProxyRefusesWhatIsNotTheCallersOwn(t *testing.T) {
	w := newProxyWorld(t)
	t1 := w.client(w.tenants["t1"], KubeletClientUser)
	stranger, err := pki.LoadOrCreateCA(w.dir, "stranger-ca", "stranger-ca")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		cfg  *tls.Config
		path string
		want int
	}{
		{"a tenant's other identity (its admin)", w.client(w.tenants["t1"], "myriad-tenant-admin"), "/containerLogs/web/p1/app", http.StatusForbidden},
		{"a CA no tenant has", w.client(stranger, KubeletClientUser), "/containerLogs/web/p1/app", http.StatusUnauthorized},
		{"a pod the tenant does not have", t1, "/containerLogs/web/nope/app", http.StatusNotFound},
		{"a pod not yet on the cluster", t1, "/containerLogs/web/p2/app", http.StatusNotFound},
		{"a cluster copy of an older pod of that name", t1, "/containerLogs/web/p3/app", http.StatusNotFound},
		{"a UID that is not the pod's", t1, "/exec/web/p1/uid-t2/app?command=ls&output=1", http.StatusNotFound},
		{"exec without a command", t1, "/exec/web/p1/app?output=1", http.StatusBadRequest},
		{"a kubelet path the proxy does not serve", t1, "/pods", http.StatusNotFound},
	} {
		before, _ := w.last()
		if code, body := w.get(c.cfg, c.path); code != c.want {
			t.Errorf("%s: %d %q, want %d", c.what, code, body, c.want)
		}
		if after, _ := w.last(); after != before {
			t.Errorf("%s reached the super cluster: %s", c.what, after.URL)
		}
	}
}

// TestKubeletProxyRelaysUpgradedStreams is exec as the tenant's API server
// sends it: an upgrade request with the kubelet's parameters, then bytes
// both ways over the upgraded connection.
func TestKubeletProxyRelaysUpgradedStreams(t *testing.T) {
	w := newProxyWorld(t)
	w.get(w.client(w.tenants["t1"], KubeletClientUser), "/containerLogs/web/p1/app") // listening
	cfg := w.client(w.tenants["t1"], KubeletClientUser)
	cfg.ServerName = "127.16.0.1"
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.16.0.1:%d", w.port), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /exec/web/p1/uid-t1/app?command=sh&command=-c&command=echo+hi&input=1&output=1&tty=1 HTTP/1.1\r\n"+
		"Host: 127.16.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo through the proxy: %q %v", got, err)
	}
	r, _ := w.last()
	want := url.Values{"container": {"app"}, "command": {"sh", "-c", "echo hi"}, "stdin": {"true"}, "stdout": {"true"}, "tty": {"true"}}
	if r.URL.Path != "/api/v1/namespaces/t1-web/pods/p1/exec" || r.URL.Query().Encode() != want.Encode() || r.Header.Get("X-Stream-Protocol-Version") != "v4.channel.k8s.io" {
		t.Errorf("super request %s %v %v", r.URL.Path, r.URL.Query(), r.Header)
	}
}

func TestSuperQueryReadsTheAPIServersTranslationBackwards(t *testing.T) {
	for _, c := range []struct {
		sub  string
		in   string
		want url.Values
	}{
		{"attach", "input=1&output=1&error=1", url.Values{"container": {"c"}, "stdin": {"true"}, "stdout": {"true"}, "stderr": {"true"}}},
		{"attach", "output=0&tty=false", url.Values{"container": {"c"}}},
		{"portforward", "port=80,443", url.Values{"container": {"c"}, "ports": {"80", "443"}}},
		{"log", "previous=true&sinceSeconds=10&stream=Stderr&limitBytes=9", url.Values{"container": {"c"}, "previous": {"true"}, "sinceSeconds": {"10"}, "stream": {"Stderr"}, "limitBytes": {"9"}}},
	} {
		q, _ := url.ParseQuery(c.in)
		got, err := superQuery(c.sub, "c", q)
		if err != nil || got.Encode() != c.want.Encode() {
			t.Errorf("%s %s: %v %v, want %v", c.sub, c.in, got, err, c.want)
		}
	}
}

func TestLoadServingBundleRejectsAForeignKey(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca", "ca")
	if err != nil {
		t.Fatal(err)
	}
	certs, _, err := ca.EnsureServingBundle(dir, "a", []net.IP{net.ParseIP("127.16.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ca.EnsureServingBundle(dir, "b", []net.IP{net.ParseIP("127.16.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadServingBundle(certs, otherKey); err == nil {
		t.Error("a bundle loaded with another bundle's key")
	}
	if err := os.WriteFile(certs, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadServingBundle(certs, otherKey); err == nil || !strings.Contains(err.Error(), "none names an address") {
		t.Errorf("an empty bundle: %v", err)
	}
}
