package controlplane

import (
	"context"
	"fmt"
	"net"
	"strconv"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/storage"
	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// StorageUser is the identity of `myriad storage`, the volume provisioner
// and resizer for simulated nodes.
const StorageUser = "myriad:storage"

// storageRules are what an external provisioner and resizer need, as
// external-provisioner's and external-resizer's own roles grant: volumes
// it creates, patches (capacity) and deletes; claims it reads, updates (to
// ask the scheduler for another node) and whose status it patches when they
// grow; classes; the selected node's labels; events. It cannot touch pods
// or read Secrets.
var storageRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"persistentvolumes"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"get", "list", "watch", "update"}},
	{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims/status"}, Verbs: []string{"patch"}},
	{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}},
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
}

// storageLeaseRules apply only in kube-system, where its leader Lease is.
var storageLeaseRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
}

// bootstrapStorage grants `myriad storage` its RBAC and creates the
// default StorageClass unless the user has one of their own: the class is
// created once, never overwritten (a class's provisioner, parameters and
// binding mode are immutable anyway), and a user who made another class the
// default, or replaced "standard", keeps theirs.
func bootstrapStorage(ctx context.Context, cs kubernetes.Interface) error {
	if err := grant(ctx, cs, StorageUser, append(storageRules, delegatorRules...), metav1.NamespaceSystem, storageLeaseRules); err != nil {
		return err
	}
	classes, err := cs.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list StorageClasses: %w", err)
	}
	for _, c := range classes.Items {
		if c.Name == storage.DefaultClassName || c.Annotations[storage.DefaultClassAnnotation] == "true" {
			return nil
		}
	}
	if _, err := cs.StorageV1().StorageClasses().Create(ctx, storage.DefaultClass(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create StorageClass %s: %w", storage.DefaultClassName, err)
	}
	return nil
}

// storageProcess runs `myriad storage` with its own identity; metrics and
// probes are plain HTTP on a loopback port chosen for this run.
func storageProcess(plan Plan) supervisor.Process {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(plan.StoragePort))
	return supervisor.Process{Name: "myriad-storage", Ready: plan.endpointProbe(plan.StoragePort),
		Args: append([]string{"storage", "--kubeconfig", plan.Dir.Kubeconfig("storage"), "--metrics-addr", addr, handoverRetryPeriod},
			plan.endpointArgs(plan.Certs.StorageCert, plan.Certs.StorageKey)...)}
}
