package nodesim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The kubelet's half of growing a volume: once the storage's resizer has
// grown a volume whose file system must grow on the node (the claim's
// FileSystemResizePending condition, resize status NodeResizePending), the
// kubelet of a node where a running pod mounts the claim grows the file
// system (NodeExpandVolume) and reports the claim's new capacity. A claim
// no running pod mounts waits, as on a real node.
//
// When: a kubelet's volume manager looks at a running pod's volumes again
// only when the pod is synced, and a claim's change does not sync the pod;
// its periodic sync does (--sync-frequency, 1 minute). So a claim grows on
// the node at the first periodic sync of the pod after the resizer handed
// it over: up to a minute later, which is what users and controllers see
// (OpenKruise's volumeClaimUpdateStrategy counts such a claim resized but
// not ready, and goes on). Simulated volumes have no file system, so the
// step itself takes no time.

// podSyncPeriod is the kubelet's --sync-frequency default.
const podSyncPeriod = time.Minute

// expansionDue is when the kubelet grows the claim's file system for the
// running pod: its first periodic sync, counted from the pod's start, after
// the resizer handed the claim to the node; for a pod started after that,
// when the kubelet mounts the volume (its start).
// Without a hand-over time (a resizer that sets none) it is due at once.
func expansionDue(pod *corev1.Pod, c *corev1.PersistentVolumeClaim, now time.Time) time.Time {
	var since time.Time
	for _, cond := range c.Status.Conditions {
		if cond.Type == corev1.PersistentVolumeClaimFileSystemResizePending && !cond.LastTransitionTime.IsZero() {
			since = cond.LastTransitionTime.Time
		}
	}
	if since.IsZero() || pod.Status.StartTime == nil {
		return now
	}
	start := pod.Status.StartTime.Time
	if !since.After(start) {
		return start // handed over before the pod started: grown as it is mounted
	}
	return start.Add((since.Sub(start)/podSyncPeriod + 1) * podSyncPeriod)
}

// expandVolumes finishes the node's part of growing the claims the pod
// mounts whose time has come, and returns how long until the next one's
// does (0: none waits).
func (s *sim) expandVolumes(ctx context.Context, n *simNode, pod *corev1.Pod, now time.Time) (time.Duration, error) {
	var next time.Duration
	for _, name := range podClaims(pod) {
		obj, exists, _ := s.claims.GetIndexer().GetByKey(pod.Namespace + "/" + name)
		c, _ := obj.(*corev1.PersistentVolumeClaim)
		if !exists || c == nil || !nodeExpansionPending(c) {
			continue
		}
		if wait := expansionDue(pod, c, now).Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		patch, err := json.Marshal(expandedClaimStatus(c))
		if err != nil {
			return next, err
		}
		_, err = s.client.CoreV1().PersistentVolumeClaims(c.Namespace).Patch(ctx, c.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			continue // gone, or changed meanwhile: its next event brings the pod back
		}
		if err != nil {
			return next, fmt.Errorf("finish resize of claim %s/%s on node %s: %w", c.Namespace, c.Name, n.name, err)
		}
		if s.events != nil {
			s.events.pod(n.name, pod, []kubeletEvent{{reason: "FileSystemResizeSuccessful",
				message: fmt.Sprintf("MountVolume.NodeExpandVolume succeeded for volume %q %s", c.Spec.VolumeName, n.name)}})
		}
	}
	return next, nil
}

// nodeExpansionPending: the claim's volume has grown and its file system
// waits for a node.
func nodeExpansionPending(c *corev1.PersistentVolumeClaim) bool {
	if c.Status.AllocatedResourceStatuses[corev1.ResourceStorage] == corev1.PersistentVolumeClaimNodeResizePending {
		return true
	}
	for _, cond := range c.Status.Conditions {
		if cond.Type == corev1.PersistentVolumeClaimFileSystemResizePending && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// expandedClaimStatus is the merge patch a kubelet's node expansion
// leaves: the allocated size as capacity, FileSystemResizePending gone,
// no resize in progress. It carries the claim's UID and resourceVersion, so
// it lands only on the claim it was computed from.
func expandedClaimStatus(c *corev1.PersistentVolumeClaim) map[string]any {
	capacity := c.Spec.Resources.Requests[corev1.ResourceStorage]
	if a, ok := c.Status.AllocatedResources[corev1.ResourceStorage]; ok {
		capacity = a
	}
	conditions := []corev1.PersistentVolumeClaimCondition{}
	for _, cond := range c.Status.Conditions {
		if cond.Type != corev1.PersistentVolumeClaimFileSystemResizePending {
			conditions = append(conditions, cond)
		}
	}
	return map[string]any{
		"metadata": map[string]any{"uid": c.UID, "resourceVersion": c.ResourceVersion},
		"status": map[string]any{
			"capacity":                  map[string]any{string(corev1.ResourceStorage): capacity.String()},
			"conditions":                conditions,
			"allocatedResourceStatuses": map[string]any{string(corev1.ResourceStorage): nil},
		},
	}
}
