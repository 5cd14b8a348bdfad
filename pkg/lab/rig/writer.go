package rig

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// An ordinary identity for a scenario's bulk writes.
//
// The rig drives a started cluster as the super-admin, in system:masters,
// which API Priority and Fairness exempts: its requests take no seat and
// never queue. That keeps a scenario's offered load its own, but it hides
// what APF would do with the same writes from a user. A scenario that
// studies APF writes instead as WriterUser, an authenticated user in no
// special group, which the suggested FlowSchemas classify as
// global-default, as they would a user's CI job. The rig grants it only
// the rules the scenario names, and reaches it by impersonation, which the
// API server resolves before APF classifies the request.

// WriterUser is the ordinary identity's name.
const WriterUser = "myriad-bench-writer"

// writerRole names the ClusterRole and ClusterRoleBinding of WriterUser.
const writerRole = "myriad:bench-writer"

// Writer returns a client that writes as WriterUser with rules, and the
// identity's name for the report. On an attached cluster the --kubeconfig
// identity is the user's own choice: it is returned unchanged.
func (r *Rig) Writer(ctx context.Context, rules []rbacv1.PolicyRule) (kubernetes.Interface, string, error) {
	if r.Cluster == nil || r.Config == nil {
		return r.Client, "the --kubeconfig identity", nil
	}
	if err := grantWriter(ctx, r.Client, rules); err != nil {
		return nil, "", err
	}
	cs, err := kubernetes.NewForConfig(writerConfig(r.Config))
	if err != nil {
		return nil, "", err
	}
	return cs, WriterUser + " (APF: global-default)", nil
}

// writerConfig is cfg impersonating WriterUser.
func writerConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: WriterUser, Groups: []string{"system:authenticated"}}
	return c
}

// grantWriter makes WriterUser's ClusterRole hold rules and binds it.
func grantWriter(ctx context.Context, admin kubernetes.Interface, rules []rbacv1.PolicyRule) error {
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: writerRole}, Rules: rules}
	roles := admin.RbacV1().ClusterRoles()
	if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		old, err := roles.Get(ctx, writerRole, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("bench writer's role: %w", err)
		}
		old.Rules = rules
		if _, err := roles.Update(ctx, old, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("bench writer's role: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("bench writer's role: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: writerRole},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: writerRole},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: WriterUser}}}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("bench writer's role binding: %w", err)
	}
	return nil
}
