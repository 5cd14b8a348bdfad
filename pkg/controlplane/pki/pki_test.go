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

// TestServingBundle: one certificate per node address, each verifiable for
// its own address only and not as a client; kept across restarts, issued
// anew when the cluster grows.
func TestServingBundle(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	ips := []net.IP{net.ParseIP("127.16.0.1"), net.ParseIP("127.16.0.2")}
	certFile, keyFile, err := ca.EnsureServingBundle(dir, "kubelet-serving", ips)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil || len(certs) != 2 {
		t.Fatalf("want 2 certificates, got %d (%v)", len(certs), err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for i, c := range certs {
		serve := x509.VerifyOptions{Roots: pool, DNSName: ips[i].String(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := c.Verify(serve); err != nil {
			t.Errorf("certificate %d does not verify for %s: %v", i, ips[i], err)
		}
		serve.DNSName = ips[1-i].String()
		if _, err := c.Verify(serve); err == nil {
			t.Errorf("certificate %d also verifies for %s", i, ips[1-i])
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
			t.Errorf("serving certificate %d is usable as a client certificate", i)
		}
	}
	if info, _ := os.Stat(keyFile); info.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", info.Mode().Perm())
	}
	before, _ := os.ReadFile(certFile)
	if _, _, err := ca.EnsureServingBundle(dir, "kubelet-serving", ips[:1]); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(certFile); string(after) != string(before) {
		t.Error("a restart with fewer nodes reissued the bundle")
	}
	if _, _, err := ca.EnsureServingBundle(dir, "kubelet-serving", append(ips, net.ParseIP("127.16.0.3"))); err != nil {
		t.Fatal(err)
	}
	if certs, _ := certutil.CertsFromFile(certFile); len(certs) != 3 {
		t.Errorf("after growing to 3 nodes the bundle has %d certificates", len(certs))
	}
}
