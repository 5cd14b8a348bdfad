package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

const loggerPod = `apiVersion: v1
kind: Pod
metadata:
  name: logger
  namespace: default
  annotations:
    nodes.myriad.dev/log-interval: 200ms
spec:
  containers:
  - name: app
    image: nginx:1.27
    env:
    - {name: GREETING, value: hello}
    - name: MY_NODE
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
`

const probedPod = `apiVersion: v1
kind: Pod
metadata:
  name: probed
  namespace: default
spec:
  containers:
  - name: app
    image: busybox:1.36
    readinessProbe:
      exec: {command: [test, -f, /tmp/ready]}
      periodSeconds: 1
`

// TestKubeletAPI is what a platform engineer types after `myriad up`:
// versions, node details, logs, exec and port-forward, all through the
// upstream kubectl against the simulated nodes' kubelet API.
func TestKubeletAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	dataDir := filepath.Join(t.TempDir(), "cluster")
	up := startUp(t, dataDir, freePort(t), freePort(t), "--nodes", "5", "--metric-resolution", "10s", "--image-catalog", writeEventsCatalog(t))
	defer up.stop(t)
	kc := filepath.Join(up.dataDir, "kubeconfig")
	kubectlCtx := func(ctx context.Context, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kc}, args...)...)
	}
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := kubectlCtx(ctx, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	var server string
	t.Run("kubectl version matches myriad version", func(t *testing.T) {
		var v struct {
			ServerVersion struct{ GitVersion, Major, Minor string }
		}
		out := run("", "version", "-o", "json")
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &v); err != nil {
			t.Fatalf("kubectl version -o json: %v\n%s", err, out)
		}
		server = v.ServerVersion.GitVersion
		sv, err := utilversion.ParseSemantic(server)
		if err != nil || sv.Major() != 1 || v.ServerVersion.Major != "1" || v.ServerVersion.Minor != fmt.Sprint(sv.Minor()) {
			t.Fatalf("server version %+v does not parse as v1.x: %v", v.ServerVersion, err)
		}
		mine, err := myriad("version")
		if err != nil || !strings.Contains(mine, "Kubernetes: "+server+"\n") {
			t.Fatalf("myriad version says\n%s\nbut the server reports %s (%v)", mine, server, err)
		}
	})

	t.Run("get nodes -o wide shows version, OS and runtime", func(t *testing.T) {
		out := run("", "get", "nodes", "-o", "wide")
		rows := strings.Split(strings.TrimSpace(out), "\n")
		if len(rows) != 6 {
			t.Fatalf("want 5 nodes:\n%s", out)
		}
		for _, row := range rows[1:] {
			if !strings.Contains(row, " "+server+" ") || !strings.Contains(row, "Ubuntu") || !strings.Contains(row, "containerd://2.") || !strings.Contains(row, " 127.16.") {
				t.Errorf("node row lacks version %s, OS image, runtime or internal IP:\n%s", server, row)
			}
		}
	})

	run(loggerPod, "apply", "-f", "-")
	run("", "wait", "--for=condition=Ready", "pod/logger", "--timeout=90s")
	time.Sleep(time.Second) // a few lines at 200ms

	t.Run("logs", func(t *testing.T) {
		out := run("", "logs", "logger")
		if !strings.HasPrefix(out, "logger app line 1\nlogger app line 2\n") {
			t.Fatalf("kubectl logs:\n%s", out)
		}
		if out := run("", "logs", "logger", "--tail=2"); strings.Count(out, "\n") != 2 {
			t.Fatalf("kubectl logs --tail=2 gave:\n%s", out)
		}
		// -f keeps streaming new lines until we stop it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := kubectlCtx(ctx, "logs", "-f", "--tail=1", "logger")
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		var got []string
		for len(got) < 5 && sc.Scan() {
			got = append(got, sc.Text())
		}
		cancel()
		_ = cmd.Wait()
		if len(got) < 5 {
			t.Fatalf("kubectl logs -f streamed only %q", got)
		}
	})

	t.Run("logs --previous after an in-place restart", func(t *testing.T) {
		run("", "set", "image", "pod/logger", "app=nginx:1.28")
		eventually(t, time.Minute, "the container restarted in place", func() error {
			out := run("", "get", "pod", "logger", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
			if out != "1" {
				return fmt.Errorf("restartCount %q", out)
			}
			return nil
		})
		if out := run("", "logs", "logger", "--previous"); !strings.HasPrefix(out, "logger app line 1\n") {
			t.Fatalf("kubectl logs --previous:\n%s", out)
		}
	})

	t.Run("exec env", func(t *testing.T) {
		out := run("", "exec", "logger", "--", "env")
		for _, want := range []string{"GREETING=hello", "HOSTNAME=logger", "MY_NODE=myriad-node-"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl exec -- env lacks %s:\n%s", want, out)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out2, err := kubectlCtx(ctx, "exec", "logger", "--", "nc", "-l", "80").CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 127 || !strings.Contains(string(out2), "command not found") {
			t.Errorf("kubectl exec -- nc: %v\n%s", err, out2)
		}
	})

	t.Run("an exec readiness probe sees what kubectl exec writes", func(t *testing.T) {
		run(probedPod, "apply", "-f", "-")
		run("", "wait", "--for=jsonpath={.status.phase}=Running", "pod/probed", "--timeout=90s")
		time.Sleep(3 * time.Second) // three probe periods
		if out := run("", "get", "pod", "probed", "-o", "jsonpath={.status.containerStatuses[0].ready}"); out != "false" {
			t.Fatalf("ready=%q before /tmp/ready exists", out)
		}
		run("", "exec", "probed", "--", "sh", "-c", "touch /tmp/ready && test -f /tmp/ready")
		run("", "wait", "--for=condition=Ready", "pod/probed", "--timeout=60s")
		run("", "exec", "probed", "--", "rm", "/tmp/ready")
		run("", "wait", "--for=condition=Ready=false", "pod/probed", "--timeout=60s")
	})

	t.Run("port-forward answers HTTP", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := kubectlCtx(ctx, "port-forward", "pod/logger", ":8080")
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)
		var local string
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				local = m[1]
				break
			}
		}
		if local == "" {
			t.Fatal("kubectl port-forward never said where it listens")
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		resp, err := http.Get("http://127.0.0.1:" + local + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var id struct{ Namespace, Pod, Node, PodIP string }
		if err := json.NewDecoder(resp.Body).Decode(&id); err != nil || id.Pod != "logger" || id.Namespace != "default" || !strings.HasPrefix(id.Node, "myriad-node-") {
			t.Fatalf("port-forwarded HTTP answered %+v (%v)", id, err)
		}
	})

	t.Run("kubelet events", func(t *testing.T) { testKubeletEvents(t, run) })

	t.Run("kubectl top and autoscaling from the simulated usage", func(t *testing.T) {
		testMetricsAndAutoscaling(t, kubectlCtx)
	})
}
