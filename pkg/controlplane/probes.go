package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// httpsProbe returns a readiness check that GETs url with a client
// certificate and expects 200 and, if want is set, a body containing it.
func httpsProbe(url, caFile, certFile, keyFile, want string) (func(context.Context) error, error) {
	client, err := tlsClient(caFile, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return getProbe(client, url, want), nil
}

// getProbe GETs url and wants 200 and, if want is set, a body containing it.
func getProbe(client *http.Client, url, want string) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
		}
		if want != "" && !strings.Contains(string(body), want) {
			return fmt.Errorf("%s: unexpected answer %q", url, body)
		}
		return nil
	}
}

func tlsClient(caFile, certFile, keyFile string) (*http.Client, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}},
		DisableKeepAlives: true,
	}}, nil
}

// CheckPortFree fails with a one-line reason when addr:port cannot be bound.
func CheckPortFree(bind string, port int, flag string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(bind, fmt.Sprint(port)))
	if err != nil {
		return fmt.Errorf("port %d on %s (%s) is in use or not allowed; stop what holds it or choose another %s", port, bind, flag, flag)
	}
	return l.Close()
}

// httpProbe returns a readiness check that GETs a plain-HTTP url (a
// loopback metrics port) and expects 200.
func httpProbe(url string) func(context.Context) error {
	return getProbe(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, url, "")
}
