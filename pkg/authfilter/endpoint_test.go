package authfilter

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The probes are open to anyone, everything else only behind the guard,
// over TLS (a self-signed certificate when none is given); insecure, the
// same paths are plain HTTP with no checks.
func TestEndpointGuardsAllButTheProbes(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer api.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Client: cs})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(url string) int {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	secure := Endpoint{Addr: freeAddr(t), Guard: g, Open: map[string]http.Handler{"/healthz": ok},
		Guarded: map[string]http.Handler{"/metrics": ok, "/debug/pprof/": ok}}
	if err := secure.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/healthz": 200, "/metrics": 401, "/debug/pprof/heap": 401, "/nothing": 404} {
		if got := get(fmt.Sprintf("https://%s%s", secure.Addr, path)); got != want {
			t.Errorf("secure %s: %d, want %d", path, got, want)
		}
	}
	if got := get("http://" + secure.Addr + "/metrics"); got != http.StatusBadRequest {
		t.Errorf("plain HTTP to the secure endpoint: %d, want Go's 400 for HTTP to an HTTPS server", got)
	}
	insecure := Endpoint{Addr: freeAddr(t), Insecure: true, Open: map[string]http.Handler{"/healthz": ok}, Guarded: map[string]http.Handler{"/metrics": ok}}
	if err := insecure.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	if got := get("http://" + insecure.Addr + "/metrics"); got != 200 {
		t.Errorf("insecure /metrics: %d", got)
	}
	if err := (Endpoint{Addr: freeAddr(t), Guarded: map[string]http.Handler{"/metrics": ok}}).Serve(ctx); err == nil {
		t.Error("a secure endpoint without a guard served")
	}
	if err := (Endpoint{Addr: freeAddr(t), Guard: g, CertFile: "x.crt"}).Serve(ctx); err == nil {
		t.Error("a certificate without its key was accepted")
	}
}
