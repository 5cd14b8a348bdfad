package controlplane

import (
	"context"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

// A tenant's etcd identity reaches its own prefix and nothing else, while
// the API server's identity keeps full access, compaction included.
func TestEtcdAuthConfinesATenantToItsPrefix(t *testing.T) {
	dir, certs, port := startEtcd(t, 1<<30)
	ctx := context.Background()
	root, err := EtcdClient(certs, port)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Put(ctx, "/registry/secrets/default/s", "super"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := EnsureEtcdAuth(ctx, root); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := pki.LoadOrCreateCA(dir.PKI(), "etcd-ca", "myriad-etcd-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.EnsureCert(dir.PKI(), "tenant-a", pki.Request{CommonName: "myriad-tenant-a", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := EtcdClientAs(certs.EtcdCA, cert, key, port)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Put(ctx, "/tenants/a/registry/x", "1"); err == nil {
		t.Fatal("a user without a role wrote")
	}
	for range 2 {
		if err := GrantEtcdPrefix(ctx, root, "myriad-tenant-a", "/tenants/a/"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Put(ctx, "/tenants/a/registry/x", "1"); err != nil {
		t.Fatalf("tenant cannot write its prefix: %v", err)
	}
	if r, err := a.Get(ctx, "/tenants/a/", clientv3.WithPrefix()); err != nil || r.Count != 1 {
		t.Fatalf("tenant cannot list its prefix: %v", err)
	}
	for _, key := range []string{"/registry/secrets/default/s", "/tenants/b/registry/x", "/tenants/ab/registry/x"} {
		if _, err := a.Get(ctx, key); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("tenant read %s: %v", key, err)
		}
		if _, err := a.Put(ctx, key, "forged"); err == nil {
			t.Errorf("tenant wrote %s", key)
		}
	}
	if _, err := a.Get(ctx, "/", clientv3.WithPrefix()); err == nil {
		t.Error("tenant listed the whole keyspace")
	}
	r, err := root.Put(ctx, "/registry/x", "y")
	if err != nil {
		t.Fatalf("root lost access: %v", err)
	}
	if _, err := root.Compact(ctx, r.Header.Revision); err != nil {
		t.Fatalf("root cannot compact: %v", err)
	}
	if err := RevokeEtcdUser(ctx, root, "myriad-tenant-a"); err != nil {
		t.Fatal(err)
	}
	if err := RevokeEtcdUser(ctx, root, "myriad-tenant-a"); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := a.Get(ctx, "/tenants/a/registry/x"); err == nil {
		t.Error("a revoked tenant still reads")
	}
}
