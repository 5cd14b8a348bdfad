package syncer

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/klog/v2"

	"github.com/myriad-dev/myriad/pkg/loopback"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// The kubelet proxy is what a tenant's API server reaches when a tenant
// user runs `kubectl logs`, `exec`, `attach` or `port-forward`: every
// virtual node reports its super node's address with the proxy's port as
// its kubelet endpoint (VirtualCluster's vn-agent does the same on real
// nodes). The proxy authenticates the tenant's API server by its client
// certificate (signed by that tenant's CA, common name
// kube-apiserver-kubelet-client), finds the tenant's pod and its copy on
// the super cluster, and forwards the request, upgraded streams included,
// to that copy's log, exec, attach or portforward subresource on the
// super cluster's API server, as the syncer. So the tenant's RBAC decides
// whether the user may, the super cluster's whether the syncer may, and
// nothing reaches a kubelet around either API server's authorization.
//
// It must never serve a pod that is not the tenant's own: the tenant is
// the one whose CA verifies the certificate, the pod is looked up in that
// tenant's cache, and its super copy must carry that tenant's label and
// that pod's UID.

// KubeletClientUser is the common name the tenant's API server presents
// (--kubelet-client-certificate), as the super cluster's does to kubelets.
const KubeletClientUser = "kube-apiserver-kubelet-client"

// KubeletProxy configures the proxy; nil in Options turns it off, and the
// virtual nodes then report the super nodes' own kubelet endpoints.
type KubeletProxy struct {
	// Port is what every virtual node reports as its kubelet port. The
	// leader listens on it on every loopback address (the simulated
	// nodes' addresses are loopback addresses; package loopback).
	Port int
	// Certificates holds a serving certificate per node address, signed
	// by the CA the tenants' API servers trust for kubelets
	// (LoadServingBundle).
	Certificates map[netip.Addr]*tls.Certificate
	// Super reaches the super cluster's API server as the syncer.
	Super *rest.Config
}

// LoadServingBundle reads a PEM file of serving certificates sharing the
// key in keyFile, each naming one address, as `myriad up` issues them.
func LoadServingBundle(certFile, keyFile string) (map[netip.Addr]*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet proxy serving certificates: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet proxy serving key: %w", err)
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("kubelet proxy serving key %s: %w", keyFile, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("kubelet proxy serving key %s cannot sign", keyFile)
	}
	out := map[netip.Addr]*tls.Certificate{}
	for rest := certPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("kubelet proxy serving certificates %s: %w", certFile, err)
		}
		if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(signer.Public()) {
			return nil, fmt.Errorf("kubelet proxy serving certificates %s: a certificate is not for the key in %s", certFile, keyFile)
		}
		pair := &tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: signer, Leaf: leaf}
		for _, ip := range leaf.IPAddresses {
			if a, ok := netip.AddrFromSlice(ip); ok {
				out[a.Unmap()] = pair
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("kubelet proxy serving certificates %s: none names an address", certFile)
	}
	return out, nil
}

// kubeletProxy serves the tenants' API servers while this instance leads.
type kubeletProxy struct {
	s         *Syncer
	cfg       KubeletProxy
	base      *url.URL
	transport *http.Transport
	bearer    string
}

func newKubeletProxy(s *Syncer, cfg KubeletProxy) (*kubeletProxy, error) {
	if cfg.Super == nil || len(cfg.Certificates) == 0 || cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, errors.New("kubelet proxy: a port, serving certificates and a super-cluster config are required")
	}
	base, err := url.Parse(cfg.Super.Host)
	if err != nil || base.Scheme != "https" {
		return nil, fmt.Errorf("kubelet proxy: super cluster address %q is not https", cfg.Super.Host)
	}
	tlsCfg, err := rest.TLSConfigFor(cfg.Super)
	if err != nil {
		return nil, fmt.Errorf("kubelet proxy: %w", err)
	}
	if tlsCfg != nil {
		// Upgraded streams need HTTP/1.1 end to end.
		tlsCfg.NextProtos = []string{"http/1.1"}
	}
	bearer := cfg.Super.BearerToken
	if bearer == "" && cfg.Super.BearerTokenFile != "" {
		b, err := os.ReadFile(cfg.Super.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("kubelet proxy: %w", err)
		}
		bearer = strings.TrimSpace(string(b))
	}
	// A transport of its own, not client-go's: the upgrade-aware proxy
	// dials upgraded streams itself and takes the TLS settings (the
	// syncer's client certificate) from an *http.Transport.
	tr := &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: false, MaxIdleConnsPerHost: 16,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
	return &kubeletProxy{s: s, cfg: cfg, base: base, transport: tr, bearer: bearer}, nil
}

// serve listens until ctx ends. The previous leader may hold the port for
// a moment after it lost the Lease, so binding is retried.
func (p *kubeletProxy) serve(ctx context.Context) {
	logger := klog.FromContext(ctx)
	var l net.Listener
	for {
		var err error
		if l, err = loopback.Listen(ctx, p.cfg.Port); err == nil {
			break
		}
		logger.Error(err, "Kubelet proxy cannot listen yet, retrying")
		select {
		case <-ctx.Done():
			return
		case <-p.s.o.Clock.After(2 * time.Second):
		}
	}
	srv := &http.Server{
		Handler: p.routes(),
		TLSConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Which tenant's CA signed it is decided per request
			// (tenantOf): tenants come and go while the socket stays.
			ClientAuth: tls.RequireAnyClientCert,
			NextProtos: []string{"http/1.1"},
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				if a, ok := loopback.LocalAddr(hello.Conn); ok {
					if c := p.cfg.Certificates[a]; c != nil {
						return c, nil
					}
				}
				return nil, fmt.Errorf("kubelet proxy: no serving certificate for %s", hello.Conn.LocalAddr())
			},
		},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	logger.Info("Serving the tenants' kubelet proxy", "address", l.Addr())
	if err := srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error(err, "Kubelet proxy stopped")
	}
}

// routes are the kubelet paths a kube-apiserver calls for pods'
// subresources; the super cluster's subresource each becomes.
func (p *kubeletProxy) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /containerLogs/{namespace}/{pod}/{container}", p.forward("log"))
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		for _, r := range []struct{ path, sub string }{
			{"/exec/{namespace}/{pod}/{container}", "exec"}, {"/exec/{namespace}/{pod}/{uid}/{container}", "exec"},
			{"/attach/{namespace}/{pod}/{container}", "attach"}, {"/attach/{namespace}/{pod}/{uid}/{container}", "attach"},
			{"/portForward/{namespace}/{pod}", "portforward"}, {"/portForward/{namespace}/{pod}/{uid}", "portforward"},
		} {
			mux.Handle(m+" "+r.path, p.forward(r.sub))
		}
	}
	return mux
}

// forward serves one kind of request: who asks, for which pod, then the
// super cluster's answer.
func (p *kubeletProxy) forward(sub string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tc, status, err := p.tenantOf(r)
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		loc, status, err := p.s.superLocation(tc, sub, r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("uid"), r.PathValue("container"), r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		u := *p.base
		u.Path = strings.TrimSuffix(u.Path, "/") + loc.Path
		u.RawQuery = loc.RawQuery
		out := r.Clone(r.Context())
		out.URL.RawQuery = u.RawQuery // the non-upgrade path takes the query from the request
		// The request goes on as the syncer and nobody else: no
		// credentials or impersonation of the caller's pass.
		out.Header.Del("Authorization")
		for h := range out.Header {
			if strings.HasPrefix(h, "Impersonate-") {
				out.Header.Del(h)
			}
		}
		if p.bearer != "" {
			out.Header.Set("Authorization", "Bearer "+p.bearer)
		}
		h := proxy.NewUpgradeAwareHandler(&u, p.transport, false, false, errorResponder{})
		// Followed logs arrive a line at a time.
		h.FlushInterval = -1
		h.ServeHTTP(w, out)
	})
}

// tenantOf is the tenant whose CA signed the client certificate, if its
// common name is the API server's kubelet client.
func (p *kubeletProxy) tenantOf(r *http.Request) (*tenantCluster, int, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, http.StatusUnauthorized, errors.New("Unauthorized: a tenant API server's kubelet client certificate is required")
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	for _, tc := range p.s.servedTenants() {
		if tc.clientCAs == nil {
			continue
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: tc.clientCAs, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			continue
		}
		if leaf.Subject.CommonName != KubeletClientUser {
			return nil, http.StatusForbidden, fmt.Errorf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=proxy)", leaf.Subject.CommonName, strings.ToLower(r.Method))
		}
		return tc, 0, nil
	}
	return nil, http.StatusUnauthorized, errors.New("Unauthorized: the client certificate is no served tenant's")
}

// superLocation is the super-cluster path and query that serve tenant
// pod ns/name's subresource: the pod must be the tenant's, be the one
// with uid when a uid is given, and have its copy on the super cluster.
func (s *Syncer) superLocation(tc *tenantCluster, sub, ns, name, uid, container string, q url.Values) (*url.URL, int, error) {
	pod, err := tc.pods.Pods(ns).Get(name)
	if err != nil || (uid != "" && string(pod.UID) != uid) {
		return nil, http.StatusNotFound, fmt.Errorf("pod %s/%s not found", ns, name)
	}
	superNS := tenancy.SuperNamespace(tc.name, ns)
	twin, err := s.super.pods.Pods(superNS).Get(name)
	if err != nil || twin.Labels[tenancy.LabelTenant] != tc.name || twin.Annotations[tenancy.AnnotationUID] != string(pod.UID) {
		return nil, http.StatusNotFound, fmt.Errorf("pod %s/%s is not running on the cluster yet", ns, name)
	}
	query, err := superQuery(sub, container, q)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	return &url.URL{Path: "/api/v1/namespaces/" + superNS + "/pods/" + name + "/" + sub, RawQuery: query.Encode()}, 0, nil
}

// superQuery turns a kubelet request's query into the super cluster's
// subresource query: the API server's own translation
// (pkg/registry/core/pod's streamParams and LogLocation) read backwards.
func superQuery(sub, container string, q url.Values) (url.Values, error) {
	out := url.Values{}
	if container != "" {
		out.Set("container", container)
	}
	switch sub {
	case "log":
		for _, k := range []string{"follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes", "stream"} {
			if v, ok := q[k]; ok {
				out[k] = v
			}
		}
	case "exec", "attach":
		for kubelet, api := range map[string]string{"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"} {
			if v := q.Get(kubelet); v != "" && v != "0" && v != "false" {
				out.Set(api, "true")
			}
		}
		if sub == "exec" {
			cmd := q["command"]
			if len(cmd) == 0 {
				return nil, errors.New("exec: no command")
			}
			out["command"] = cmd
		}
	case "portforward":
		for _, list := range q["port"] {
			for p := range strings.SplitSeq(list, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out.Add("ports", p)
				}
			}
		}
	}
	return out, nil
}

// errorResponder answers a failed forward as a kubelet would, in plain
// text; the tenant's API server relays it.
type errorResponder struct{}

func (errorResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, "kubelet proxy: "+err.Error(), http.StatusBadGateway)
}
