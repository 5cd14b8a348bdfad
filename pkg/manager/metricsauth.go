package manager

import (
	"crypto/tls"
	"net/http"
	"path/filepath"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/myriad-dev/myriad/pkg/authfilter"
)

// metricsOptions serves /metrics at addr. Secure, it is HTTPS with the
// webhook's serving certificate (controller-runtime's self-signed one
// without it) and delegated authentication and authorization
// (authfilter): a client certificate of clientCA or a bearer token, and a
// SubjectAccessReview of GET /metrics, as kube-controller-manager's
// /metrics answers.
func metricsOptions(addr string, secure bool, certFile, keyFile, clientCA string) metricsserver.Options {
	o := metricsserver.Options{BindAddress: addr}
	if !secure {
		return o
	}
	o.SecureServing = true
	if certFile != "" {
		o.CertDir, o.CertName, o.KeyName = filepath.Dir(certFile), filepath.Base(certFile), filepath.Base(keyFile)
	}
	// Ask for a client certificate without requiring one: a token is as
	// good, and the authenticator verifies the certificate's chain.
	o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.ClientAuth = tls.RequestClientCert }}
	o.FilterProvider = func(c *rest.Config, hc *http.Client) (metricsserver.Filter, error) {
		cs, err := kubernetes.NewForConfigAndClient(c, hc)
		if err != nil {
			return nil, err
		}
		g, err := authfilter.New(authfilter.Config{Client: cs, ClientCA: clientCA})
		if err != nil {
			return nil, err
		}
		return func(_ logr.Logger, h http.Handler) (http.Handler, error) { return g.Wrap(h), nil }, nil
	}
	return o
}
