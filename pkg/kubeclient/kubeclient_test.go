package kubeclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// Apply sets what it is asked on a copy and leaves the rest, and the
// caller's config, alone.
func TestApplySetsWhatItIsAskedOnACopy(t *testing.T) {
	in := &rest.Config{Host: "https://127.0.0.1:6443", QPS: 5, Burst: 10}
	out := Apply(in, Options{QPS: 500, Protobuf: true, UserAgent: "myriad-test", Timeout: 3 * time.Second, OwnConnection: true})
	if out == in {
		t.Fatal("Apply changed the caller's config")
	}
	if in.QPS != 5 || in.ContentType != "" || in.Dial != nil {
		t.Errorf("caller's config changed: %+v", in)
	}
	if out.QPS != 500 || out.Burst != 10 || out.UserAgent != "myriad-test" || out.Timeout != 3*time.Second || out.Dial == nil {
		t.Errorf("applied: qps %v burst %v ua %q timeout %v dial %v", out.QPS, out.Burst, out.UserAgent, out.Timeout, out.Dial != nil)
	}
	if out.ContentType != "application/vnd.kubernetes.protobuf" || !strings.HasSuffix(out.AcceptContentTypes, ",application/json") {
		t.Errorf("protobuf with a JSON fallback for custom resources: %q / %q", out.ContentType, out.AcceptContentTypes)
	}
	if plain := Apply(in, Options{}); plain.ContentType != "" || plain.QPS != 5 {
		t.Errorf("zero options changed the config: %+v", plain)
	}
}

// A kubeconfig that cannot be used names the flag.
func TestLoadNamesTheFlag(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(bad, []byte("not: [a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(t.TempDir(), "missing")} {
		if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), "--kubeconfig") {
			t.Errorf("Load(%s) = %v, want an error naming --kubeconfig", filepath.Base(path), err)
		}
	}
}
