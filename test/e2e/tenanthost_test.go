package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// startTenantHost runs `myriad tenant-host` and waits until it serves.
func startTenantHost(t *testing.T, args ...string) *process {
	t.Helper()
	return startProcess(t, append([]string{"tenant-host"}, args...), "myriad tenant-host ", time.Minute, nil)
}

// testTenantHostElsewhere: a tenant host run apart from `myriad up`, as on
// a cluster `myriad up` did not start, with its own etcd. A Tenant that
// names it is served by it alone; the tenant's pods run on the shared
// cluster through the cluster's syncer, its logs are reached through the
// syncer's kubelet proxy, its state is on the host's etcd and none on the
// cluster's; it survives a restart of its host with nothing placed twice;
// deleting it leaves nothing behind. The host refuses a cluster's data
// directory and `myriad up` refuses the host's.
func testTenantHostElsewhere(t *testing.T, dataDir string, etcdPort int, super kubernetes.Interface, kc string) {
	ctx := context.Background()
	hostDir := filepath.Join(t.TempDir(), "host")
	args := []string{"--kubeconfig", filepath.Join(dataDir, "kubeconfig"), "--data-dir", hostDir, "--name", "rack-2",
		"--kubelet-ca", filepath.Join(dataDir, "pki", "tenant-kubelet-ca.crt")}
	if out, err := myriad("tenant-host", "--kubeconfig", args[1], "--data-dir", dataDir); err == nil || !strings.Contains(out, "holds a cluster") {
		t.Errorf("tenant-host on a cluster's data directory: %v: %s", err, out)
	}
	host := startTenantHost(t, args...)
	defer func() {
		if host != nil {
			host.stop(t)
		}
	}()
	if out, err := myriad("up", "--data-dir", hostDir, "--port", "1", "--etcd-port", "3"); err == nil || !strings.Contains(out, "belongs to a tenant host") {
		t.Errorf("myriad up on a tenant host's data directory: %v: %s", err, out)
	}

	if out, err := myriad("tenant", "create", "gamma", "--host", "rack-2", kc); err != nil {
		t.Fatalf("tenant create gamma --host rack-2: %v\n%s\n%s", err, out, host.out)
	}
	if out, err := myriad("tenant", "list", kc); err != nil || !strings.Contains(out, "rack-2") {
		t.Errorf("tenant list does not show gamma's host: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "tenants", "gamma")); !os.IsNotExist(err) {
		t.Errorf("myriad up's own host provisioned a tenant of another host: %v", err)
	}
	prefix := controlplane.TenantEtcdPrefix("gamma")
	if n := etcdKeys(t, dataDir, etcdPort, prefix); n != 0 {
		t.Errorf("the cluster's etcd holds %d keys of a tenant of another host", n)
	}
	hostEtcd := hostEtcdPort(t, hostDir)
	if n := etcdKeys(t, hostDir, hostEtcd, prefix); n == 0 {
		t.Error("the host's etcd holds none of its tenant's state")
	}

	gamma := tenantClient(t, kc, "gamma")
	if _, err := gamma.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gamma.AppsV1().Deployments("shop").Create(ctx, tenantDeployment("gamma"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nRunning(t, gamma, "shop", 2, 2*time.Minute, "gamma's pods, through a tenant host of its own")
	if n := countLabelled(t, super, "pods", tenancy.LabelTenant+"=gamma"); n != 2 {
		t.Errorf("the shared cluster holds %d of gamma's pods, want 2", n)
	}
	testTenantKubeletAPI(t, kc, "gamma", gamma)

	host.stop(t)
	host = startTenantHost(t, args...)
	gamma = tenantClient(t, kc, "gamma")
	nRunning(t, gamma, "shop", 2, 2*time.Minute, "gamma after its host restarted")
	time.Sleep(5 * time.Second) // a syncer that would place twice has done so by now
	if n := countLabelled(t, super, "pods", tenancy.LabelTenant+"=gamma"); n != 2 {
		t.Errorf("after its host restarted the shared cluster holds %d of gamma's pods, want 2", n)
	}

	if out, err := myriad("tenant", "delete", "gamma", kc); err != nil {
		t.Fatalf("tenant delete gamma: %v\n%s\n%s", err, out, host.out)
	}
	left, err := super.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: tenancy.LabelTenant + "=gamma"})
	if err != nil || len(left.Items) != 0 {
		t.Errorf("deleted tenant left namespaces on the shared cluster: %v %v", err, left)
	}
	if n := etcdKeys(t, hostDir, hostEtcd, prefix); n != 0 {
		t.Errorf("deleted tenant left %d keys on its host's etcd", n)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "tenants", "gamma")); !os.IsNotExist(err) {
		t.Errorf("deleted tenant's files remain on its host: %v", err)
	}
	host.stop(t)
	host = nil
}

// hostEtcdPort reads the etcd port a tenant host's data directory keeps.
func hostEtcdPort(t *testing.T, hostDir string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(hostDir, "myriad.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s controlplane.Stamp
	if err := json.Unmarshal(raw, &s); err != nil || s.EtcdPort == 0 || s.Role != controlplane.RoleTenantHost {
		t.Fatalf("tenant host's stamp %s: %v", raw, err)
	}
	return s.EtcdPort
}

// nRunning waits until namespace ns holds exactly n pods, all Running.
func nRunning(t *testing.T, cs kubernetes.Interface, ns string, n int, within time.Duration, what string) {
	t.Helper()
	eventually(t, within, what, func() error {
		pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if len(pods.Items) != n || running != n {
			return fmt.Errorf("%d pods, %d Running, want %d", len(pods.Items), running, n)
		}
		return nil
	})
}
