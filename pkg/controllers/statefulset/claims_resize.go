package statefulset

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/batch"
)

// Growing claims with their templates (volumeClaimUpdateStrategy
// OnPodRollingUpdate, behind OpenKruise's alpha StatefulSetAutoResizePVCGate):
// when a volumeClaimTemplate asks for more storage, the rolling update
// grows each pod's claims (their request, which the storage's resizer
// turns into a bigger volume) before it updates the pod, and updates the
// pod once the volumes have grown. A claim that differs from its template
// in anything but size (class, access modes) is left alone and reported:
// only deleting it changes that. The rules and the JSON names are
// OpenKruise's, so its manifests and status readers work unchanged.

// ownedByAnnotation marks a claim a StatefulSet resized, with its name.
const ownedByAnnotation = "apps.kruise.io/owned-by-asts"

// claimFits compares a claim with its template: sameKind when storage
// class (if both name one) and access modes match; compatible when it also
// requests at least the template's storage; ready when its volume has at
// least what the claim itself requests (a claim still to grow to its
// template serves its pod meanwhile, as in OpenKruise).
func claimFits(claim, tmpl *corev1.PersistentVolumeClaim) (sameKind, compatible, ready bool) {
	if tmpl.Spec.StorageClassName != nil && claim.Spec.StorageClassName != nil && *tmpl.Spec.StorageClassName != *claim.Spec.StorageClassName {
		return false, false, false
	}
	if !slices.Equal(claim.Spec.AccessModes, tmpl.Spec.AccessModes) {
		return false, false, false
	}
	want, asked := tmpl.Spec.Resources.Requests[corev1.ResourceStorage], claim.Spec.Resources.Requests[corev1.ResourceStorage]
	compatible = asked.Cmp(want) >= 0
	has, ok := claim.Status.Capacity[corev1.ResourceStorage]
	ready = ok && has.Cmp(asked) >= 0
	return true, compatible, ready
}

// resized: the claim's volume has grown to its template's size, or only
// the node's filesystem resize is left (it happens once a pod mounts it).
func resized(claim, tmpl *corev1.PersistentVolumeClaim) bool {
	_, compatible, ready := claimFits(claim, tmpl)
	if !compatible {
		return false
	}
	return ready || slices.ContainsFunc(claim.Status.Conditions, func(c corev1.PersistentVolumeClaimCondition) bool {
		return c.Type == corev1.PersistentVolumeClaimFileSystemResizePending && c.Status == corev1.ConditionTrue
	})
}

// claimsOf calls fn with each existing, live claim of the pod at ordinal
// and its template.
func (ps *pass) claimsOf(ctx context.Context, ordinal int, fn func(claim, tmpl *corev1.PersistentVolumeClaim)) {
	for i := range ps.set.Spec.VolumeClaimTemplates {
		tmpl := &ps.set.Spec.VolumeClaimTemplates[i]
		var claim corev1.PersistentVolumeClaim
		key := client.ObjectKey{Namespace: ps.set.Namespace, Name: ClaimName(tmpl.Name, ps.set.Name, ordinal)}
		if err := ps.r.cache.Get(ctx, key, &claim); err != nil || claim.DeletionTimestamp != nil {
			continue // missing claims are created with the pod
		}
		fn(&claim, tmpl)
	}
}

// claimState fills in the plan's view of the pod's claims and reports
// whether they are all ready (a pod whose are not counts as unavailable).
func (ps *pass) claimState(ctx context.Context, ordinal int, in *Pod) (ready bool) {
	in.ClaimsCompatible, in.ClaimsResized, ready = true, true, true
	ps.claimsOf(ctx, ordinal, func(claim, tmpl *corev1.PersistentVolumeClaim) {
		_, compatible, r := claimFits(claim, tmpl)
		in.ClaimsCompatible = in.ClaimsCompatible && compatible
		in.ClaimsResized = in.ClaimsResized && resized(claim, tmpl)
		ready = ready && r
	})
	return ready
}

// volumeClaimStatus is status.volumeClaims: per template, how many of the
// live members' claims match it, and how many of those are ready.
func (ps *pass) volumeClaimStatus(ctx context.Context) []v1beta1.VolumeClaimStatus {
	tmpls := ps.set.Spec.VolumeClaimTemplates
	if len(tmpls) == 0 {
		return nil
	}
	out := make([]v1beta1.VolumeClaimStatus, len(tmpls))
	at := map[string]int{}
	for i := range tmpls {
		out[i].VolumeClaimName = tmpls[i].Name
		at[tmpls[i].Name] = i
	}
	for _, pod := range ps.pods {
		ordinal, member := OrdinalOf(ps.set.Name, pod)
		if !member || pod.DeletionTimestamp != nil {
			continue
		}
		ps.claimsOf(ctx, ordinal, func(claim, tmpl *corev1.PersistentVolumeClaim) {
			if _, compatible, ready := claimFits(claim, tmpl); compatible {
				out[at[tmpl.Name]].CompatibleReplicas++
				if ready {
					out[at[tmpl.Name]].CompatibleReadyReplicas++
				}
			}
		})
	}
	return out
}

// resizeClaims grows the claims of the plan's pods to their templates'
// sizes. A claim that differs from its template in more than size, or
// whose class does not allow expansion, is reported on the StatefulSet
// and fails the pass (OpenKruise does the same): the update waits.
func (ps *pass) resizeClaims(ctx context.Context, names []string) {
	type grow struct {
		claim *corev1.PersistentVolumeClaim
		size  corev1.ResourceList
	}
	var grows []grow
	for _, name := range names {
		pod := ps.byName[name]
		if pod == nil {
			continue
		}
		ordinal, _ := OrdinalOf(ps.set.Name, pod)
		ps.claimsOf(ctx, ordinal, func(claim, tmpl *corev1.PersistentVolumeClaim) {
			sameKind, compatible, _ := claimFits(claim, tmpl)
			switch {
			case compatible:
				return
			case !sameKind:
				ps.r.events.Eventf(ps.set, nil, corev1.EventTypeWarning, "FailedUpdatePVC", "Resize",
					"claim %s differs from template %s in more than size; it changes only when deleted", claim.Name, tmpl.Name)
				ps.failUpdate(fmt.Errorf("claim %s: differs from its template in more than size", claim.Name))
				return
			}
			if err := ps.expandable(ctx, claim); err != nil {
				ps.r.events.Eventf(ps.set, nil, corev1.EventTypeWarning, "FailedUpdatePVC", "Resize", "claim %s: %v", claim.Name, err)
				ps.failUpdate(fmt.Errorf("claim %s: %w", claim.Name, err))
				return
			}
			grows = append(grows, grow{claim, tmpl.Spec.Resources.Requests})
		})
	}
	err := batch.Parallel(len(grows), func(i int) error {
		g := grows[i]
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"uid": g.claim.UID, "resourceVersion": g.claim.ResourceVersion,
				"annotations": map[string]string{ownedByAnnotation: ps.set.Name}},
			"spec": map[string]any{"resources": map[string]any{"requests": map[string]any{
				string(corev1.ResourceStorage): g.size[corev1.ResourceStorage]}}},
		})
		if err != nil {
			return err
		}
		_, err = ps.r.kube.CoreV1().PersistentVolumeClaims(g.claim.Namespace).Patch(ctx, g.claim.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		countOp("resize_claim", err)
		if err != nil && !apierrors.IsNotFound(err) {
			ps.r.events.Eventf(ps.set, nil, corev1.EventTypeWarning, "FailedUpdatePVC", "Resize", "claim %s: %v", g.claim.Name, err)
			return fmt.Errorf("grow claim %s: %w", g.claim.Name, err)
		}
		ps.r.events.Eventf(ps.set, nil, corev1.EventTypeNormal, "SuccessfulUpdatePVC", "Resize", "claim %s grows to %s",
			g.claim.Name, g.size.Storage())
		return nil
	})
	if err != nil {
		ps.failUpdate(err)
	}
}

// expandable: the claim's class allows volume expansion.
func (ps *pass) expandable(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	if claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName == "" {
		return fmt.Errorf("has no storage class, so no volume expansion")
	}
	var sc storagev1.StorageClass
	if err := ps.r.client.Get(ctx, client.ObjectKey{Name: *claim.Spec.StorageClassName}, &sc); err != nil {
		return fmt.Errorf("read storage class %s: %w", *claim.Spec.StorageClassName, err)
	}
	if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		return fmt.Errorf("storage class %s does not allow volume expansion", sc.Name)
	}
	return nil
}
