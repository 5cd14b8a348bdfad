// Package e2e tests Myriad as a user meets it: it builds the myriad binary,
// runs `myriad up` with a few dozen simulated nodes and drives the cluster
// through client-go, exactly as kubectl or a controller would.
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// binary is the myriad executable built once for the whole package;
// kubectl is the upstream kubectl of the same Kubernetes version, built from
// the module (go.mod lists it as a tool), to prove the API is intact for it.
var binary, kubectl string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "myriad-e2e-bin")
	if err != nil {
		panic(err)
	}
	binary, kubectl = filepath.Join(dir, "myriad"), filepath.Join(dir, "kubectl")
	// myriad is built plainly, as README's `go build` does: it must find its
	// Kubernetes version by itself. kubectl is stamped as a released kubectl
	// is, or `kubectl version` rejects its own unstamped version.
	kubeVersion, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "k8s.io/kubernetes").Output()
	if err != nil {
		panic(fmt.Sprintf("go list -m k8s.io/kubernetes: %v", err))
	}
	kv := strings.TrimSpace(string(kubeVersion))
	parts := strings.SplitN(strings.TrimPrefix(kv, "v"), ".", 3)
	stamp := fmt.Sprintf("-X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=%s -X k8s.io/component-base/version.gitMinor=%s",
		kv, parts[0], parts[1])
	for out, pkg := range map[string]string{binary: "../../cmd/myriad", kubectl: "k8s.io/kubernetes/cmd/kubectl"} {
		args := []string{"build", "-o", out, pkg}
		if out == kubectl {
			args = []string{"build", "-ldflags", stamp, "-o", out, pkg}
		}
		build := exec.Command("go", args...)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// upProcess is one running `myriad up`.
type upProcess struct {
	*process
	dataDir string
	port    int
}

// startUp runs `myriad up` and waits for it to say the cluster is ready.
func startUp(t *testing.T, dataDir string, port, etcdPort int, extra ...string) *upProcess {
	t.Helper()
	args := append([]string{"up", "--data-dir", dataDir, "--port", fmt.Sprint(port), "--etcd-port", fmt.Sprint(etcdPort),
		"--node-monitor-grace-period", "20s"}, extra...)
	p := startProcess(t, args, "Myriad cluster ready", 6*time.Minute, func() string { return tailLogs(dataDir) })
	t.Logf("myriad up ready:\n%s", p.out)
	return &upProcess{process: p, dataDir: dataDir, port: port}
}

func (p *upProcess) client(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(p.dataDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// myriad runs a short myriad subcommand and returns its combined output.
func myriad(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// freePort chooses a port as Myriad chooses its own listeners' (below the
// kernel's ephemeral range, so no outgoing connection takes it before the
// cluster binds it), with port+1 free too for etcd's peer port.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port, err := controlplane.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if portFree(port + 1) {
			return port
		}
	}
	t.Fatal("no two free ports in a row")
	return 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// tailLogs gives the last lines of the cluster's component logs: those
// matching the given patterns (file names without ".log"), or all.
func tailLogs(dataDir string, patterns ...string) string {
	var b strings.Builder
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	var files []string
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(dataDir, "logs", p+".log"))
		files = append(files, m...)
	}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), strings.Join(lines, "\n"))
	}
	return b.String()
}

// eventually polls cond every 500ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s: %v", what, timeout, err)
}
