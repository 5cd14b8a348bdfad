package cloneset

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// A pod's PVCs (from volumeClaimTemplates) share its instance id. As in
// OpenKruise, they go with the pod when the CloneSet deletes it (scaling
// down, recreating it for an update, podsToDelete), and outlive it when
// anyone else does: the pod's replacement then takes over the id, and with
// it the data. With scaleStrategy.disablePVCReuse, leftover PVCs are
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

// reusableClaimIDs are instance ids whose PVCs no live pod uses, for new
// pods to take over; none with disablePVCReuse. As in OpenKruise, the ids of
// terminating pods count too, so a deleted pod's replacement keeps its
// claims (and its name): its create is refused as AlreadyExists until the
// old pod is gone, and the next pass retries it. Ids no pod holds at all
// come first, so they are never held up behind a slow termination.
func (ps *pass) reusableClaimIDs(ctx context.Context) []string {
	if ps.cs.Spec.ScaleStrategy.DisablePVCReuse {
		return nil
	}
	claims, err := ps.claimsByID(ctx)
	if err != nil {
		return nil
	}
	return reusable(claims, ps.pods)
}

// reusable orders the claim ids no live pod holds: free ones first, then
// those of terminating pods, each group sorted so passes agree.
func reusable(claims map[string][]*corev1.PersistentVolumeClaim, pods []*corev1.Pod) []string {
	live, terminating := map[string]bool{}, map[string]bool{}
	for _, p := range pods {
		id := p.Labels[v1alpha1.CloneSetInstanceID]
		if p.DeletionTimestamp != nil {
			terminating[id] = true
		} else {
			live[id] = true
		}
	}
	var free, held []string
	for id := range claims {
		switch {
		case live[id]:
		case terminating[id]:
			held = append(held, id)
		default:
			free = append(free, id)
		}
	}
	slices.Sort(free)
	slices.Sort(held)
	return append(free, held...)
}

// errClaimGoing: a claim to take over is being deleted after all (the
// cache had not shown it yet); the pod waits for a later pass.
var errClaimGoing = errors.New("claim is being deleted")

// createClaims creates the PVCs of instance id that do not exist yet. For a
// reused id it reads an existing claim from the API server: a new pod must
// never mount a claim on its way out, which the cache may not show yet when
// the CloneSet deleted the claim with its pod a moment ago.
func (ps *pass) createClaims(ctx context.Context, id string, reused bool) error {
	for i := range ps.cs.Spec.VolumeClaimTemplates {
		pvc := newClaim(ps.cs, &ps.cs.Spec.VolumeClaimTemplates[i], id)
		_, err := ps.r.kube.CoreV1().PersistentVolumeClaims(pvc.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
		switch {
		case err == nil:
		case !apierrors.IsAlreadyExists(err):
			return fmt.Errorf("create pvc %s: %w", pvc.Name, err)
		case reused:
			var live corev1.PersistentVolumeClaim
			if err := ps.r.apiReader.Get(ctx, client.ObjectKeyFromObject(pvc), &live); err != nil {
				return fmt.Errorf("read pvc %s: %w", pvc.Name, err)
			}
			if live.DeletionTimestamp != nil {
				return errClaimGoing
			}
		}
	}
	return nil
}

// deleteClaimsOf deletes the PVCs of a pod the CloneSet deleted. The API
// server's PVC protection keeps them until the pod is gone.
func (ps *pass) deleteClaimsOf(ctx context.Context, pod *corev1.Pod) error {
	id := pod.Labels[v1alpha1.CloneSetInstanceID]
	if id == "" {
		return nil
	}
	for i := range ps.cs.Spec.VolumeClaimTemplates {
		name := claimName(ps.cs, &ps.cs.Spec.VolumeClaimTemplates[i], id)
		err := ps.r.kube.CoreV1().PersistentVolumeClaims(ps.cs.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pvc %s of deleted pod %s: %w", name, pod.Name, err)
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
