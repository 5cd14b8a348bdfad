package controlplane

import (
	"context"
	"fmt"
	"net"
	"strconv"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes"

	tenancyv1 "github.com/myriad-dev/myriad/pkg/apis/tenancy/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/supervisor"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// What the syncer may do, on the super cluster and inside each tenant. It
// places tenant objects on the super cluster (namespaces it creates, and
// what lives in them) and reflects placement and status back; it never
// needs cluster-admin on either side.

// superSyncerRules are its rights on the super cluster.
var superSyncerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{tenancyv1.GroupName}, Resources: []string{"tenants"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces", "pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"nodes", "persistentvolumes", "endpoints"}, Verbs: []string{"get", "list", "watch"}},
	// Its kubelet proxy serves tenants' logs, exec, attach and
	// port-forward through these (the tenant's RBAC has already said yes).
	{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	{APIGroups: []string{""}, Resources: []string{"pods/exec", "pods/attach", "pods/portforward"}, Verbs: []string{"get", "create"}},
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch", "create", "patch", "update"}},
}

// superSyncerLeaseRules apply in kube-system, where its leader Lease is.
var superSyncerLeaseRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}},
}

// tenantSyncerRules are its rights inside a tenant: read what it places,
// write only placement (bindings, virtual nodes, mirrored volumes), pod
// status, Services' cluster IPs on the cluster (an annotation), and the
// events it relays.
var tenantSyncerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"namespaces", "pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts", "endpoints"},
		Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"delete"}},
	// The cluster IPs a Service got on the super cluster, as an annotation;
	// a claim bound to the mirror of its copy's volume.
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"patch"}},
	{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"update"}},
	{APIGroups: []string{""}, Resources: []string{"pods/status", "persistentvolumeclaims/status", "services/status"}, Verbs: []string{"update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"pods/binding"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"nodes", "nodes/status", "persistentvolumes", "persistentvolumes/status"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
}

// syncerName is the syncer's process name under the supervisor.
const syncerName = "myriad-syncer"

// syncerProcess runs `myriad syncer`, which places every tenant's pods on
// the cluster (see pkg/tenancy/syncer). It is cheap while no tenant exists.
// With the proxy's serving certificates it serves tenants' logs and exec
// on plan.TenantKubeletPort.
func syncerProcess(plan Plan, proxyCert, proxyKey string) supervisor.Process {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(plan.SyncerPort))
	var proxy []string
	if proxyCert != "" {
		proxy = []string{"--kubelet-proxy-port", strconv.Itoa(plan.TenantKubeletPort), "--kubelet-proxy-serving-certs", proxyCert, "--kubelet-proxy-serving-key", proxyKey}
	}
	return supervisor.Process{Name: syncerName, Ready: plan.endpointProbe(plan.SyncerPort),
		// The syncer does, for every tenant pod, what a scheduler and a
		// kubelet would (bind, report status) on top of placing it: about
		// eight API calls a pod, so its client may not stop at the 100
		// requests a second other components are given. Its syncs wait
		// on API servers more than they compute, and one tenant may hold
		// only a quarter of the workers (a hung tenant must not hold them
		// all): 64 workers let a lone busy tenant keep 16 syncs going.
		Args: append([]string{"syncer", "--kubeconfig", plan.Dir.Kubeconfig("syncer"), "--metrics-addr", addr, handoverRetryPeriod,
			"--kube-api-qps=1000", "--kube-api-burst=2000", "--workers=64"}, append(proxy, plan.endpointArgs(plan.Certs.SyncerCert, plan.Certs.SyncerKey)...)...)}
}

// bootstrapTenancy makes the namespace of tenants' kubeconfig Secrets and
// grants the syncer its super-cluster rights.
func bootstrapTenancy(ctx context.Context, cs kubernetes.Interface) error {
	if err := ensureNamespace(ctx, cs, tenancy.SystemNamespace); err != nil {
		return err
	}
	if err := grant(ctx, cs, SyncerUser, append(superSyncerRules, delegatorRules...), "kube-system", superSyncerLeaseRules); err != nil {
		return fmt.Errorf("syncer RBAC: %w", err)
	}
	return nil
}
