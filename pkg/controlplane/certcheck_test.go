package controlplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

func TestRenewCertsReissuesEveryLeafAndKeepsTheCAs(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := d.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	if _, err := RenewCerts(DataDir{Root: filepath.Join(d.Root, "none")}); err == nil || !strings.Contains(err.Error(), "holds no cluster") {
		t.Fatalf("renew where no cluster is: %v", err)
	}
	if err := d.WriteStamp(Stamp{Format: FormatVersion, KubernetesVersion: KubernetesVersion, EtcdPort: 2379}); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureCerts(d); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(d.TenantDir("acme"), "pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureTenantCerts(d.TenantDir("acme"), d.PKI(), "acme", ""); err != nil {
		t.Fatal(err)
	}
	before := map[string]pki.CertInfo{}
	report, err := CertReport(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range report {
		before[c.File] = c
	}
	if _, ok := before[filepath.Join("tenants", "acme", "pki", "apiserver.crt")]; !ok {
		t.Fatalf("the tenant's certificates are not in the report: %v", report)
	}
	keyBefore, _ := os.ReadFile(filepath.Join(d.PKI(), "admin-client.key"))

	release, err := d.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RenewCerts(d); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("renew while the cluster runs: %v", err)
	}
	release()

	time.Sleep(1100 * time.Millisecond) // a re-issued certificate ends later, to the second
	after, err := RenewCerts(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d certificates after renewal, %d before", len(after), len(before))
	}
	for _, c := range after {
		b := before[c.File]
		switch {
		case c.IsCA && !c.NotAfter.Equal(b.NotAfter):
			t.Errorf("CA %s was renewed", c.File)
		case !c.IsCA && !c.NotAfter.After(b.NotAfter):
			t.Errorf("%s was not renewed: ends %v, before %v", c.File, c.NotAfter, b.NotAfter)
		case c.Identity() != b.Identity():
			t.Errorf("%s changed identity: %s, was %s", c.File, c.Identity(), b.Identity())
		}
	}
	if keyAfter, _ := os.ReadFile(filepath.Join(d.PKI(), "admin-client.key")); string(keyAfter) == string(keyBefore) {
		t.Error("a renewed certificate kept its key")
	}
	if info, err := os.Stat(filepath.Join(d.PKI(), "admin-client.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("renewed key: %v %v", info.Mode(), err)
	}
}

func TestCAWarningsFromAYearBeforeTheEnd(t *testing.T) {
	end := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	report := []pki.CertInfo{
		{File: "pki/ca.crt", Subject: "myriad-ca", IsCA: true, NotAfter: end},
		{File: "pki/admin-client.crt", Subject: "myriad-admin", NotAfter: end.Add(-300 * 24 * time.Hour)},
		{File: "tenants/a/pki/ca.crt", Subject: "myriad-tenant-a-ca", IsCA: true, NotAfter: end},
	}
	if w := CAWarnings(report, end.Add(-400*24*time.Hour)); len(w) != 0 {
		t.Errorf("warned early: %v", w)
	}
	w := CAWarnings(report, end.Add(-200*24*time.Hour))
	if len(w) != 1 || !strings.Contains(w[0], "pki/ca.crt") || !strings.Contains(w[0], "2030-01-01") {
		t.Errorf("warnings: %v", w)
	}
}
