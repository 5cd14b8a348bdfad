package inplace

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

func TestSplitBatch(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "a"}, {Name: "b", Env: []corev1.EnvVar{{Name: pub.ContainerLaunchPriorityEnvName, Value: "10"}}}, {Name: "c"}}}}
	all := []string{"a", "b", "c"}
	batch, next := splitBatch(pod, all)
	if !slices.Equal(batch, []string{"b"}) || !slices.Equal(next, []string{"a", "c"}) {
		t.Errorf("priority env: batch %v next %v, want [b] then a and c", batch, next)
	}
	pod.Annotations = map[string]string{pub.ContainerLaunchPriorityKey: pub.ContainerLaunchOrdered}
	if batch, _ := splitBatch(pod, all); !slices.Equal(batch, []string{"a"}) {
		t.Errorf("Ordered: batch %v, want [a] (first in spec order)", batch)
	}
	pod.Annotations = nil
	pod.Spec.Containers[1].Env = []corev1.EnvVar{{Name: pub.ContainerLaunchBarrierEnvName, ValueFrom: &corev1.EnvVarSource{
		ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "p_-5"}}}}
	if batch, _ := splitBatch(pod, all); !slices.Equal(batch, []string{"a", "c"}) {
		t.Errorf("barrier env p_-5: batch %v, want [a c] (priority 0 before -5)", batch)
	}
}

// OpenKruise's "in-place update two container images with priorities": the
// higher-priority container changes first, the other only once it runs its
// new image, the gate stays False in between, and the state records both
// batches in order.
func TestApplyInPriorityBatches(t *testing.T) {
	h := newHarness(t)
	p := h.pod()
	p.Spec.Containers[1].Env = []corev1.EnvVar{{Name: pub.ContainerLaunchPriorityEnvName, Value: "10"}}
	if _, err := h.c.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.mustApply("r2", Plan{Containers: []ContainerUpdate{{Name: "app", Image: "nginx:b"}, {Name: "side", Image: "envoy:2"}}})
	images := func() (string, string) {
		p := h.pod()
		return specContainer(p, "app").Image, specContainer(p, "side").Image
	}
	if app, side := images(); app != "nginx:a" || side != "envoy:2" {
		t.Fatalf("first batch: app %s side %s, want only side changed", app, side)
	}
	if h.complete() {
		t.Fatal("Complete reported done while side still restarts")
	}
	if app, _ := images(); app != "nginx:a" {
		t.Fatal("app changed before side ran its new image")
	}
	h.kubelet()
	if h.complete() {
		t.Fatal("Complete reported done with app's batch still to go")
	}
	if app, _ := images(); app != "nginx:b" {
		t.Fatalf("second batch not started: app %s", app)
	}
	h.expectGate(corev1.ConditionFalse)
	if Check(h.pod()) {
		t.Fatal("Check passed with app restarting")
	}
	h.kubelet()
	if !h.complete() {
		t.Fatal("Complete not done after both batches")
	}
	h.expectGate(corev1.ConditionTrue)
	st, _, _ := ReadState(h.pod())
	if len(st.ContainerBatchesRecord) != 2 || !slices.Equal(st.ContainerBatchesRecord[0].Containers, []string{"side"}) ||
		!slices.Equal(st.ContainerBatchesRecord[1].Containers, []string{"app"}) || len(st.NextContainerImages) != 0 {
		t.Fatalf("state records %+v, next %v; want [side] then [app], nothing next", st.ContainerBatchesRecord, st.NextContainerImages)
	}
}
