package controlplane

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

// etcd's certificates come from its own CA and the cluster CA signs none
// of them, while every component identity stays with the cluster CA: a
// certificate the cluster CA signs (any component, any approved CSR) does
// not verify against the CA etcd trusts.
func TestEtcdHasItsOwnCA(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := d.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	c, err := EnsureCerts(d)
	if err != nil {
		t.Fatal(err)
	}
	etcdRoots, clusterRoots := pool(t, c.EtcdCA), pool(t, c.CA)
	for _, f := range []string{c.EtcdServerCert, c.EtcdPeerCert, c.EtcdClientCert} {
		cert := load(t, f)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: etcdRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s does not chain to etcd's CA: %v", f, err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: clusterRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
			t.Errorf("%s chains to the cluster CA", f)
		}
	}
	if got := load(t, c.EtcdClientCert).Subject.CommonName; got != EtcdClientName {
		t.Errorf("etcd client CN %q, want %q (etcd's AllowedCNs)", got, EtcdClientName)
	}
	admin, _ := c.Client(AdminUser)
	if _, err := load(t, admin).Verify(x509.VerifyOptions{Roots: etcdRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Error("the admin certificate verifies against etcd's CA")
	}
}

func load(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func pool(t *testing.T, file string) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(load(t, file))
	return p
}
