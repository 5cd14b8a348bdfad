package nodesim

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

const byNodeIndex = "nodeName"

// podInformer is the one pod watch for the whole process: bound pods only,
// filtered to our nodes by a map lookup, managedFields dropped (a third of a
// pod's size, never read here).
func (s *sim) podInformer() cache.SharedIndexInformer {
	inf := coreinformers.NewFilteredPodInformer(s.client, metav1.NamespaceAll, 0,
		cache.Indexers{byNodeIndex: func(obj any) ([]string, error) {
			if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				return []string{p.Spec.NodeName}, nil
			}
			return nil, nil
		}},
		func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" })
	_ = inf.SetTransform(func(obj any) (any, error) {
		if m, ok := obj.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return obj, nil
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPod,
		UpdateFunc: func(_, obj any) { s.onPod(obj) },
		DeleteFunc: s.onPodDelete,
	})
	return inf
}

func (s *sim) onPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || s.byName[p.Spec.NodeName] == nil {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
		s.queue.Add(key)
	}
}

func (s *sim) onPodDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if n := s.byName[p.Spec.NodeName]; n != nil {
		n.ips.release(p.UID)
	}
}

// claimPodIPs rebuilds IP allocations from pods that already run on our
// nodes, so a restarted process never hands out an address twice.
func (s *sim) claimPodIPs() {
	for _, obj := range s.pods.GetStore().List() {
		p := obj.(*corev1.Pod)
		n := s.byName[p.Spec.NodeName]
		if n == nil || p.Spec.HostNetwork || isTerminal(p) || p.Status.PodIP == "" {
			continue
		}
		if ip, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			n.ips.claim(p.UID, ip)
		}
	}
}

func (s *sim) processPod(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	after, err := s.syncPod(ctx, key)
	switch {
	case err != nil:
		s.fail(err)
		klog.FromContext(ctx).V(2).Info("Pod sync failed, retrying", "pod", key, "err", err)
		s.queue.AddRateLimited(key)
	default:
		s.queue.Forget(key)
		if after > 0 {
			// Timers live in the workqueue's single delay heap, not in
			// sleeping goroutines.
			s.queue.AddAfter(key, after)
		}
	}
	return true
}

// syncPod moves one pod toward what a kubelet would report now. It works
// from the informer's copy without a GET: a stale copy fails with Conflict
// and is retried once the watch catches up. It returns when to look again.
func (s *sim) syncPod(ctx context.Context, key string) (time.Duration, error) {
	obj, exists, err := s.pods.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return 0, err
	}
	pod := obj.(*corev1.Pod)
	n := s.byName[pod.Spec.NodeName]
	if n == nil || n.failed.Load() {
		return 0, nil // not ours, or a failed node: its pods freeze
	}
	now := s.clock.Now()
	if pod.DeletionTimestamp != nil {
		return s.stopPod(ctx, n, pod, now)
	}
	if isTerminal(pod) {
		n.ips.release(pod.UID) // a kubelet frees the sandbox's IP once the pod ends
		return 0, nil
	}
	env := podEnv{now: now, hostIP: n.ip.String(), job: s.cfg.JobDuration, init: s.cfg.InitDuration}
	if pod.Spec.HostNetwork {
		env.podIP = env.hostIP
	} else if pod.Status.PodIP == "" {
		ip, err := n.ips.allocate(pod.UID)
		if err != nil {
			return 0, fmt.Errorf("pod %s on node %s: %w", key, n.name, err)
		}
		env.podIP = ip.String()
	}
	st, after, kind := env.advance(pod)
	// advance copies what it does not change, so plain reflect.DeepEqual is
	// exact here and ~5x cheaper than Semantic.DeepEqual; this check runs on
	// every pod event, ours included.
	if reflect.DeepEqual(&pod.Status, st) {
		return after, nil
	}
	if err := s.writeStatus(ctx, pod, st, kind); err != nil {
		if apierrors.IsNotFound(err) {
			n.ips.release(pod.UID)
			return 0, nil
		}
		return 0, err
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		n.ips.release(pod.UID)
	}
	return after, nil
}

func (s *sim) writeStatus(ctx context.Context, pod *corev1.Pod, st *corev1.PodStatus, kind string) error {
	upd := pod.DeepCopy()
	upd.Status = *st
	if _, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	s.metrics.podTransitions.WithLabelValues(string(st.Phase), kind).Inc()
	return nil
}

// stopPod honours a deletion: containers exit after
// min(grace period, StopDurationAnnotation), the final status is written,
// then the pod is deleted with grace 0 and a UID precondition, as the
// kubelet's status manager does.
func (s *sim) stopPod(ctx context.Context, n *simNode, pod *corev1.Pod, now time.Time) (time.Duration, error) {
	grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, 0)) * time.Second
	stop := annotationDuration(pod, StopDurationAnnotation, 0)
	requested := pod.DeletionTimestamp.Add(-grace)
	if at := requested.Add(min(grace, stop)); now.Before(at) && !isTerminal(pod) {
		return at.Sub(now), nil
	}
	if st := stoppedStatus(pod, now); st != nil {
		if err := s.writeStatus(ctx, pod, st, "stopped"); err != nil {
			if apierrors.IsNotFound(err) {
				n.ips.release(pod.UID)
				return 0, nil
			}
			return 0, err
		}
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return 0, fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	s.metrics.podTransitions.WithLabelValues(string(pod.Status.Phase), "deleted").Inc()
	n.ips.release(pod.UID)
	return 0, nil
}

func isTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func annotationDuration(p *corev1.Pod, key string, def time.Duration) time.Duration {
	if v, ok := p.Annotations[key]; ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			return d
		}
	}
	return def
}

func annotationExitCode(p *corev1.Pod) int32 {
	if v, ok := p.Annotations[ExitCodeAnnotation]; ok {
		if c, err := strconv.ParseInt(v, 10, 32); err == nil {
			return int32(c)
		}
	}
	return 0
}
