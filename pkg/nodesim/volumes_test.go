package nodesim

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodWaitsForItsClaimToBeBound(t *testing.T) {
	h := start(t, Config{Count: 1, NamePrefix: "n-"})
	rro := corev1.RecursiveReadOnlyIfPossible
	p := podOn("db", "n-0")
	p.Spec.Volumes = []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db"}}},
		{Name: "config", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "data", MountPath: "/var/lib/db"},
		{Name: "config", MountPath: "/etc/db", ReadOnly: true, RecursiveReadOnly: &rro},
	}
	h.createPod(p)

	// No claim yet: the kubelet cannot mount it and creates no sandbox.
	p = h.waitPod("db", "waiting for its volume", func(p *corev1.Pod) bool { return len(p.Status.ContainerStatuses) == 1 })
	cs := p.Status.ContainerStatuses[0]
	if p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" || cs.State.Waiting == nil || cs.State.Waiting.Reason != "ContainerCreating" ||
		cs.ContainerID != "" || cond(p, corev1.PodReadyToStartContainers) != corev1.ConditionFalse || cond(p, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("pod with a missing claim: %+v", p.Status)
	}

	claims := h.client.CoreV1().PersistentVolumeClaims("default")
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db", Namespace: "default"},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
	if _, err := claims.Create(context.Background(), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the claim in nodesim's cache", func() bool {
		_, ok, _ := h.s.claims.GetIndexer().GetByKey("default/data-db")
		return ok
	})
	if got := h.pod("db"); got.Status.Phase != corev1.PodPending || got.Status.ContainerStatuses[0].State.Waiting == nil {
		t.Fatalf("pod started on a Pending claim: %+v", got.Status)
	}

	// Bound: the pod starts, and reports its mounts as a v1.37 kubelet does.
	pvc.Spec.VolumeName, pvc.Status.Phase = "pvc-123", corev1.ClaimBound
	if _, err := claims.Update(context.Background(), pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = h.waitPod("db", "running", running)
	mounts := p.Status.ContainerStatuses[0].VolumeMounts
	if len(mounts) != 2 || mounts[0].Name != "data" || mounts[0].MountPath != "/var/lib/db" || mounts[0].ReadOnly || mounts[0].RecursiveReadOnly != nil ||
		mounts[1].Name != "config" || !mounts[1].ReadOnly || mounts[1].RecursiveReadOnly == nil || *mounts[1].RecursiveReadOnly != corev1.RecursiveReadOnlyEnabled {
		t.Fatalf("volumeMounts status %+v", mounts)
	}
	if p.Status.PodIP == "" || cond(p, corev1.PodReady) != corev1.ConditionTrue {
		t.Fatalf("bound pod not running with an IP: %+v", p.Status)
	}
}

func TestFailedMountMessageIsTheKubelets(t *testing.T) {
	p := podOn("web-0", "n-0")
	got := failedMountMessage(p, []blockedVolume{{volume: "data", claim: "data-web-0", why: "PVC is not bound"}})
	want := "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process volumes=[data]: " +
		"error processing PVC default/data-web-0: PVC is not bound"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
