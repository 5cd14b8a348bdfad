package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	certutil "k8s.io/client-go/util/cert"
)

func TestIssuedCertificatesChainAndKeysArePrivate(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := ca.EnsureCert(dir, "server", Request{
		CommonName: "kube-apiserver", Server: true,
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("server certificate does not verify for localhost: %v", err)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("a server-only certificate must not be usable as a client certificate")
	}
	for _, f := range []string{keyFile, filepath.Join(dir, "ca.key")} {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, info.Mode().Perm())
		}
	}
}

func TestRestartKeepsExistingCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, _ := LoadOrCreateCA(dir, "ca", "test-ca")
	certFile, _, err := ca.EnsureCert(dir, "admin", Request{CommonName: "admin", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(certFile)

	ca2, err := LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	if !ca2.Cert.Equal(ca.Cert) {
		t.Fatal("reloading the CA produced a different CA")
	}
	if _, _, err := ca2.EnsureCert(dir, "admin", Request{CommonName: "admin", Client: true}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(certFile)
	if string(before) != string(after) {
		t.Fatal("a valid certificate was reissued; existing kubeconfigs would break")
	}
}

func TestHalfPresentCAIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateCA(dir, "ca", "test-ca"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "ca.key"))
	if _, err := LoadOrCreateCA(dir, "ca", "test-ca"); err == nil {
		t.Fatal("a CA certificate without its key must be an error, not silently replaced")
	}
}

func TestKeyPair(t *testing.T) {
	dir := t.TempDir()
	priv, pub, err := EnsureKeyPair(dir, "sa")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(priv)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := os.Stat(pub); err != nil {
		t.Fatal(err)
	}
}

func TestNewAddressReissuesServingCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, _ := LoadOrCreateCA(dir, "ca", "test-ca")
	req := Request{CommonName: "kube-apiserver", Server: true, IPs: []net.IP{net.ParseIP("127.0.0.1")}}
	certFile, _, err := ca.EnsureCert(dir, "apiserver", req)
	if err != nil {
		t.Fatal(err)
	}
	req.IPs = append(req.IPs, net.ParseIP("192.0.2.10"))
	if _, _, err := ca.EnsureCert(dir, "apiserver", req); err != nil {
		t.Fatal(err)
	}
	certs, _ := certutil.CertsFromFile(certFile)
	if err := certs[0].VerifyHostname("192.0.2.10"); err != nil {
		t.Fatalf("certificate not reissued for the new address: %v", err)
	}
}
