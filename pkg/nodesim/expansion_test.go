package nodesim

import (
	"context"
	"testing"
	"time"

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
	pend := func(c *corev1.PersistentVolumeClaim) {
		c.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}
		c.Status.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{corev1.ResourceStorage: corev1.PersistentVolumeClaimNodeResizePending}
		c.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{Type: corev1.PersistentVolumeClaimFileSystemResizePending, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(h.clock.Now())}}
	}
	claim := func(name string, pending bool) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pvc-" + name, Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
		if pending {
			pend(c)
		}
		if _, err := claims.Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	grown := claim("grown", false)
	claim("growing", false) // the resizer's part is not done
	p := podOn("db", "n-0")
	for _, name := range []string{"grown", "growing"} {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}})
	}
	h.createPod(p)
	h.waitPod("db", "running", running)
	// The resizer hands the claim over 10 s after the pod started.
	h.clock.Step(10 * time.Second)
	pend(grown)
	if _, err := claims.Update(context.Background(), grown, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	finished := func() bool {
		c, err := claims.Get(context.Background(), "grown", metav1.GetOptions{})
		return err == nil && c.Status.Capacity.Storage().String() == "2Gi"
	}
	// At the pod's next periodic sync, a minute after it started.
	if waited := h.stepUntil("grown claim finished", 5*time.Second, 2*time.Minute, finished); waited < 45*time.Second || waited > 55*time.Second {
		t.Errorf("finished after %s of the node's time, want at the pod's periodic sync a minute on", waited)
	}
	c, _ := claims.Get(context.Background(), "grown", metav1.GetOptions{})
	if len(c.Status.Conditions) != 0 || c.Status.AllocatedResourceStatuses[corev1.ResourceStorage] != "" {
		t.Errorf("after node expansion: %+v", c.Status)
	}
	if g, _ := claims.Get(context.Background(), "growing", metav1.GetOptions{}); g.Status.Capacity.Storage().String() != "1Gi" {
		t.Errorf("a claim still growing on the storage side got capacity %s", g.Status.Capacity.Storage())
	}
}

func TestExpansionIsDueAtThePodsNextPeriodicSync(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := podOn("db", "n-0")
	pod.Status.StartTime = &metav1.Time{Time: start}
	c := &corev1.PersistentVolumeClaim{}
	c.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{Type: corev1.PersistentVolumeClaimFileSystemResizePending,
		Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(start.Add(150 * time.Second))}}
	if got := expansionDue(pod, c, start.Add(151*time.Second)); !got.Equal(start.Add(3 * time.Minute)) {
		t.Errorf("handed over 2m30s after the start: due %s after, want 3m", got.Sub(start))
	}
	c.Status.Conditions[0].LastTransitionTime = metav1.NewTime(start.Add(-time.Hour))
	if got := expansionDue(pod, c, start.Add(time.Second)); !got.Equal(start) {
		t.Errorf("handed over before the pod started: due %s after its start, want at its mount", got.Sub(start))
	}
	c.Status.Conditions[0].LastTransitionTime = metav1.Time{}
	if now := start.Add(10 * time.Second); !expansionDue(pod, c, now).Equal(now) {
		t.Error("without a hand-over time the expansion waits")
	}
}
