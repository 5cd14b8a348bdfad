package controlplane

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A tenant host's data directory keeps its etcd port, is locked while in
// use, and is never confused with a cluster's.
func TestTenantHostDataDirectory(t *testing.T) {
	dir := DataDir{Root: filepath.Join(t.TempDir(), "host")}
	release, stamp, err := openHostDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if stamp.Role != RoleTenantHost || stamp.EtcdPort == 0 {
		t.Fatalf("fresh directory's stamp %+v: want role %q and a chosen etcd port", stamp, RoleTenantHost)
	}
	if _, _, err := openHostDir(dir, 0); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second host on a directory in use: %v", err)
	}
	release()
	release, again, err := openHostDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if again.EtcdPort != stamp.EtcdPort {
		t.Errorf("etcd port moved from %d to %d across runs", stamp.EtcdPort, again.EtcdPort)
	}
	if _, _, err := openHostDir(dir, stamp.EtcdPort+10); err == nil || !strings.Contains(err.Error(), "--etcd-port") {
		t.Errorf("another --etcd-port on an existing directory: %v", err)
	}

	cluster := DataDir{Root: filepath.Join(t.TempDir(), "cluster")}
	if err := cluster.Create(); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WriteStamp(Stamp{Format: FormatVersion, KubernetesVersion: KubernetesVersion, EtcdPort: 2379}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openHostDir(cluster, 0); err == nil || !strings.Contains(err.Error(), "holds a cluster") {
		t.Errorf("a cluster's directory given to a tenant host: %v", err)
	}
}

func TestHostOptionsValidate(t *testing.T) {
	ok := HostOptions{DataDir: "d", Address: "127.0.0.1"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	kubeletCA := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(kubeletCA, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	named := ok
	named.Name, named.KubeletCA = "rack-2", kubeletCA
	if err := named.Validate(); err != nil {
		t.Error(err)
	}
	for flag, o := range map[string]HostOptions{
		"--data-dir":   {Address: "127.0.0.1"},
		"--etcd-port":  {DataDir: "d", Address: "127.0.0.1", EtcdPort: 70000},
		"--address":    {DataDir: "d", Address: "localhost"},
		"--name":       {DataDir: "d", Address: "127.0.0.1", Name: "default"},
		"--kubelet-ca": {DataDir: "d", Address: "127.0.0.1", KubeletCA: "/nonexistent/ca.crt"},
	} {
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s: %v", flag, err)
		}
	}
}

// A tenant served on an address other than loopback listens, advertises
// and is reached there, and its serving certificate names it, which a
// renewal keeps (tenant.json records it).
func TestTenantPlanOnAnAddress(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := d.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureCerts(d); err != nil {
		t.Fatal(err)
	}
	dir := d.TenantDir("team-a")
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	state, err := loadTenantState(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	state.Address = "10.1.2.3"
	if err := saveTenantState(dir, state); err != nil {
		t.Fatal(err)
	}
	certs, err := EnsureTenantCerts(dir, d.PKI(), "team-a", tenantAddress(dir))
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, certs.APIServerCert)
	if !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("10.1.2.3")) }) {
		t.Errorf("serving certificate names %v, not the tenant's address", cert.IPAddresses)
	}
	if !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.IsLoopback() }) {
		t.Errorf("serving certificate lost loopback: %v", cert.IPAddresses)
	}
	plan := TenantPlan{Name: "team-a", Dir: dir, APIPort: state.APIPort, Address: "10.1.2.3", Certs: certs}
	if got, want := plan.URL(), "https://10.1.2.3:"; !strings.HasPrefix(got, want) {
		t.Errorf("URL %s, want %s...", got, want)
	}
	args := plan.APIServerArgs()
	for _, want := range []string{"--bind-address=10.1.2.3", "--advertise-address=10.1.2.3"} {
		if !slices.Contains(args, want) {
			t.Errorf("API server args lack %s", want)
		}
	}
	if loop := (TenantPlan{APIPort: 1}).URL(); loop != "https://127.0.0.1:1" {
		t.Errorf("default URL %s, want loopback", loop)
	}
}
