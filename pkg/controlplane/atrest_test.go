package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
)

// The configuration is one the API server loads, 0600, and written once:
// a second `up` must keep the key, or every Secret in etcd is lost.
func TestEncryptionConfigIsLoadableAndKept(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := d.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	path, err := EnsureEncryptionConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stat %s: %v, mode %v; want 0600", path, err, st.Mode())
	}
	first, _ := os.ReadFile(path)
	cfg, err := encryptionconfig.LoadEncryptionConfig(context.Background(), path, false, "test")
	if err != nil {
		t.Fatalf("the API server would refuse it: %v", err)
	}
	if len(cfg.Transformers) == 0 {
		t.Fatal("no transformer configured")
	}
	if !strings.Contains(string(first), "secretbox") || !strings.Contains(string(first), "identity") {
		t.Fatalf("config:\n%s", first)
	}
	if _, err := EnsureEncryptionConfig(d); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Fatal("a second call replaced the key")
	}
}

func TestDefaultAuditPolicyLoadsAndAuditArgsNameTheFlag(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := d.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	args, err := auditArgs(d, "default")
	if err != nil {
		t.Fatal(err)
	}
	file := strings.TrimPrefix(args[0], "--audit-policy-file=")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.LoadPolicyFromBytes(raw); err != nil {
		t.Fatalf("the API server would refuse the default policy: %v", err)
	}
	if off, err := auditArgs(d, ""); err != nil || off != nil {
		t.Fatalf("empty --audit-policy: %v %v, want no flags", off, err)
	}
	_, err = auditArgs(d, filepath.Join(d.Root, "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "--audit-policy") {
		t.Fatalf("missing policy file: %v", err)
	}
}
