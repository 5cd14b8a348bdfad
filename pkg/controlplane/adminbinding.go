package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/durable"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
)

// adminBindingMarker records that `up` bound AdminGroup to cluster-admin
// once. The binding is made once per data directory (its first start, or
// the first after an upgrade from when the admin was in system:masters)
// and never again, so that deleting it revokes the admin certificates for
// good; the super-admin kubeconfig can make it again.
func (d DataDir) adminBindingMarker() string { return filepath.Join(d.PKI(), "admin-bound") }

// ensureAdminBinding binds AdminGroup to cluster-admin, as the
// super-admin, unless that was done before.
func ensureAdminBinding(ctx context.Context, d DataDir) error {
	if _, err := os.Stat(d.adminBindingMarker()); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	cs, err := kubeclient.Clientset(d.SuperAdminKubeconfig(), kubeclient.Options{UserAgent: "myriad-up"})
	if err != nil {
		return err
	}
	return bindAdmins(ctx, cs, d.adminBindingMarker())
}

// bindAdmins creates the ClusterRoleBinding that makes AdminGroup
// cluster-admin (one that exists is left as it is) and then writes
// marker, so a crash between the two binds again at the next start. A
// marker already there means it was done: nothing is made, so a deleted
// binding stays deleted (the cluster's admin, and each tenant's, whose
// host checks at every reconcile).
func bindAdmins(ctx context.Context, cs kubernetes.Interface, marker string) error {
	if _, err := os.Stat(marker); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: AdminGroup, Labels: managedLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: AdminGroup}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("bind %s to cluster-admin: %w", AdminGroup, err)
	}
	return durable.WriteFile(marker, []byte(AdminGroup+" bound to cluster-admin; delete the ClusterRoleBinding to revoke the admin certificates\n"), 0o600)
}
