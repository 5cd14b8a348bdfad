package controlplane

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// The Metrics API (`kubectl top`, HorizontalPodAutoscalers) is served by
// upstream's metrics-server, linked into the myriad binary and run by
// `myriad up` like the other components. It scrapes every simulated
// node's /metrics/resource on the simulator's kubelet API, with its own
// client certificate, which the simulated kubelets admit for metrics and
// stats only.
//
// The API server reaches it as it reaches any aggregated API: through the
// APIService v1beta1.metrics.k8s.io and the Service kube-system/metrics-
// server. That Service is an ExternalName for localhost: with no
// kube-proxy, a ClusterIP leads nowhere, and Endpoints may not hold a
// loopback address, while the aggregator dials an ExternalName's host at
// the APIService's port. It still verifies metrics-server's certificate
// for metrics-server.kube-system.svc against the cluster CA.
const (
	MetricsServerUser     = "myriad:metrics-server"
	metricsServerName     = "metrics-server"
	metricsAPIServiceName = "v1beta1.metrics.k8s.io"
)

// MetricsResolution is how often metrics-server scrapes every node by
// default: its usual 15 s up to 2,500 nodes, then slower in proportion
// (60 s at 10,000), so that a round of scrapes, which metrics-server
// starts for every node at once, comes less often as it grows
// (docs/benchmarks/metrics-10k has what a round costs at 10,000).
func MetricsResolution(nodes int) time.Duration {
	return max(15*time.Second, time.Duration(nodes)*6*time.Millisecond).Round(time.Second)
}

// KubeletRequestTimeout is how long metrics-server waits for one node's
// metrics. metrics-server starts every node's scrape at the same instant,
// and at 10,000 nodes on two cores 40% of them outlasted its default 10 s
// (docs/benchmarks/metrics-10k); a scrape that is late is still worth more
// than none, so the timeout grows with the resolution, to half of it, and
// is never under 10 s unless the resolution is so short that
// metrics-server would refuse it (it must stay under 90% of the
// resolution).
func KubeletRequestTimeout(resolution time.Duration) time.Duration {
	return min(max(10*time.Second, resolution/2), resolution*8/10)
}

// MetricsServerArgs is metrics-server's command line: loopback only, the
// cluster CA for the kubelets' serving certificates, requests from the
// API server's front proxy authenticated as kube-controller-manager's are,
// and the node address and port the simulated nodes report.
func (p Plan) MetricsServerArgs(resolution time.Duration) []string {
	kc := p.Dir.Kubeconfig("metrics-server")
	c := p.Certs
	return []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.MetricsServerPort),
		"--tls-cert-file=" + c.MetricsServerCert,
		"--tls-private-key-file=" + c.MetricsServerKey,
		"--client-ca-file=" + c.CA,
		"--requestheader-client-ca-file=" + c.FrontProxyCA,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--kubelet-certificate-authority=" + c.CA,
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-use-node-status-port",
		"--metric-resolution=" + resolution.String(),
		"--kubelet-request-timeout=" + KubeletRequestTimeout(resolution).String(),
		// Its scrape lines at -v=1 name every node, every scrape.
		"--v=0",
	}
}

func metricsServerProcess(p Plan, resolution time.Duration) (supervisor.Process, error) {
	adminCert, adminKey := p.Certs.Client(SuperAdminUser)
	// /livez, not /readyz: metrics-server is ready only after its first
	// scrape of every node, which is not something `up` should wait for.
	ready, err := httpsProbe(fmt.Sprintf("https://127.0.0.1:%d/livez", p.MetricsServerPort), p.Certs.CA, adminCert, adminKey, "")
	if err != nil {
		return supervisor.Process{}, err
	}
	return supervisor.Process{Name: metricsServerName, Ready: ready,
		Args: append([]string{"metrics-server"}, p.MetricsServerArgs(resolution)...)}, nil
}

// metricsServerRules are upstream's system:metrics-server ClusterRole:
// read nodes and pods, and the nodes' metrics.
var metricsServerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"nodes/metrics"}, Verbs: []string{"get"}},
	{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}},
}

// bootstrapMetricsServer grants metrics-server what upstream's manifests
// grant it (its own ClusterRole, delegated authentication and
// authorization, reading the front proxy's configuration in kube-system)
// and lets view, edit and admin read the Metrics API.
func bootstrapMetricsServer(ctx context.Context, cs kubernetes.Interface) error {
	crs, crbs := cs.RbacV1().ClusterRoles(), cs.RbacV1().ClusterRoleBindings()
	subjects := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: MetricsServerUser}}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: MetricsServerUser, Labels: managedLabels}, Rules: metricsServerRules}
	if err := apply(ctx, role, crs.Create, crs.Update, crs.Get); err != nil {
		return fmt.Errorf("ClusterRole %s: %w", role.Name, err)
	}
	reader := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:aggregated-metrics-reader", Labels: map[string]string{
			"app.kubernetes.io/managed-by":                 "myriad",
			"rbac.authorization.k8s.io/aggregate-to-view":  "true",
			"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
			"rbac.authorization.k8s.io/aggregate-to-admin": "true",
		}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if err := apply(ctx, reader, crs.Create, crs.Update, crs.Get); err != nil {
		return fmt.Errorf("ClusterRole %s: %w", reader.Name, err)
	}
	for _, b := range []struct{ name, role string }{
		{MetricsServerUser, MetricsServerUser},
		{MetricsServerUser + ":auth-delegator", "system:auth-delegator"},
	} {
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: b.name, Labels: managedLabels},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role}, Subjects: subjects}
		if err := apply(ctx, crb, crbs.Create, crbs.Update, crbs.Get); err != nil {
			return fmt.Errorf("ClusterRoleBinding %s: %w", b.name, err)
		}
	}
	rbs := cs.RbacV1().RoleBindings(metav1.NamespaceSystem)
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: MetricsServerUser + ":auth-reader", Namespace: metav1.NamespaceSystem, Labels: managedLabels},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"}, Subjects: subjects}
	if err := apply(ctx, rb, rbs.Create, rbs.Update, rbs.Get); err != nil {
		return fmt.Errorf("RoleBinding %s: %w", rb.Name, err)
	}
	return nil
}

// applyMetricsAPI points the Metrics API at this run's metrics-server
// port (see the comment at the top of this file).
func applyMetricsAPI(ctx context.Context, cs kubernetes.Interface, plan Plan) error {
	svcs := cs.CoreV1().Services(metav1.NamespaceSystem)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: metricsServerName, Namespace: metav1.NamespaceSystem, Labels: managedLabels},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}
	if err := apply(ctx, svc, svcs.Create, svcs.Update, svcs.Get); err != nil {
		return fmt.Errorf("Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	ca, err := os.ReadFile(plan.Certs.CA)
	if err != nil {
		return err
	}
	rc, err := kubeclient.Config(plan.Dir.SuperAdminKubeconfig(), kubeclient.Options{UserAgent: "myriad-up"})
	if err != nil {
		return err
	}
	ag, err := aggregator.NewForConfig(rc)
	if err != nil {
		return err
	}
	port := int32(plan.MetricsServerPort)
	apis := ag.ApiregistrationV1().APIServices()
	as := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: metricsAPIServiceName, Labels: managedLabels},
		Spec: apiregistrationv1.APIServiceSpec{
			Group: "metrics.k8s.io", Version: "v1beta1",
			Service:              &apiregistrationv1.ServiceReference{Namespace: metav1.NamespaceSystem, Name: metricsServerName, Port: &port},
			CABundle:             ca,
			GroupPriorityMinimum: 100, VersionPriority: 100,
		},
	}
	if err := apply(ctx, as, apis.Create, apis.Update, apis.Get); err != nil {
		return fmt.Errorf("APIService %s: %w", as.Name, err)
	}
	return nil
}
