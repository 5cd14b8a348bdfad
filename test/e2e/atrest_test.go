package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// testSecretsEncrypted reads a Secret's bytes straight from etcd, as
// someone holding a copy of the data directory's etcd files would, and
// finds them encrypted with secretbox, while the API still serves the
// plain value.
func testSecretsEncrypted(t *testing.T, cs kubernetes.Interface, ns, dataDir string, etcdPort int) {
	ctx := context.Background()
	const canary = "myriad-plaintext-canary"
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "at-rest"},
		StringData: map[string]string{"password": canary},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Secrets(ns).Get(ctx, "at-rest", metav1.GetOptions{})
	if err != nil || string(got.Data["password"]) != canary {
		t.Fatalf("read back through the API: %v, %q", err, got.Data["password"])
	}

	pkiDir := filepath.Join(dataDir, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "apiserver-etcd-client.crt"), filepath.Join(pkiDir, "apiserver-etcd-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pkiDir, etcdCAName(pkiDir)+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	etcd, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"https://127.0.0.1:" + itoa(etcdPort)},
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	resp, err := etcd.Get(ctx, "/registry/secrets/"+ns+"/at-rest")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("etcd get: %v (%d keys)", err, len(resp.Kvs))
	}
	raw := resp.Kvs[0].Value

	// Any other identity, even one of the cluster CA, is turned away.
	adminCert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "admin-client.crt"), filepath.Join(pkiDir, "admin-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	intruder, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"https://127.0.0.1:" + itoa(etcdPort)},
		TLS:         &tls.Config{Certificates: []tls.Certificate{adminCert}, RootCAs: pool},
		DialTimeout: 5 * time.Second,
	})
	if err == nil {
		getCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = intruder.Get(getCtx, "/registry/secrets/"+ns+"/at-rest")
		cancel()
		intruder.Close()
	}
	if err == nil {
		t.Error("etcd served the admin's client certificate: it must accept only the API server's")
	}
	if !strings.HasPrefix(string(raw), "k8s:enc:secretbox:v1:key1:") || strings.Contains(string(raw), canary) {
		t.Fatalf("Secret stored as %q..., want secretbox ciphertext", raw[:min(len(raw), 40)])
	}
}

// etcdCAName is the CA that signs etcd's certificates: its own when the
// data directory has one, else the cluster CA.
func etcdCAName(pkiDir string) string {
	if _, err := os.Stat(filepath.Join(pkiDir, "etcd-ca.crt")); err == nil {
		return "etcd-ca"
	}
	return "ca"
}
