package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// testNodeSimScope uses the simulator's own credentials against a node
// that is not simulated and a pod bound to it: RBAC alone would allow both
// writes, the admission policy must refuse them by name, and the same
// writes to simulated objects must still pass.
func testNodeSimScope(t *testing.T, admin kubernetes.Interface, ns, dataDir string) {
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "kubeconfigs", "nodesim.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	sim := kubernetes.NewForConfigOrDie(cfg)

	real := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "e2e-real-node"}}
	if _, err := admin.CoreV1().Nodes().Create(ctx, real, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer admin.CoreV1().Nodes().Delete(ctx, real.Name, metav1.DeleteOptions{})
	pod := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
	}
	for _, p := range []*corev1.Pod{pod("on-real-node", real.Name), pod("on-simulated-node", "myriad-node-0")} {
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer admin.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	}

	label := []byte(`{"metadata":{"labels":{"e2e.myriad.dev/touched":"yes"}}}`)
	cond := []byte(`{"status":{"conditions":[{"type":"e2e.myriad.dev/probe","status":"True"}]}}`)
	denied := func(what string, err error, want string) {
		t.Helper()
		if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s as the simulator: err = %v, want a refusal saying %q", what, err, want)
		}
	}
	_, err = sim.CoreV1().Nodes().Patch(ctx, real.Name, types.StrategicMergePatchType, label, metav1.PatchOptions{})
	denied("label a real node", err, "simulated Nodes")
	_, err = sim.CoreV1().Pods(ns).Patch(ctx, "on-real-node", types.StrategicMergePatchType, cond, metav1.PatchOptions{}, "status")
	denied("patch the status of a pod on a real node", err, "pods bound to simulated nodes")
	err = sim.CoreV1().Pods(ns).Delete(ctx, "on-real-node", metav1.DeleteOptions{})
	denied("delete a pod on a real node", err, "pods bound to simulated nodes")

	if _, err := sim.CoreV1().Nodes().Patch(ctx, "myriad-node-0", types.StrategicMergePatchType, label, metav1.PatchOptions{}); err != nil {
		t.Errorf("label a simulated node as the simulator: %v", err)
	}
	if _, err := sim.CoreV1().Pods(ns).Patch(ctx, "on-simulated-node", types.StrategicMergePatchType, cond, metav1.PatchOptions{}, "status"); err != nil {
		t.Errorf("patch the status of a pod on a simulated node as the simulator: %v", err)
	}
}

// testNodeSimPriority checks that the simulator's heartbeats reach the API
// server in their own priority level, through their own flow schema, as
// API Priority and Fairness counts them: a level that did not exist would
// send them to catch-all without an error anywhere.
func testNodeSimPriority(t *testing.T, admin kubernetes.Interface) {
	want := `flow_schema="myriad-nodesim-heartbeat",priority_level="myriad-node-high"`
	eventually(t, time.Minute, "heartbeats dispatched at myriad-node-high", func() error {
		raw, err := admin.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
		if err != nil {
			return err
		}
		for line := range strings.SplitSeq(string(raw), "\n") {
			if strings.HasPrefix(line, "apiserver_flowcontrol_dispatched_requests_total{") && strings.Contains(line, want) {
				if f := strings.Fields(line); f[len(f)-1] != "0" {
					return nil
				}
			}
		}
		return fmt.Errorf("no apiserver_flowcontrol_dispatched_requests_total{%s} above 0", want)
	})
}
