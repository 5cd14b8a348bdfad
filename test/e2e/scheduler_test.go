package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestMyriadScheduler runs `myriad up --scheduler myriad`: Myriad's
// scheduler replaces kube-scheduler as default-scheduler, places a
// Deployment, and explains a pod that fits nowhere as kube-scheduler would.
func TestMyriadScheduler(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	const nodes = 20
	dataDir := filepath.Join(t.TempDir(), "cluster")
	up := startUp(t, dataDir, freePort(t), freePort(t), "--nodes", fmt.Sprint(nodes), "--scheduler", "myriad")
	defer up.stop(t)
	cs := up.client(t)
	ctx := context.Background()
	ns := "sched"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "default ServiceAccount", func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})

	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "web", 60), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, cs, ns, "app=web", 60, 2*time.Minute)
	eventually(t, time.Minute, "a Scheduled event per pod, as kube-scheduler records", func() error {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		evs, err := cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		notes := map[string]bool{}
		for _, e := range evs.Items {
			if e.Reason == "Scheduled" && e.ReportingController == "default-scheduler" {
				notes[e.Note] = true
			}
		}
		for _, p := range pods.Items {
			if want := fmt.Sprintf("Successfully assigned %s/%s to %s", ns, p.Name, p.Spec.NodeName); !notes[want] {
				return fmt.Errorf("no event %q", want)
			}
		}
		return nil
	})

	huge := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "huge", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("1000")}}}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, huge, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("0/%d nodes are available: %d Insufficient cpu. preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling.", nodes, nodes, nodes, nodes)
	eventually(t, time.Minute, "PodScheduled=False Unschedulable", func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "huge", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled {
				if c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable || c.Message != want {
					return fmt.Errorf("condition %s %s %q, want False Unschedulable %q", c.Status, c.Reason, c.Message, want)
				}
				return nil
			}
		}
		return fmt.Errorf("no PodScheduled condition")
	})
	eventually(t, time.Minute, "FailedScheduling event", func() error {
		evs, err := cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "regarding.name=huge"})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == "FailedScheduling" && e.Note == want {
				return nil
			}
		}
		return fmt.Errorf("%d events for huge, none FailedScheduling %q", len(evs.Items), want)
	})
	if _, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, "myriad-scheduler", metav1.GetOptions{}); err != nil {
		t.Fatalf("leader Lease kube-system/myriad-scheduler: %v", err)
	}
}
