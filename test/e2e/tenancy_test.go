package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/tenancy"
	"github.com/myriad-dev/myriad/pkg/tenancy/syncer"
)

// Two tenants create the same namespace and Deployment; both run, each
// sees only its own pods and the nodes they landed on, neither can reach
// the other's data (not even through etcd), deleting one removes all it
// had on the shared cluster and leaves the other running, and a restart of
// myriad up brings the survivor back with nothing placed twice. Faults
// (tenancy_faults_test.go): one tenant's API server hanging leaves the
// other served; the syncer killed mid-burst places nothing twice.
func TestTenancy(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "tenancy")
	port, etcdPort := freePort(t), freePort(t)
	up := startUp(t, dataDir, port, etcdPort, "--nodes", "3", "--metrics-server=false")
	defer func() { up.stop(t) }()
	super := up.client(t)
	kc := "--kubeconfig=" + filepath.Join(dataDir, "kubeconfig")
	ctx := context.Background()

	for _, bad := range []struct{ name, says string }{{"Team_A", "lower-case"}, {"a-very-long-tenant-name-indeed", "at most 20"}} {
		out, err := myriad("tenant", "create", bad.name, kc)
		if err == nil || !strings.Contains(out, bad.says) {
			t.Errorf("tenant create %q: %v: %s", bad.name, err, out)
		}
	}
	for _, name := range []string{"alpha", "beta"} {
		if out, err := myriad("tenant", "create", name, kc); err != nil {
			t.Fatalf("tenant create %s: %v\n%s\n%s", name, err, out, tailLogs(dataDir))
		}
	}
	if out, err := myriad("tenant", "create", "alpha", kc); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("a second tenant alpha: %v: %s", err, out)
	}
	tenants := map[string]*kubernetes.Clientset{}
	for _, name := range []string{"alpha", "beta"} {
		tenants[name] = tenantClient(t, kc, name)
	}

	for name, cs := range tenants {
		// The owner is cluster-admin of its tenant through a binding, not
		// in system:masters, so deleting the binding revokes it.
		who, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: whoami: %v", name, err)
		}
		if groups := who.Status.UserInfo.Groups; slices.Contains(groups, "system:masters") || !slices.Contains(groups, controlplane.AdminGroup) {
			t.Errorf("%s: the tenant admin's groups are %v", name, groups)
		}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := cs.AppsV1().Deployments("shop").Create(ctx, tenantDeployment(name), metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if _, err := cs.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	superNodes, err := super.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	isSuperNode := map[string]bool{}
	for _, n := range superNodes.Items {
		isSuperNode[n.Name] = true
	}
	for name, cs := range tenants {
		eventually(t, 2*time.Minute, name+": both pods Running in the tenant", func() error {
			pods, err := cs.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			running := 0
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
					running++
				}
			}
			if running != 2 || len(pods.Items) != 2 {
				return fmt.Errorf("%d pods, %d Running and bound", len(pods.Items), running)
			}
			return nil
		})
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods, _ := cs.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
		used := map[string]bool{}
		for _, p := range pods.Items {
			used[p.Spec.NodeName] = true
		}
		for _, n := range nodes.Items {
			if !isSuperNode[n.Name] || !used[n.Name] {
				t.Errorf("%s sees node %s: not a node its pods run on", name, n.Name)
			}
		}
		if all, _ := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); len(all.Items) != 2 {
			t.Errorf("%s sees %d pods in all namespaces, want its own 2", name, len(all.Items))
		}
		svc, err := cs.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == "None" {
			t.Errorf("%s: service web has no cluster IP: %v", name, err)
		}
		superNS := tenancy.SuperNamespace(name, "shop")
		eventually(t, time.Minute, name+": placed on the shared cluster", func() error {
			pods, err := super.CoreV1().Pods(superNS).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			if len(pods.Items) != 2 {
				return fmt.Errorf("%d pods in %s", len(pods.Items), superNS)
			}
			for _, p := range pods.Items {
				if p.Labels[tenancy.LabelTenant] != name {
					return fmt.Errorf("pod %s lacks its tenant label: %v", p.Name, p.Labels)
				}
			}
			if _, err := super.CoreV1().Services(superNS).Get(ctx, "web", metav1.GetOptions{}); err != nil {
				return err
			}
			return nil
		})
		eventually(t, time.Minute, name+": the service's cluster IP on the shared cluster reported", func() error {
			twin, err := super.CoreV1().Services(superNS).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			svc, err := cs.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got := svc.Annotations[syncer.AnnotationClusterIP]; got != twin.Spec.ClusterIP || got == "" {
				return fmt.Errorf("tenant service says %q, its copy has %q", got, twin.Spec.ClusterIP)
			}
			return nil
		})
	}
	if ns, _ := tenants["alpha"].CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); hasNamespace(ns.Items, tenancy.SystemNamespace) {
		t.Error("a tenant sees the shared cluster's namespaces")
	}
	testTenantEtcdConfined(t, dataDir, etcdPort)
	testTenantKubeletAPI(t, kc, "beta", tenants["beta"])
	testTenantClaimBound(t, tenants["alpha"])
	testTenantAPIServerHung(t, dataDir, super, tenants["alpha"], tenants["beta"])
	testTenantHostElsewhere(t, dataDir, etcdPort, super, kc)

	out, err := myriad("tenant", "delete", "alpha", kc)
	if err != nil {
		t.Fatalf("tenant delete alpha: %v\n%s", err, out)
	}
	left, err := super.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: tenancy.LabelTenant + "=alpha"})
	if err != nil || len(left.Items) != 0 {
		t.Errorf("deleted tenant left namespaces on the shared cluster: %v %v", err, left)
	}
	for _, kind := range []string{"pods", "services", "configmaps", "secrets", "persistentvolumeclaims"} {
		n := countLabelled(t, super, kind, tenancy.LabelTenant+"=alpha")
		if n != 0 {
			t.Errorf("deleted tenant left %d %s", n, kind)
		}
	}
	if keys := etcdKeys(t, dataDir, etcdPort, controlplane.TenantEtcdPrefix("alpha")); keys != 0 {
		t.Errorf("deleted tenant left %d etcd keys", keys)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "tenants", "alpha")); !os.IsNotExist(err) {
		t.Errorf("deleted tenant's files remain: %v", err)
	}

	up.stop(t)
	up = startUp(t, dataDir, port, etcdPort, "--nodes", "3", "--metrics-server=false")
	super = up.client(t)
	beta := tenantClient(t, kc, "beta")
	eventually(t, 2*time.Minute, "beta back after a restart, its pods still Running", func() error {
		pods, err := beta.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("pod %s is %s", p.Name, p.Status.Phase)
			}
		}
		if len(pods.Items) != 2 {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		return nil
	})
	time.Sleep(5 * time.Second) // a syncer that would place twice has done so by now
	if n := countLabelled(t, super, "pods", tenancy.LabelTenant+"=beta"); n != 2 {
		t.Errorf("after a restart the shared cluster holds %d of beta's pods, want 2", n)
	}
	testSyncerKilledMidBurst(t, up, dataDir, super, beta)
}

func tenantDeployment(tenant string) *appsv1.Deployment {
	two := int32(2)
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27", Env: []corev1.EnvVar{{Name: "TENANT", Value: tenant}}}}}}}}
}

func tenantClient(t *testing.T, kc, name string) *kubernetes.Clientset {
	t.Helper()
	raw, err := myriad("tenant", "kubeconfig", name, kc)
	if err != nil {
		t.Fatalf("tenant kubeconfig %s: %v: %s", name, err, raw)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(raw + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// testTenantKubeletAPI: upstream kubectl's logs and exec in a tenant reach
// its pod (through the syncer's kubelet proxy and the shared cluster's API
// server), stdin and exit codes included.
func testTenantKubeletAPI(t *testing.T, kc, name string, cs *kubernetes.Clientset) {
	t.Helper()
	raw, err := myriad("tenant", "kubeconfig", name, kc)
	if err != nil {
		t.Fatalf("tenant kubeconfig %s: %v: %s", name, err, raw)
	}
	file := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := os.WriteFile(file, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods("shop").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("%s: no pod to reach: %v", name, err)
	}
	pod := pods.Items[0].Name
	run := func(stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", file, "-n", "shop"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// A simulated container writes a line a second from its start: a pod
	// just Running may have written only one.
	eventually(t, 30*time.Second, name+": kubectl logs --tail=2", func() error {
		out, err := run("", "logs", pod, "--tail=2")
		if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, pod) {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	if out, err := run("from stdin\n", "exec", "-i", pod, "--", "sh", "-c", "cat; hostname"); err != nil || out != "from stdin\n"+pod+"\n" {
		t.Errorf("%s: kubectl exec -i: %v\n%q", name, err, out)
	}
	out, err := run("", "exec", pod, "--", "sh", "-c", "exit 3")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(out, "exit code 3") {
		t.Errorf("%s: kubectl exec of a failing command: %v\n%s", name, err, out)
	}
}

// testTenantClaimBound: a claim in a tenant, used by a pod, is provisioned
// and bound on the shared cluster, and bound in the tenant to a mirror of
// that volume.
func testTenantClaimBound(t *testing.T, cs *kubernetes.Clientset) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "db"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if _, err := cs.CoreV1().PersistentVolumeClaims("db").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "db", Image: "postgres:17"}},
		Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
	if _, err := cs.CoreV1().Pods("db").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the tenant's claim bound to a mirrored volume", func() error {
		c, err := cs.CoreV1().PersistentVolumeClaims("db").Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c.Status.Phase != corev1.ClaimBound || c.Spec.VolumeName == "" || c.Status.Capacity.Storage().Cmp(resource.MustParse("1Gi")) < 0 {
			return fmt.Errorf("claim is %s, volume %q, capacity %v", c.Status.Phase, c.Spec.VolumeName, c.Status.Capacity)
		}
		pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, c.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ref := pv.Spec.ClaimRef; ref == nil || ref.Namespace != "db" || ref.UID != c.UID || pv.Status.Phase != corev1.VolumeBound {
			return fmt.Errorf("volume %s: claim %+v, phase %s", pv.Name, ref, pv.Status.Phase)
		}
		if p, err := cs.CoreV1().Pods("db").Get(ctx, "db", metav1.GetOptions{}); err != nil || p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod db not Running yet: %v", err)
		}
		return nil
	})
}

// testTenantEtcdConfined: beta's own etcd certificate reads beta's keys and
// nothing else.
func testTenantEtcdConfined(t *testing.T, dataDir string, etcdPort int) {
	t.Helper()
	pki := filepath.Join(dataDir, "tenants", "beta", "pki")
	c, err := controlplane.EtcdClientAs(filepath.Join(dataDir, "pki", "etcd-ca.crt"), filepath.Join(pki, "etcd-client.crt"), filepath.Join(pki, "etcd-client.key"), etcdPort)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Get(ctx, controlplane.TenantEtcdPrefix("beta"), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || r.Count == 0 {
		t.Errorf("beta cannot read its own keys: %v", err)
	}
	for _, prefix := range []string{"/registry/", controlplane.TenantEtcdPrefix("alpha")} {
		if _, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly()); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("beta's etcd identity read %s: %v", prefix, err)
		}
	}
}

func etcdKeys(t *testing.T, dataDir string, etcdPort int, prefix string) int64 {
	t.Helper()
	pki := filepath.Join(dataDir, "pki")
	c, err := controlplane.EtcdClientAs(filepath.Join(pki, "etcd-ca.crt"), filepath.Join(pki, "apiserver-etcd-client.crt"), filepath.Join(pki, "apiserver-etcd-client.key"), etcdPort)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return r.Count
}

func countLabelled(t *testing.T, cs kubernetes.Interface, kind, selector string) int {
	t.Helper()
	ctx, o := context.Background(), metav1.ListOptions{LabelSelector: selector}
	var n int
	var err error
	switch kind {
	case "pods":
		var l *corev1.PodList
		if l, err = cs.CoreV1().Pods("").List(ctx, o); err == nil {
			n = len(l.Items)
		}
	case "services":
		var l *corev1.ServiceList
		if l, err = cs.CoreV1().Services("").List(ctx, o); err == nil {
			n = len(l.Items)
		}
	case "configmaps":
		var l *corev1.ConfigMapList
		if l, err = cs.CoreV1().ConfigMaps("").List(ctx, o); err == nil {
			n = len(l.Items)
		}
	case "secrets":
		var l *corev1.SecretList
		if l, err = cs.CoreV1().Secrets("").List(ctx, o); err == nil {
			n = len(l.Items)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func hasNamespace(list []corev1.Namespace, name string) bool {
	for _, ns := range list {
		if ns.Name == name {
			return true
		}
	}
	return false
}
