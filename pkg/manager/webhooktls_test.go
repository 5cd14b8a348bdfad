package manager

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

// The webhook admits the API server's client certificate and nobody
// else: no certificate, another name the cluster CA signed, or the right
// name from another CA are all refused in the handshake.
func TestWebhookAdmitsOnlyTheAPIServer(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.LoadOrCreateCA(dir, "other-ca", "other-ca")
	if err != nil {
		t.Fatal(err)
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	servingCert, servingKey, err := ca.EnsureCert(dir, "serving", pki.Request{CommonName: "webhook", Server: true, IPs: loopback})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := webhookClientAuth(ca.CertFile, []string{"kube-apiserver-webhook-client"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	pair, err := tls.LoadX509KeyPair(servingCert, servingKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	auth(srv.TLS)
	srv.StartTLS()
	defer srv.Close()

	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(caPEM)
	calls := 0
	call := func(signer *pki.CA, name string) error {
		cfg := &tls.Config{RootCAs: roots}
		if signer != nil {
			calls++
			cert, key, err := signer.EnsureCert(dir, fmt.Sprint("client-", calls), pki.Request{CommonName: name, Client: true})
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := call(ca, "kube-apiserver-webhook-client"); err != nil {
		t.Fatalf("the API server's certificate refused: %v", err)
	}
	for _, tc := range []struct {
		what   string
		signer *pki.CA
		name   string
	}{
		{"no certificate", nil, ""},
		{"another name from the cluster CA", ca, "system:node:myriad-node-0"},
		{"the API server's name from another CA", other, "kube-apiserver-webhook-client"},
	} {
		if err := call(tc.signer, tc.name); err == nil {
			t.Errorf("%s: admitted", tc.what)
		}
	}
	if _, err := webhookClientAuth(servingKey, nil); err == nil {
		t.Error("a file with no certificate taken as the client CA")
	}
}
