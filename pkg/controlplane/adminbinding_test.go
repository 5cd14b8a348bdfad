package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

// The admin is cluster-admin through RBAC, revocable; only the super-admin
// is in system:masters. A data directory whose admin certificate was in
// system:masters gets it re-issued without.
func TestAdminIsNotInSystemMasters(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := d.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	// An admin certificate as earlier versions issued it.
	ca, err := pki.LoadOrCreateCA(d.PKI(), "ca", "myriad-ca")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.EnsureCert(d.PKI(), "admin-client", pki.Request{CommonName: AdminUser, Organization: []string{"system:masters"}, Client: true}); err != nil {
		t.Fatal(err)
	}
	c, err := EnsureCerts(d)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := c.Client(AdminUser)
	if got := load(t, admin).Subject.Organization; !slices.Equal(got, []string{AdminGroup}) {
		t.Errorf("admin groups %q, want [%s]", got, AdminGroup)
	}
	super, _ := c.Client(SuperAdminUser)
	if got := load(t, super).Subject.Organization; !slices.Equal(got, []string{"system:masters"}) {
		t.Errorf("super-admin groups %q, want [system:masters]", got)
	}
}

// The group is bound once: a binding the user deleted to revoke the admin
// stays deleted across restarts.
func TestAdminGroupIsBoundOnce(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := os.MkdirAll(d.PKI(), 0o700); err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset()
	ctx := context.Background()
	if err := bindAdmins(ctx, cs, d.adminBindingMarker()); err != nil {
		t.Fatal(err)
	}
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, AdminGroup, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if crb.RoleRef.Name != "cluster-admin" || len(crb.Subjects) != 1 || crb.Subjects[0].Kind != rbacv1.GroupKind || crb.Subjects[0].Name != AdminGroup {
		t.Fatalf("binding %+v", crb)
	}
	// Bound again after a crash before the marker: no error.
	if err := os.Remove(d.adminBindingMarker()); err != nil {
		t.Fatal(err)
	}
	if err := bindAdmins(ctx, cs, d.adminBindingMarker()); err != nil {
		t.Fatal(err)
	}
	// Revoked: the binding deleted stays deleted.
	if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, AdminGroup, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := bindAdmins(ctx, cs, d.adminBindingMarker()); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, AdminGroup, metav1.GetOptions{}); err == nil {
		t.Error("a revoked binding was made again")
	}
	// With the marker written, up does not even build a client (there is
	// no super-admin kubeconfig here to build it from).
	if err := ensureAdminBinding(ctx, d); err != nil {
		t.Fatalf("bound again: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.PKI(), "admin-bound")); err != nil {
		t.Fatal(err)
	}
}
