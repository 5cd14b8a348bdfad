package syncer

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// A tenant's claims are bound on the super cluster (its binder and
// provisioners; the tenant runs neither). Once a claim's copy is Bound,
// the tenant gets a mirror of the super volume, bound to the tenant's
// claim, and the claim is bound to it as the binder would bind it: what a
// user or a tool reads of a claim and its volume (phase, volume name,
// capacity, access modes, the volume's node affinity) is true. A mirror
// lives as long as the tenant claim it is bound to: it goes when the
// claim's deletion is synced, or at the next collection.

// LabelMirroredVolume marks the tenant PersistentVolumes the syncer made;
// it never changes or deletes one without it.
const LabelMirroredVolume = tenancy.Prefix + "mirrored-volume"

// The binder's annotations on a claim it bound (pkg/controller/volume/
// persistentvolume): tools read them.
const (
	annBindCompleted     = "pv.kubernetes.io/bind-completed"
	annBoundByController = "pv.kubernetes.io/bound-by-controller"
)

// mirrorVolume is the tenant's copy of super volume pv, bound to tenant
// claim c: pv's spec, with its claim reference naming the tenant's claim
// and the claim's class (a volume binds only to a claim of its class).
func mirrorVolume(pv *corev1.PersistentVolume, c *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
	out := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pv.Name, Labels: stripReserved(pv.Labels)}}
	out.Labels[LabelMirroredVolume] = "true"
	out.Spec = *pv.Spec.DeepCopy()
	out.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
		Namespace: c.Namespace, Name: c.Name, UID: c.UID}
	out.Spec.StorageClassName = ""
	if c.Spec.StorageClassName != nil {
		out.Spec.StorageClassName = *c.Spec.StorageClassName
	}
	return out
}

// mirrorUpdate applies desired to a live mirror, saying whether anything
// the syncer keeps changed: labels, capacity (expansion) and the claim
// reference.
func mirrorUpdate(live, desired *corev1.PersistentVolume) (*corev1.PersistentVolume, bool) {
	out := live.DeepCopy()
	out.Labels = maps.Clone(desired.Labels)
	out.Spec.Capacity = desired.Spec.Capacity.DeepCopy()
	out.Spec.ClaimRef = desired.Spec.ClaimRef.DeepCopy()
	changed := !maps.Equal(live.Labels, out.Labels) || !equality.Semantic.DeepEqual(live.Spec.Capacity, out.Spec.Capacity) ||
		!equality.Semantic.DeepEqual(live.Spec.ClaimRef, out.Spec.ClaimRef)
	return out, changed
}

// boundClaimStatus is what the tenant claim's status says once bound:
// the super claim's phase, access modes and capacity.
func boundClaimStatus(live corev1.PersistentVolumeClaimStatus, super corev1.PersistentVolumeClaimStatus) (corev1.PersistentVolumeClaimStatus, bool) {
	out := *live.DeepCopy()
	out.Phase = corev1.ClaimBound
	out.AccessModes = append([]corev1.PersistentVolumeAccessMode(nil), super.AccessModes...)
	out.Capacity = super.Capacity.DeepCopy()
	return out, !equality.Semantic.DeepEqual(live, out)
}

// syncClaimUp mirrors the super volume of a Bound claim copy into the
// tenant and binds the tenant's claim to it.
func (s *Syncer) syncClaimUp(ctx context.Context, tc *tenantCluster, ns, name string) error {
	src, err := tc.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return s.dropMirrors(ctx, tc, ns, name)
	}
	if err != nil || src.DeletionTimestamp != nil {
		return nil
	}
	twin, err := s.super.claims.PersistentVolumeClaims(tenancy.SuperNamespace(tc.name, ns)).Get(name)
	if err != nil || !isCopy(twin, tc.name) || !sameOrigin(twin, src) || twin.Status.Phase != corev1.ClaimBound || twin.Spec.VolumeName == "" {
		return nil
	}
	if src.Spec.VolumeName != "" && src.Spec.VolumeName != twin.Spec.VolumeName {
		return nil // bound in the tenant by someone else: not the syncer's to change
	}
	pv, err := s.super.volumes.Get(twin.Spec.VolumeName)
	if err != nil {
		return fmt.Errorf("super volume %s of claim %s/%s: %w", twin.Spec.VolumeName, ns, name, errNotYet)
	}
	if err := s.ensureMirror(ctx, tc, src, mirrorVolume(pv, src)); err != nil {
		return err
	}
	claims := tc.client.CoreV1().PersistentVolumeClaims(ns)
	if src.Spec.VolumeName == "" || src.Annotations[annBindCompleted] != "yes" {
		bound := src.DeepCopy()
		bound.Spec.VolumeName = pv.Name
		if bound.Annotations == nil {
			bound.Annotations = map[string]string{}
		}
		bound.Annotations[annBindCompleted], bound.Annotations[annBoundByController] = "yes", "yes"
		if src, err = claims.Update(ctx, bound, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("bind tenant claim %s/%s: %w", ns, name, err)
		}
	}
	if st, changed := boundClaimStatus(src.Status, twin.Status); changed {
		out := src.DeepCopy()
		out.Status = st
		if _, err := claims.UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("status of tenant claim %s/%s: %w", ns, name, err)
		}
	}
	s.synced(tc.name, kindPVC)
	return nil
}

// ensureMirror creates or updates the tenant's mirror volume and keeps it
// Bound. A volume of that name the syncer did not make is left alone,
// with a warning on the claim.
func (s *Syncer) ensureMirror(ctx context.Context, tc *tenantCluster, claim *corev1.PersistentVolumeClaim, desired *corev1.PersistentVolume) error {
	volumes := tc.client.CoreV1().PersistentVolumes()
	live, err := tc.volumes.Get(desired.Name)
	switch {
	case apierrors.IsNotFound(err):
		if live, err = volumes.Create(ctx, desired, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("mirror volume %s: %w", desired.Name, err)
		}
		if err != nil {
			return fmt.Errorf("mirror volume %s made meanwhile: %w", desired.Name, errNotYet)
		}
	case err != nil:
		return err
	case live.Labels[LabelMirroredVolume] != "true":
		tc.recorder.Eventf(claim, corev1.EventTypeWarning, "SyncError",
			"a PersistentVolume named %s exists in this cluster and was not made from the shared cluster's; the claim is not bound to it", desired.Name)
		return fmt.Errorf("tenant volume %s is not a mirror: %w", desired.Name, errNotYet)
	default:
		if out, changed := mirrorUpdate(live, desired); changed {
			if live, err = volumes.Update(ctx, out, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("mirror volume %s: %w", desired.Name, err)
			}
		}
	}
	if live.Status.Phase != corev1.VolumeBound {
		out := live.DeepCopy()
		out.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}
		if _, err := volumes.UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("status of mirror volume %s: %w", desired.Name, err)
		}
	}
	return nil
}

// dropMirrors deletes the mirrors bound to a tenant claim that is gone;
// collectMirroredVolumes catches any this misses.
func (s *Syncer) dropMirrors(ctx context.Context, tc *tenantCluster, ns, name string) error {
	objs, err := tc.volumeIndex.ByIndex(mirrorsByClaim, ns+"/"+name)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if pv, ok := o.(*corev1.PersistentVolume); ok {
			if err := s.deleteMirror(ctx, tc, pv); err != nil {
				return err
			}
		}
	}
	return nil
}

// collectMirroredVolumes deletes the mirrors whose tenant claim is gone
// (or is another incarnation). A Bound volume is held by the tenant's
// pv-protection finalizer, so the mirror is marked Released first, as the
// binder does when its claim goes.
func (s *Syncer) collectMirroredVolumes(ctx context.Context) {
	sel := labels.SelectorFromSet(labels.Set{LabelMirroredVolume: "true"})
	for _, tc := range s.servedTenants() {
		if !tc.synced.Load() {
			continue
		}
		mirrors, err := tc.volumes.List(sel)
		if err != nil {
			continue
		}
		for _, pv := range mirrors {
			if ref := pv.Spec.ClaimRef; ref != nil {
				if c, err := tc.claims.PersistentVolumeClaims(ref.Namespace).Get(ref.Name); err == nil && c.UID == ref.UID {
					continue
				}
			}
			if err := s.deleteMirror(ctx, tc, pv); err != nil {
				klog.FromContext(ctx).Error(err, "Delete mirrored volume", "tenant", tc.name, "volume", pv.Name)
			}
		}
	}
}

func (s *Syncer) deleteMirror(ctx context.Context, tc *tenantCluster, pv *corev1.PersistentVolume) error {
	volumes := tc.client.CoreV1().PersistentVolumes()
	if pv.Status.Phase == corev1.VolumeBound {
		out := pv.DeepCopy()
		out.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumeReleased}
		if _, err := volumes.UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
			return ignoreNotFound(err)
		}
	}
	if pv.DeletionTimestamp == nil {
		uid := pv.UID
		if err := volumes.Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil {
			return ignoreNotFound(err)
		}
	}
	s.synced(tc.name, kindPVC)
	return nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
