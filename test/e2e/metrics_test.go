package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// busyWorkloads are a Deployment and a CloneSet whose pods use 90% of the
// CPU they request (the simulated usage model), each with a
// HorizontalPodAutoscaler aiming at 50%.
const busyWorkloads = `apiVersion: apps/v1
kind: Deployment
metadata: {name: busy, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: busy}}
  template:
    metadata:
      labels: {app: busy}
      annotations: {nodes.myriad.dev/cpu-usage: "90%"}
    spec:
      containers:
      - {name: app, image: nginx:1.27, resources: {requests: {cpu: 200m, memory: 64Mi}}}
---
apiVersion: apps.kruise.io/v1alpha1
kind: CloneSet
metadata: {name: busy-cs, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: busy-cs}}
  updateStrategy: {type: InPlaceIfPossible}
  template:
    metadata:
      labels: {app: busy-cs}
      annotations: {nodes.myriad.dev/cpu-usage: "90%"}
    spec:
      containers:
      - {name: app, image: nginx:1.27, resources: {requests: {cpu: 200m, memory: 64Mi}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: busy, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: busy}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: busy-cs, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps.kruise.io/v1alpha1, kind: CloneSet, name: busy-cs}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
`

// testMetricsAndAutoscaling: `kubectl top` reads the simulated usage
// through metrics-server, and kube-controller-manager's autoscaler scales
// a Deployment and a CloneSet up when their pods' usage model says 90%,
// and down again when it says 10%.
func testMetricsAndAutoscaling(t *testing.T, kubectlCtx func(ctx context.Context, args ...string) *exec.Cmd) {
	try := func(stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := kubectlCtx(ctx, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	eventually := func(what string, timeout time.Duration, ok func() (string, bool)) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			last, done := ok()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s; last seen:\n%s", what, timeout, last)
			}
			time.Sleep(3 * time.Second)
		}
	}
	if out, err := try(busyWorkloads, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}

	eventually("kubectl top nodes lists every node", 2*time.Minute, func() (string, bool) {
		out, err := try("", "top", "nodes", "--no-headers")
		return out, err == nil && strings.Count(strings.TrimSpace(out), "\n") == 4 && strings.Contains(out, "myriad-node-0")
	})
	eventually("kubectl top pods shows the busy pods' usage", 2*time.Minute, func() (string, bool) {
		out, err := try("", "top", "pods", "-l", "app in (busy,busy-cs)", "--no-headers")
		// 90% of 200m, as the model says. metrics-server's rate is the
		// counter's difference over the scrape times, which are taken a
		// moment apart from the simulator's clock, hence ±1m. The
		// autoscalers may already have added pods, which run the same
		// model.
		return out, err == nil && allNear(out, 180, 1) >= 4
	})

	replicas := func(want string) func() (string, bool) {
		return func() (string, bool) {
			d, err1 := try("", "get", "deployment/busy", "-o", "jsonpath={.spec.replicas}")
			c, err2 := try("", "get", "cloneset/busy-cs", "-o", "jsonpath={.spec.replicas}")
			hpa, _ := try("", "get", "hpa")
			return "deployment " + d + ", cloneset " + c + "\n" + hpa, err1 == nil && err2 == nil && d == want && c == want
		}
	}
	eventually("both autoscalers scale up to their maximum", 4*time.Minute, replicas("5"))

	for _, target := range []string{"deployment/busy", "cloneset/busy-cs"} {
		if out, err := try("", "patch", target, "--type=merge", "-p", `{"spec":{"template":{"metadata":{"annotations":{"nodes.myriad.dev/cpu-usage":"10%"}}}}}`); err != nil {
			t.Fatalf("kubectl patch %s: %v\n%s", target, err, out)
		}
	}
	eventually("both autoscalers scale down to their minimum", 4*time.Minute, replicas("2"))
}

// allNear counts the lines of `kubectl top pods --no-headers` output whose
// CPU is within tolerance millicores of want; -1 if any line is not.
func allNear(out string, want, tolerance int) int {
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			return -1
		}
		m, err := strconv.Atoi(strings.TrimSuffix(f[1], "m"))
		if err != nil || !strings.HasSuffix(f[1], "m") || m < want-tolerance || m > want+tolerance {
			return -1
		}
		n++
	}
	return n
}
