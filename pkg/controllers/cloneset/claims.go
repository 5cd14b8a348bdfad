package cloneset

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// A pod's PVCs (from volumeClaimTemplates) share its instance id. They
// outlive the pod: a pod recreated by an update takes over the id, and with
// it the data, of PVCs left without a pod; scaling down deletes the PVCs of
// the pods removed. With scaleStrategy.disablePVCReuse, leftover PVCs are
// deleted instead of reused.

// claimsByID lists the CloneSet's PVCs by instance id.
func (ps *pass) claimsByID(ctx context.Context) (map[string][]*corev1.PersistentVolumeClaim, error) {
	if len(ps.cs.Spec.VolumeClaimTemplates) == 0 {
		return nil, nil
	}
	var list corev1.PersistentVolumeClaimList
	if err := ps.r.client.List(ctx, &list, client.InNamespace(ps.cs.Namespace), client.MatchingFields{ownerIndex: string(ps.cs.UID)}); err != nil {
		return nil, err
	}
	out := map[string][]*corev1.PersistentVolumeClaim{}
	for i := range list.Items {
		c := &list.Items[i]
		if id := c.Labels[v1alpha1.CloneSetInstanceID]; id != "" && c.DeletionTimestamp == nil {
			out[id] = append(out[id], c)
		}
	}
	return out, nil
}

// podIDs are the instance ids of every pod, terminating ones included: a
// terminating pod may still use its volumes.
func (ps *pass) podIDs() map[string]bool {
	ids := map[string]bool{}
	for _, p := range ps.pods {
		ids[p.Labels[v1alpha1.CloneSetInstanceID]] = true
	}
	return ids
}

// reusableClaimIDs are instance ids whose PVCs no pod uses, for new pods to
// take over; none with disablePVCReuse.
func (ps *pass) reusableClaimIDs(ctx context.Context) []string {
	if ps.cs.Spec.ScaleStrategy.DisablePVCReuse {
		return nil
	}
	claims, err := ps.claimsByID(ctx)
	if err != nil {
		return nil
	}
	used := ps.podIDs()
	var ids []string
	for id := range claims {
		if !used[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// createClaims creates the PVCs of instance id that do not exist yet.
func (ps *pass) createClaims(ctx context.Context, id string) error {
	for i := range ps.cs.Spec.VolumeClaimTemplates {
		pvc := newClaim(ps.cs, &ps.cs.Spec.VolumeClaimTemplates[i], id)
		_, err := ps.r.kube.CoreV1().PersistentVolumeClaims(pvc.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create pvc %s: %w", pvc.Name, err)
		}
	}
	return nil
}

// cleanupClaims deletes PVCs no pod uses once the CloneSet has all the pods
// it wants (so none is waiting to take them over), or at once with
// disablePVCReuse.
func (ps *pass) cleanupClaims(ctx context.Context) {
	if len(ps.cs.Spec.VolumeClaimTemplates) == 0 {
		return
	}
	live := 0
	for _, m := range ps.members {
		if !m.specifiedDelete {
			live++
		}
	}
	if live < ps.res.replicas && !ps.cs.Spec.ScaleStrategy.DisablePVCReuse {
		return
	}
	claims, err := ps.claimsByID(ctx)
	if err != nil {
		ps.failScale(err)
		return
	}
	used := ps.podIDs()
	for id, cs := range claims {
		if used[id] {
			continue
		}
		for _, c := range cs {
			err := ps.r.kube.CoreV1().PersistentVolumeClaims(c.Namespace).Delete(ctx, c.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &c.UID}})
			if err != nil && !apierrors.IsNotFound(err) {
				ps.failScale(fmt.Errorf("delete pvc %s: %w", c.Name, err))
			}
		}
	}
}
