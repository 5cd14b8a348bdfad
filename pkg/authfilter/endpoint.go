package authfilter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// Endpoint is a component's own HTTP endpoint as upstream components
// serve theirs: TLS, the probes (/healthz, /readyz) open to anyone, as
// upstream's always-allowed paths, and everything else (/metrics,
// /debug/pprof/) only behind the Guard.
type Endpoint struct {
	Addr string
	// CertFile and KeyFile are the serving certificate; when both are
	// empty a self-signed one for the loopback addresses is made in
	// memory, as upstream components do without --tls-cert-file.
	CertFile, KeyFile string
	// Insecure serves plain HTTP with no guard: for a loopback address
	// whose readers cannot present credentials. Never the default.
	Insecure bool
	Guard    *Guard
	// Open and Guarded map paths (a trailing "/" serves a subtree) to
	// their handlers.
	Open, Guarded map[string]http.Handler
}

// Serve listens on Addr and serves until ctx ends.
func (e Endpoint) Serve(ctx context.Context) error {
	if !e.Insecure && e.Guard == nil {
		return errors.New("a secure endpoint needs a guard")
	}
	mux := http.NewServeMux()
	for path, h := range e.Open {
		mux.Handle(path, h)
	}
	for path, h := range e.Guarded {
		if !e.Insecure {
			h = e.Guard.Wrap(h)
		}
		mux.Handle(path, h)
	}
	l, err := net.Listen("tcp", e.Addr)
	if err != nil {
		return err
	}
	if !e.Insecure {
		cert, err := e.certificate()
		if err != nil {
			l.Close()
			return err
		}
		// A client certificate is asked for, not required: a bearer token
		// is as good, and the authenticator verifies the chain.
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12})
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return nil
}

func (e Endpoint) certificate() (tls.Certificate, error) {
	switch {
	case e.CertFile != "" && e.KeyFile != "":
		c, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
		if err != nil {
			return c, fmt.Errorf("serving certificate: %w", err)
		}
		return c, nil
	case e.CertFile != "" || e.KeyFile != "":
		return tls.Certificate{}, errors.New("a serving certificate needs both its certificate and its key file")
	}
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("localhost", []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, nil)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed serving certificate: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
