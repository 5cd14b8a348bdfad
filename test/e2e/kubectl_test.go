package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// manifest is plain YAML a user would apply to any cluster.
const manifest = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {mode: production}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  replicas: 5
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec:
  selector: {app: frontend}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:17}]
`

func testKubectl(t *testing.T, up *upProcess) {
	kc := filepath.Join(up.dataDir, "kubeconfig")
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kc}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(manifest, "apply", "-f", "-")
	run("", "-n", "shop", "rollout", "status", "deployment/frontend", "--timeout=2m")
	run("", "-n", "shop", "rollout", "status", "statefulset/db", "--timeout=2m")
	if out := run("", "get", "nodes", "--no-headers"); strings.Count(out, " Ready ") != nodes {
		t.Fatalf("kubectl get nodes shows %d Ready of %d:\n%s", strings.Count(out, " Ready "), nodes, out)
	}
	// The Service's EndpointSlice lists the five pods once they are Ready.
	eventually(t, time.Minute, "service endpoints", func() error {
		out := run("", "-n", "shop", "get", "endpointslices", "-l", "kubernetes.io/service-name=frontend",
			"-o", "jsonpath={range .items[*].endpoints[*]}{.addresses[0]} {end}")
		if n := len(strings.Fields(out)); n != 5 {
			return fmt.Errorf("%d endpoints: %s", n, out)
		}
		return nil
	})
	run("", "delete", "namespace", "shop", "--timeout=2m")
}
