package nodesim

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A claim whose volume grew and whose file system waits for a node gets
// its new capacity from the node where a running pod mounts it; the other
// claims are left alone.
func TestNodeFinishesAGrownVolume(t *testing.T) {
	h := start(t, Config{Count: 1, NamePrefix: "n-"})
	claims := h.client.CoreV1().PersistentVolumeClaims("default")
	claim := func(name string, pending bool) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pvc-" + name, Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
		if pending {
			c.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}
			c.Status.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{corev1.ResourceStorage: corev1.PersistentVolumeClaimNodeResizePending}
			c.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{Type: corev1.PersistentVolumeClaimFileSystemResizePending, Status: corev1.ConditionTrue}}
		}
		if _, err := claims.Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	claim("grown", true)
	claim("growing", false) // the resizer's part is not done
	p := podOn("db", "n-0")
	for _, name := range []string{"grown", "growing"} {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}})
	}
	h.createPod(p)
	h.waitPod("db", "running", running)
	h.eventually("grown claim finished", func() bool {
		c, err := claims.Get(context.Background(), "grown", metav1.GetOptions{})
		return err == nil && c.Status.Capacity.Storage().String() == "2Gi"
	})
	c, _ := claims.Get(context.Background(), "grown", metav1.GetOptions{})
	if len(c.Status.Conditions) != 0 || c.Status.AllocatedResourceStatuses[corev1.ResourceStorage] != "" {
		t.Errorf("after node expansion: %+v", c.Status)
	}
	if g, _ := claims.Get(context.Background(), "growing", metav1.GetOptions{}); g.Status.Capacity.Storage().String() != "1Gi" {
		t.Errorf("a claim still growing on the storage side got capacity %s", g.Status.Capacity.Storage())
	}
}
