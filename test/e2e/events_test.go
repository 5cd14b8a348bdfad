package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// eventsCatalog gives the kubelet-API cluster an image that cannot be
// pulled.
const eventsCatalog = `images:
- name: registry.example/app:missing
  pullError: "manifest unknown"
`

func writeEventsCatalog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(path, []byte(eventsCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const eventfulPods = `apiVersion: v1
kind: Pod
metadata: {name: unpullable, namespace: default}
spec:
  containers:
  - {name: app, image: registry.example/app:missing}
---
apiVersion: v1
kind: Pod
metadata: {name: mortal, namespace: default}
spec:
  containers:
  - name: app
    image: busybox:1.36
    livenessProbe:
      exec: {command: [sh, -c, "test ! -f /tmp/dead"]}
      periodSeconds: 1
      failureThreshold: 1
`

// testKubeletEvents: the kubelet's events, as `kubectl get events` shows
// them, for a start, a failed pull and a failed liveness probe.
func testKubeletEvents(t *testing.T, run func(stdin string, args ...string) string) {
	run(eventfulPods, "apply", "-f", "-")
	run("", "wait", "--for=condition=Ready", "pod/mortal", "--timeout=60s")
	events := func(pod string) string {
		return run("", "get", "events", "--field-selector", "involvedObject.name="+pod,
			"-o", `jsonpath={range .items[*]}{.type}|{.reason}|{.source.component}|{.source.host}|{.involvedObject.fieldPath}|{.message}{"\n"}{end}`)
	}
	waitEvents := func(pod string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			out := events(pod)
			missing := ""
			for _, w := range want {
				if !strings.Contains(out, w) {
					missing = w
					break
				}
			}
			if missing == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("events of %s lack %q:\n%s", pod, missing, out)
			}
			time.Sleep(2 * time.Second)
		}
	}
	waitEvents("logger", "Normal|Pulled|kubelet|myriad-node-", "|spec.containers{app}|Container image \"nginx:1.27\" already present on machine",
		"Normal|Created|kubelet|", "|Created container: app", "Normal|Started|kubelet|", "|Started container app")
	waitEvents("unpullable", `Warning|Failed|kubelet|`, `|Failed to pull image "registry.example/app:missing": manifest unknown`,
		"|Error: ImagePullBackOff", `Normal|BackOff|kubelet|`)
	// ErrImagePull for a moment at each attempt, ImagePullBackOff between.
	for deadline := time.Now().Add(30 * time.Second); ; {
		reason := run("", "get", "pod/unpullable", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")
		if reason == "ImagePullBackOff" {
			break
		}
		if reason != "ErrImagePull" || time.Now().After(deadline) {
			t.Fatalf("the unpullable pod waits with %q, want ImagePullBackOff", reason)
		}
		time.Sleep(500 * time.Millisecond)
	}

	run("", "exec", "mortal", "--", "touch", "/tmp/dead")
	waitEvents("mortal", "Warning|Unhealthy|kubelet|", "|Liveness probe failed: ", "Normal|Killing|kubelet|", "|Container app failed liveness probe, will be restarted")
	deadline := time.Now().Add(time.Minute)
	for {
		restarts := run("", "get", "pod/mortal", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
		if restarts != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container failing its liveness probe was not restarted: restartCount %s", restarts)
		}
		time.Sleep(time.Second)
	}
}
