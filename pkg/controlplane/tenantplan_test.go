package controlplane

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// What isolates a tenant is on its command lines: its own CA and keys, its
// etcd identity and prefix, no kubelet credentials, no Node authorizer, and
// the node and volume controllers left to the syncer.
func TestTenantPlanIsolatesTheTenant(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := d.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	super, err := EnsureCerts(d)
	if err != nil {
		t.Fatal(err)
	}
	dir := d.TenantDir("team-a")
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	certs, err := EnsureTenantCerts(dir, d.PKI(), "team-a", "")
	if err != nil {
		t.Fatal(err)
	}
	again, err := EnsureTenantCerts(dir, d.PKI(), "team-a", "")
	if err != nil || again.CA != certs.CA {
		t.Fatalf("second EnsureTenantCerts: %v", err)
	}
	if certs.CA == super.CA || !strings.HasPrefix(certs.CA, dir) {
		t.Errorf("tenant CA %s must be its own, under %s", certs.CA, dir)
	}
	if cn := certCN(t, certs.EtcdClientCert); cn != TenantEtcdUser("team-a") {
		t.Errorf("etcd client CN %q", cn)
	}
	if issuer := certIssuer(t, certs.EtcdClientCert); issuer != "myriad-etcd-ca" {
		t.Errorf("etcd client certificate issued by %q, want the shared etcd's CA", issuer)
	}
	if cn := certCN(t, certs.Syncer[0]); cn != SyncerUser {
		t.Errorf("syncer CN %q", cn)
	}
	// The tenant's owner is cluster-admin through a binding it can delete,
	// not in system:masters; only the host's own identity is.
	if got := load(t, certs.Admin[0]).Subject.Organization; !slices.Equal(got, []string{AdminGroup}) {
		t.Errorf("tenant admin groups %q, want [%s]", got, AdminGroup)
	}
	if got := load(t, certs.SuperAdmin[0]).Subject.Organization; !slices.Equal(got, []string{"system:masters"}) {
		t.Errorf("tenant super-admin groups %q", got)
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "pki", "*.key"))
	if len(keys) < 5 {
		t.Fatalf("keys: %v", keys)
	}
	for _, k := range keys {
		if fi, err := os.Stat(k); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", k, fi.Mode().Perm())
		}
	}

	// Its kubelet client certificate is the tenant CA's own, under a name
	// the syncer's kubelet proxy admits; the CA it trusts for kubelets
	// signs the proxy's serving certificates and nothing else.
	if cn, issuer := certCN(t, certs.KubeletClient[0]), certIssuer(t, certs.KubeletClient[0]); cn != KubeletClientUser || issuer != "myriad-tenant-team-a-ca" {
		t.Errorf("tenant kubelet client certificate: CN %q issued by %q", cn, issuer)
	}
	if super.TenantKubeletCA == "" || super.TenantKubeletCA == super.CA {
		t.Errorf("the tenants' kubelet CA must be one of its own, got %q", super.TenantKubeletCA)
	}
	p := TenantPlan{Name: "team-a", Dir: dir, APIPort: 40001, ControllerManagerPort: 40002, EtcdPorts: []int{2379}, EtcdCA: super.EtcdCA,
		KubeletCA: super.TenantKubeletCA, Certs: certs, EncryptionConfig: "enc.yaml"}
	api := p.APIServerArgs()
	for _, want := range []string{
		"--etcd-prefix=/tenants/team-a/registry", "--etcd-certfile=" + certs.EtcdClientCert, "--etcd-compaction-interval=0",
		"--client-ca-file=" + certs.CA, "--authorization-mode=RBAC", "--anonymous-auth=false", "--bind-address=127.0.0.1",
		"--service-account-signing-key-file=" + certs.ServiceAccountKey, "--encryption-provider-config=enc.yaml",
		"--kubelet-client-certificate=" + certs.KubeletClient[0], "--kubelet-certificate-authority=" + super.TenantKubeletCA,
	} {
		if !slices.Contains(api, want) {
			t.Errorf("tenant API server lacks %s", want)
		}
	}
	for _, a := range api {
		if strings.Contains(a, super.CA) || strings.Contains(a, super.EtcdClientCert) || strings.Contains(a, super.KubeletClientCert) {
			t.Errorf("tenant API server gets a super-cluster credential: %s", a)
		}
	}
	p.KubeletCA = ""
	for _, a := range p.APIServerArgs() {
		if strings.HasPrefix(a, "--kubelet-") {
			t.Errorf("without the tenants' kubelet CA the API server gets no kubelet flags, got %s", a)
		}
	}
	cm := strings.Join(p.ControllerManagerArgs(), " ")
	for _, off := range []string{"-node-lifecycle-controller", "-persistentvolume-binder-controller", "-taint-eviction-controller"} {
		if !strings.Contains(cm, off) {
			t.Errorf("tenant controller manager runs %s", off[1:])
		}
	}
	if strings.Contains(cm, super.CA) || !strings.Contains(cm, "--leader-elect=false") {
		t.Errorf("tenant controller manager: %s", cm)
	}
	if TenantEtcdPrefix("a") == TenantEtcdPrefix("ab")[:len(TenantEtcdPrefix("a"))] {
		t.Error("one tenant's prefix must not be a prefix of another's")
	}
}

func certCN(t *testing.T, file string) string {
	t.Helper()
	return parseCert(t, file).Subject.CommonName
}

func certIssuer(t *testing.T, file string) string {
	t.Helper()
	return parseCert(t, file).Issuer.CommonName
}

func parseCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A tenant's ports are kept for it: a restart of the cluster must not give
// them to a component, nor a new tenant to another.
func TestTenantPortsAreKeptAndAvoided(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	a, b := d.TenantDir("a"), d.TenantDir("b")
	for _, dir := range []string{a, b, d.TenantDir("broken")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := loadTenantState(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	taken := tenantPorts(d)
	if !slices.Contains(taken, sa.APIPort) || !slices.Contains(taken, sa.ControllerManagerPort) {
		t.Fatalf("tenant a's ports %+v not among %v", sa, taken)
	}
	if err := os.WriteFile(filepath.Join(d.TenantDir("broken"), "tenant.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	sb, err := loadTenantState(b, func() []int { return tenantPorts(d) })
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(taken, sb.APIPort) || slices.Contains(taken, sb.ControllerManagerPort) {
		t.Errorf("tenant b was given one of a's ports: %+v, %+v", sa, sb)
	}
	again, err := loadTenantState(a, func() []int { return []int{sa.APIPort} })
	if err != nil || again != sa {
		t.Errorf("a tenant's ports changed on a second read: %+v, %v", again, err)
	}
	if n := len(tenantPorts(d)); n != 4 {
		t.Errorf("%d ports from two tenants and a damaged state", n)
	}
}
