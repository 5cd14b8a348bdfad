package rig

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/myriad-dev/myriad/pkg/controlplane"
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

// writerRole names the ClusterRole and ClusterRoleBinding of WriterUser
// (controlplane.Grant names both after the user).
const writerRole = WriterUser

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
	if err := controlplane.Grant(ctx, admin, WriterUser, rules); err != nil {
		return fmt.Errorf("bench writer: %w", err)
	}
	return nil
}
