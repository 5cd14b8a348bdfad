package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/authfilter"
)

// endpointFlags are the flags of a component's own endpoint (--metrics-addr):
// HTTPS with delegated authentication and authorization on /metrics by
// default, as upstream components serve theirs.
type endpointFlags struct {
	secure                    bool
	certFile, keyFile, caFile string
}

func (e *endpointFlags) bind(f *pflag.FlagSet) {
	f.BoolVar(&e.secure, "metrics-secure", true, "serve --metrics-addr over HTTPS, /metrics only to callers the API server authenticates (a client certificate of --client-ca-file, or a bearer token) and authorizes (get on the /metrics path); /healthz and /readyz stay open. false: plain HTTP with no checks")
	f.StringVar(&e.certFile, "tls-cert-file", "", "serving certificate of --metrics-addr (default: a self-signed one made at start)")
	f.StringVar(&e.keyFile, "tls-private-key-file", "", "key of --tls-cert-file")
	f.StringVar(&e.caFile, "client-ca-file", "", "CA whose client certificates authenticate to /metrics (without it, bearer tokens only)")
}

// scheme is what the endpoint speaks, for the line a command prints.
func (e endpointFlags) scheme() string {
	if e.secure {
		return "https"
	}
	return "http"
}

// serve serves reg on /metrics, /healthz and, with ready, /readyz (200
// once ready), plus extra guarded paths, at addr until ctx ends. client
// asks the API server who a caller is and what it may read.
func (e endpointFlags) serve(ctx context.Context, addr string, client kubernetes.Interface, reg *prometheus.Registry, ready func() bool, extra map[string]http.Handler) error {
	ep := authfilter.Endpoint{Addr: addr, CertFile: e.certFile, KeyFile: e.keyFile, Insecure: !e.secure,
		Open:    map[string]http.Handler{"/healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })},
		Guarded: map[string]http.Handler{"/metrics": promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}}
	for path, h := range extra {
		ep.Guarded[path] = h
	}
	if ready != nil {
		ep.Open["/readyz"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if !ready() {
				http.Error(w, "caches not synced", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok"))
		})
	}
	if e.secure {
		g, err := authfilter.New(authfilter.Config{Client: client, ClientCA: e.caFile})
		if err != nil {
			return err
		}
		ep.Guard = g
	}
	if err := ep.Serve(ctx); err != nil {
		return fmt.Errorf("--metrics-addr %s: %v", addr, err)
	}
	return nil
}
