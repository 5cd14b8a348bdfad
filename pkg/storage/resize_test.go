package storage

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func boundPair(request, claimCap, pvCap string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	c := claimOf(request, corev1.ReadWriteOnce)
	c.Spec.VolumeName = "pvc-uid-1"
	c.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(claimCap)}}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-uid-1", Annotations: map[string]string{annProvisionedBy: ProvisionerName}},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(pvCap)},
			ClaimRef: &corev1.ObjectReference{Namespace: c.Namespace, Name: c.Name, UID: c.UID}},
	}
	return c, pv
}

func TestPlanResize(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		request, claimCap, pvCap string
		mutate                   func(*corev1.PersistentVolumeClaim, *corev1.PersistentVolume)
		ok, mark, grow           bool
	}{
		{name: "same size", request: "1Gi", claimCap: "1Gi", pvCap: "1Gi"},
		{name: "grown", request: "2Gi", claimCap: "1Gi", pvCap: "1Gi", ok: true, mark: true, grow: true},
		{name: "volume grown, claim not yet", request: "2Gi", claimCap: "1Gi", pvCap: "2Gi", ok: true, mark: true},
		{name: "already marked", request: "2Gi", claimCap: "1Gi", pvCap: "1Gi", ok: true, grow: true,
			mutate: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				*c = *withStatus(c, resizingStatus(c, resource.MustParse("2Gi"), t0))
			}},
		{name: "marked for a smaller size", request: "3Gi", claimCap: "1Gi", pvCap: "2Gi", ok: true, mark: true, grow: true,
			mutate: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				*c = *withStatus(c, resizingStatus(c, resource.MustParse("2Gi"), t0))
			}},
		{name: "not bound", request: "2Gi", claimCap: "1Gi", pvCap: "1Gi",
			mutate: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				c.Status.Phase = corev1.ClaimPending
			}},
		{name: "volume bound to another claim", request: "2Gi", claimCap: "1Gi", pvCap: "1Gi",
			mutate: func(_ *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) { pv.Spec.ClaimRef.UID = "other" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, pv := boundPair(tc.request, tc.claimCap, tc.pvCap)
			if tc.mutate != nil {
				tc.mutate(c, pv)
			}
			p, ok := planResize(c, pv)
			if ok != tc.ok || p.markResizing != tc.mark || p.growVolume != tc.grow {
				t.Fatalf("plan %+v ok=%t; want ok=%t mark=%t grow=%t", p, ok, tc.ok, tc.mark, tc.grow)
			}
			if ok && (p.size.String() != tc.request || !p.finish) {
				t.Fatalf("plan %+v, want to finish at %s", p, tc.request)
			}
		})
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func withStatus(c *corev1.PersistentVolumeClaim, st *corev1.PersistentVolumeClaimStatus) *corev1.PersistentVolumeClaim {
	c = c.DeepCopy()
	c.Status = *st
	return c
}

func TestResizeStatusesAreExternalResizers(t *testing.T) {
	c, _ := boundPair("2Gi", "1Gi", "1Gi")
	c.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{Type: "example.com/backup", Status: corev1.ConditionTrue}}
	two := resource.MustParse("2Gi")

	mid := resizingStatus(c, two, t0)
	if len(mid.Conditions) != 2 || mid.Conditions[1].Type != corev1.PersistentVolumeClaimResizing || !mid.Conditions[1].LastTransitionTime.Time.Equal(t0) ||
		mid.AllocatedResourceStatuses[corev1.ResourceStorage] != corev1.PersistentVolumeClaimControllerResizeInProgress ||
		mid.AllocatedResources.Storage().Cmp(two) != 0 || mid.Capacity.Storage().String() != "1Gi" {
		t.Fatalf("while resizing: %+v", mid)
	}
	done := nodePendingStatus(withStatus(c, mid), two, t0)
	if len(done.Conditions) != 2 || done.Conditions[0].Type != "example.com/backup" || done.Conditions[1].Type != corev1.PersistentVolumeClaimFileSystemResizePending ||
		done.AllocatedResourceStatuses[corev1.ResourceStorage] != corev1.PersistentVolumeClaimNodeResizePending ||
		done.Capacity.Storage().String() != "1Gi" || done.AllocatedResources.Storage().Cmp(two) != 0 {
		t.Fatalf("after: %+v", done)
	}
	// Nothing more for the resizer once only the node's part is left.
	_, pv := boundPair("2Gi", "1Gi", "2Gi")
	if _, ok := planResize(withStatus(c, done), pv); ok {
		t.Fatal("the resizer would go on with a claim waiting for its node")
	}
	if c.Status.AllocatedResources != nil {
		t.Fatal("the claim passed in was modified")
	}
}
