package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchDensityScrapesEveryTenSecondsByDefault(t *testing.T) {
	f := newBenchDensityCommand().Flags().Lookup("scrape-interval")
	if f == nil || f.DefValue != "10s" || f.Value.String() != "10s" {
		t.Errorf("--scrape-interval = %v, want 10s by default: a boundary scrape lost under load must cost 10s, not the phase", f)
	}
}

// --kubeconfig with --nodes 0 (any number of Ready nodes) is a run, not a
// usage error: here it fails in the nodes phase because nothing answers,
// and says so in its report.
func TestBenchDensityAttachedAcceptsNodesZero(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := newBenchDensityCommand()
	var buf bytes.Buffer
	cmd.SetOut(&buf)
	cmd.SetErr(&buf)
	cmd.SetArgs([]string{"--kubeconfig", kc, "--nodes", "0", "--pods", "10", "--out", out})
	err := cmd.Execute()
	var usage usageError
	if err == nil || errors.As(err, &usage) || strings.Contains(err.Error(), "--nodes") {
		t.Fatalf("err = %v, want the run to fail in its nodes phase, not --nodes refused", err)
	}
	if _, err := os.Stat(filepath.Join(out, "result.json")); err != nil {
		t.Errorf("the failed run wrote no result.json: %v", err)
	}
}
