package cloneset

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/controllers/lifecycle"
)

// Lifecycle hooks with markPodNotReady take a pod out of Service endpoints
// while they hold it (lifecycle.PodReadyCondition).

// syncPodReady writes the KruisePodReady condition a pod in state s should
// carry, with the cached resourceVersion as precondition, and returns the
// pod as written (or as given when nothing changed or the write conflicted:
// the next pass decides again).
func (ps *pass) syncPodReady(ctx context.Context, pod *corev1.Pod, s pub.LifecycleStateType) (*corev1.Pod, error) {
	c, changed := lifecycle.PodReadyCondition(pod, ps.cs.Spec.Lifecycle, s, ps.now)
	if !changed {
		return pod, nil
	}
	w, err := ps.r.kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, lifecycle.WithCondition(pod, c), metav1.UpdateOptions{})
	countOp("readiness", err)
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return pod, nil
		}
		return pod, fmt.Errorf("set pod %s %s %s: %w", pod.Name, c.Type, c.Status, err)
	}
	ps.r.exp.ExpectWrite(ps.key, pod.Name, w.ResourceVersion)
	return w, nil
}
