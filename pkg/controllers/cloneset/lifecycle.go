package cloneset

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/controllers/lifecycle"
)

// revivable picks the pods to take back from PreparingDelete to
// PreparingNormal, as OpenKruise does when replicas rise while scaled-down
// pods are still held by the preDelete hook: as many as replicas lacks
// beside the pods that are neither being deleted nor marked for deletion.
// Pods marked for deletion (specified) are never taken back, nor are any
// when a hook marks pods NotReady (the pod may have left service for good).
func revivable(replicas int, pods []*corev1.Pod, lc *pub.Lifecycle, specified func(*corev1.Pod) bool) map[*corev1.Pod]bool {
	if lc == nil || lc.PreDelete == nil || lc.PreDelete.MarkPodNotReady || (lc.InPlaceUpdate != nil && lc.InPlaceUpdate.MarkPodNotReady) {
		return nil
	}
	var held []*corev1.Pod
	active := 0
	for _, p := range pods {
		switch {
		case p.DeletionTimestamp != nil:
		case lifecycle.State(p) == pub.LifecycleStatePreparingDelete:
			if !specified(p) && lifecycle.Hooked(lc.PreDelete, p) {
				held = append(held, p)
			}
		case !specified(p):
			active++
		}
	}
	out := map[*corev1.Pod]bool{}
	for _, p := range held[:min(len(held), max(0, replicas-active))] {
		out[p] = true
	}
	return out
}
