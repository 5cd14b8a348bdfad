package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLastErrorPicksTheLineThatSaysWhy(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ log, want string }{
		{"I1204 starting\nE1204 12:00:01 run.go:72] listen tcp: address already in use\nI1204 shutting down\n", "E1204 12:00:01 run.go:72] listen tcp: address already in use"},
		{"starting\nError: --etcd-servers must be set\n", "Error: --etcd-servers must be set"},
		{"one\ntwo\n", "two"},
		{"", ""},
	} {
		p := filepath.Join(dir, "x.log")
		if err := os.WriteFile(p, []byte(c.log), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := lastError(p); got != c.want {
			t.Errorf("lastError(%q) = %q, want %q", c.log, got, c.want)
		}
	}
	if got := lastError(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("missing log gave %q", got)
	}
	long := strings.Repeat("x", 100<<10) + "\nfatal: disk full\n"
	p := filepath.Join(dir, "long.log")
	os.WriteFile(p, []byte(long), 0o600)
	if got := lastError(p); got != "fatal: disk full" {
		t.Errorf("long log: %q", got)
	}
}
