package rig

import (
	"context"
	"slices"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
)

// The writer holds exactly the rules asked, bound to its user alone, and
// a second grant replaces them; its client impersonates that user and
// leaves the admin's config as it was.
func TestWriterIdentity(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	first := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}}}
	if err := grantWriter(ctx, cs, first); err != nil {
		t.Fatal(err)
	}
	second := append(first, rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"create"}})
	if err := grantWriter(ctx, cs, second); err != nil {
		t.Fatal(err)
	}
	role, err := cs.RbacV1().ClusterRoles().Get(ctx, writerRole, metav1.GetOptions{})
	if err != nil || len(role.Rules) != 2 {
		t.Fatalf("role %+v: %v", role, err)
	}
	b, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, writerRole, metav1.GetOptions{})
	if err != nil || len(b.Subjects) != 1 || b.Subjects[0].Name != WriterUser || b.RoleRef.Name != writerRole {
		t.Fatalf("binding %+v: %v", b, err)
	}
	admin := &rest.Config{Host: "https://127.0.0.1:6443"}
	w := writerConfig(admin)
	if w.Impersonate.UserName != WriterUser || !slices.Contains(w.Impersonate.Groups, "system:authenticated") {
		t.Errorf("writer impersonates %+v", w.Impersonate)
	}
	if admin.Impersonate.UserName != "" {
		t.Error("the admin's config was changed")
	}
	attached := New(clocktesting.NewFakeClock(time.Now()), cs)
	got, who, err := attached.Writer(ctx, first)
	if err != nil || got != cs || who != "the --kubeconfig identity" {
		t.Errorf("an attached rig's writer: %v %q %v", got == cs, who, err)
	}
}
