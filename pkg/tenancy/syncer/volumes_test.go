package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// A tenant claim whose copy the super cluster binds is bound in the
// tenant too, to a mirror of the super volume; the mirror follows the
// volume's growth and goes with the claim.
func TestBoundClaimGetsAMirroredVolume(t *testing.T) {
	h := newHarness(t, nil, []runtime.Object{
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "data", UID: "claim-1"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resourceMust("1Gi")}}}},
		// A volume of the tenant's own that shares no name with the super's.
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "own"}},
	})
	var twin *corev1.PersistentVolumeClaim
	h.eventually("claim placed", func() bool {
		var err error
		twin, err = h.super.CoreV1().PersistentVolumeClaims("t1-web").Get(ctx, "data", metav1.GetOptions{})
		return err == nil
	})
	// The super cluster's provisioner and binder do their part.
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-super-1", Labels: map[string]string{"topology": "a"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resourceMust("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:       "standard",
			ClaimRef:               &corev1.ObjectReference{Namespace: "t1-web", Name: "data", UID: twin.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "csi.myriad.dev", VolumeHandle: "h1"}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}}},
		}}
	if _, err := h.super.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	twin.Spec.VolumeName = pv.Name
	twin, err := h.super.CoreV1().PersistentVolumeClaims("t1-web").Update(ctx, twin, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	twin.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: pv.Spec.AccessModes, Capacity: pv.Spec.Capacity}
	if _, err := h.super.CoreV1().PersistentVolumeClaims("t1-web").UpdateStatus(ctx, twin, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("tenant claim bound", func() bool {
		c := h.tenantClaim("web", "data")
		return c.Spec.VolumeName == pv.Name && c.Status.Phase == corev1.ClaimBound && c.Status.Capacity.Storage().String() == "1Gi"
	})
	mirror, err := h.tenant.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := mirror.Spec.ClaimRef
	if ref == nil || ref.Namespace != "web" || ref.Name != "data" || ref.UID != "claim-1" || mirror.Status.Phase != corev1.VolumeBound {
		t.Errorf("mirror's claim %+v, phase %s", ref, mirror.Status.Phase)
	}
	if mirror.Labels[LabelMirroredVolume] != "true" || mirror.Labels["topology"] != "a" || mirror.Spec.NodeAffinity == nil || mirror.Spec.StorageClassName != "" {
		t.Errorf("mirror = %+v", mirror)
	}
	if c := h.tenantClaim("web", "data"); c.Annotations[annBindCompleted] != "yes" {
		t.Errorf("the claim lacks the binder's annotation: %v", c.Annotations)
	}
	// Down again, the claim's copy is not rebound: the tenant's volume
	// name is not the super cluster's business.
	if got, _ := h.super.CoreV1().PersistentVolumeClaims("t1-web").Get(ctx, "data", metav1.GetOptions{}); got.Spec.VolumeName != pv.Name {
		t.Errorf("the copy's volume changed to %q", got.Spec.VolumeName)
	}

	// Growth on the super cluster shows in the tenant.
	pv, _ = h.super.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
	pv.Spec.Capacity[corev1.ResourceStorage] = resourceMust("2Gi")
	if _, err := h.super.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	twin, _ = h.super.CoreV1().PersistentVolumeClaims("t1-web").Get(ctx, "data", metav1.GetOptions{})
	twin.Status.Capacity = pv.Spec.Capacity
	if _, err := h.super.CoreV1().PersistentVolumeClaims("t1-web").UpdateStatus(ctx, twin, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("growth mirrored", func() bool {
		m, err := h.tenant.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		return err == nil && m.Spec.Capacity.Storage().String() == "2Gi" && h.tenantClaim("web", "data").Status.Capacity.Storage().String() == "2Gi"
	})

	if err := h.tenant.CoreV1().PersistentVolumeClaims("web").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("mirror collected", func() bool {
		_, err := h.tenant.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		return err != nil
	})
	if _, err := h.tenant.CoreV1().PersistentVolumes().Get(ctx, "own", metav1.GetOptions{}); err != nil {
		t.Errorf("the tenant's own volume was touched: %v", err)
	}
}

// A tenant volume of the super volume's name that the syncer did not make
// is neither taken over nor bound.
func TestForeignVolumeIsNotTakenOver(t *testing.T) {
	h := newHarness(t, nil, []runtime.Object{
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "data", UID: "claim-1"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("fast")}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-super-1"}},
	})
	var twin *corev1.PersistentVolumeClaim
	h.eventually("claim placed", func() bool {
		var err error
		twin, err = h.super.CoreV1().PersistentVolumeClaims("t1-web").Get(ctx, "data", metav1.GetOptions{})
		return err == nil
	})
	if _, err := h.super.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-super-1"},
		Spec: corev1.PersistentVolumeSpec{ClaimRef: &corev1.ObjectReference{Namespace: "t1-web", Name: "data", UID: twin.UID}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	twin.Spec.VolumeName = "pvc-super-1"
	twin, err := h.super.CoreV1().PersistentVolumeClaims("t1-web").Update(ctx, twin, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	twin.Status.Phase = corev1.ClaimBound
	if _, err := h.super.CoreV1().PersistentVolumeClaims("t1-web").UpdateStatus(ctx, twin, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("a warning on the claim", func() bool {
		evs, _ := h.tenant.CoreV1().Events("web").List(ctx, metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "data" && e.Type == corev1.EventTypeWarning {
				return true
			}
		}
		return false
	})
	if c := h.tenantClaim("web", "data"); c.Spec.VolumeName != "" || c.Status.Phase == corev1.ClaimBound {
		t.Errorf("the claim was bound to a volume that is not a mirror: %+v", c)
	}
	if v, _ := h.tenant.CoreV1().PersistentVolumes().Get(ctx, "pvc-super-1", metav1.GetOptions{}); v.Spec.ClaimRef != nil || v.Labels[LabelMirroredVolume] != "" {
		t.Errorf("the tenant's volume was changed: %+v", v)
	}
}
