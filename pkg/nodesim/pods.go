package nodesim

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
		}, byClaimIndex: indexByClaim},
		func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" })
	_ = inf.SetTransform(func(obj any) (any, error) {
		if m, ok := obj.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return obj, nil
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: s.onPod,
		UpdateFunc: func(old, obj any) {
			s.onAnnotationsChanged(old, obj)
			s.onPod(obj)
		},
		DeleteFunc: s.onPodDelete,
	})
	return inf
}

// onAnnotationsChanged gives a started pod whose behaviour annotations
// changed one event per changed one that is malformed, as it got for
// those it started with: a model changed on a running pod is read at the
// next scrape, and a typo in it must show in `kubectl describe pod` too.
func (s *sim) onAnnotationsChanged(oldObj, obj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	p, ok2 := obj.(*corev1.Pod)
	if !ok1 || !ok2 || s.events == nil || p.Status.StartTime == nil || s.byName[p.Spec.NodeName] == nil {
		return
	}
	s.events.pod(p.Spec.NodeName, p, annotationEvents(p, old.Annotations))
}

func (s *sim) onPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || s.byName[p.Spec.NodeName] == nil {
		return
	}
	if p.Status.StartTime == nil && !scheduled(p) {
		// Bound at creation: its place in the kubelet's admission order.
		s.arrivals.LoadOrStore(p.UID, s.arrivalSeq.Add(1))
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
		s.written.Delete(p.UID)
		s.arrivals.Delete(p.UID)
		s.files.ForgetPod(p.UID)
		for _, cs := range p.Status.ContainerStatuses {
			s.restarts.forget(cs.ContainerID)
		}
		s.probes.forget(p)
		s.evicted(p.UID)
	}
}

// claimPodIPs rebuilds IP allocations from pods that already run on our
// nodes, so a restarted process never hands out an address twice, and
// each node's images from the containers that run there, so a restarted
// process does not pull them again.
func (s *sim) claimPodIPs() {
	for _, obj := range s.pods.GetStore().List() {
		p := obj.(*corev1.Pod)
		n := s.byName[p.Spec.NodeName]
		if n == nil || isTerminal(p) {
			continue
		}
		s.claimImages(n, p)
		if p.Spec.HostNetwork || p.Status.PodIP == "" {
			continue
		}
		if ip, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			n.ips.claim(p.UID, ip)
		}
	}
}

// claimImages records the images of pod's running containers as on node
// n, where pulling them costs anything (the store keeps no others).
func (s *sim) claimImages(n *simNode, p *corev1.Pod) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			continue
		}
		img := s.cfg.ImageCatalog.Lookup(cs.Image)
		if s.cfg.Profile.pullCost(img) <= 0 {
			continue
		}
		n.images.have(s.cfg.ImageCatalog.ImageID(cs.Image), s.cfg.ImageCatalog.StatusNames(cs.Image), s.cfg.Profile.sizeOf(img), cs.State.Running.StartedAt.Time)
	}
}

// creatingSandbox is pod's status while the runtime creates its sandbox,
// and how long that still takes; nil once the sandbox is ready. The pod
// shows what it shows while its volumes mount: Pending, no IP,
// PodReadyToStartContainers False, containers in ContainerCreating.
func (e podEnv) creatingSandbox(pod *corev1.Pod) (*corev1.PodStatus, time.Duration) {
	left := sandboxLeft(pod, e.now, e.profile.SandboxStart)
	if left <= 0 {
		return nil, 0
	}
	return e.waitingForVolumes(pod), left
}

// sandboxLeft is how long the runtime still needs to create pod's sandbox
// at now: sandbox after the pod started, 0 once its containers exist.
func sandboxLeft(pod *corev1.Pod, now time.Time, sandbox time.Duration) time.Duration {
	if sandbox <= 0 || containersCreated(&pod.Status) {
		return 0
	}
	if pod.Status.StartTime == nil {
		return sandbox
	}
	return max(pod.Status.StartTime.Add(sandbox).Sub(now), 0)
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
		// A pod's errors stay that pod's: a 403 from an admission policy
		// or a webhook on one pod is retried with that pod's backoff and
		// never stops the other pods or the nodes' heartbeats.
		if isFatal(err) {
			klog.FromContext(ctx).Error(err, "Pod status write refused, retrying with backoff", "pod", key)
		} else {
			klog.FromContext(ctx).V(2).Info("Pod sync failed, retrying", "pod", key, "err", err)
		}
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
// from the informer's copy without a GET, and never from a copy older than
// its own last write: the watch brings that write back and syncs the pod
// again. It returns when to look again.
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
	if s.stale(pod) {
		return 0, nil
	}
	now := s.clock.Now()
	if msg, ok := s.evictionOf(pod.UID); ok {
		if pod.DeletionTimestamp == nil && !isTerminal(pod) {
			return 0, s.evictPod(ctx, n, pod, msg, now)
		}
		s.evicted(pod.UID)
	}
	if pod.DeletionTimestamp != nil {
		return s.stopPod(ctx, n, pod, now)
	}
	if isTerminal(pod) {
		n.ips.release(pod.UID) // a kubelet frees the sandbox's IP once the pod ends
		return 0, nil
	}
	if pod.Status.StartTime == nil && !scheduled(pod) {
		if reason, msg := admit(pod, simNodes{s}.PodsOn(n.name), s.cfg.Capacity, admissionOrder{arrived: s.arrivedAt}); reason != "" {
			if err := s.writeStatus(ctx, pod, rejectedStatus(pod, reason, msg), kindRejected); err != nil {
				if apierrors.IsNotFound(err) {
					return 0, nil
				}
				return 0, err
			}
			s.events.pod(n.name, pod, []kubeletEvent{{warning: true, reason: reason, message: msg}})
			return 0, nil
		}
	}
	env := podEnv{now: now, hostIP: n.ip.String(), job: s.cfg.JobDuration, init: s.cfg.InitDuration, images: s.cfg.ImageCatalog, probes: s.probes,
		profile: s.cfg.Profile, store: &n.images, models: &s.models, relistPhase: relistPhase(n.name), restarts: &s.restarts}
	if !containersCreated(&pod.Status) {
		// The kubelet mounts volumes before it creates the sandbox: a pod
		// whose claim is not Bound waits here, without an IP, until the
		// claim's watch event brings it back.
		if blocked := s.unmountable(pod); len(blocked) > 0 {
			st := env.waitingForVolumes(pod)
			if reflect.DeepEqual(&pod.Status, st) {
				return 0, nil
			}
			klog.FromContext(ctx).V(2).Info("Waiting for volumes", "pod", key, "reason", "FailedMount", "message", failedMountMessage(pod, blocked))
			if err := s.writeStatus(ctx, pod, st, kindVolumes); err != nil && !apierrors.IsNotFound(err) {
				return 0, err
			}
			return 0, nil
		}
	}
	if st, left := env.creatingSandbox(pod); st != nil {
		if !reflect.DeepEqual(&pod.Status, st) {
			if err := s.writeStatus(ctx, pod, st, kindSandbox); err != nil {
				if apierrors.IsNotFound(err) {
					return 0, nil
				}
				return 0, err
			}
		}
		return left, nil
	}
	if containersCreated(&pod.Status) {
		next, err := s.expandVolumes(ctx, n, pod, now)
		if err != nil {
			return 0, err
		}
		if next > 0 {
			s.queue.AddAfter(key, next) // beside whatever the pod waits for below
		}
	}
	if pod.Spec.HostNetwork {
		env.podIP = env.hostIP
	} else if pod.Status.PodIP == "" {
		ip, err := n.ips.allocate(pod.UID)
		if err != nil {
			return 0, fmt.Errorf("pod %s on node %s: %w", key, n.name, err)
		}
		env.podIP = ip.String()
	}
	var pulls map[string]time.Duration
	if s.events != nil {
		env.pulls = &pulls
	}
	st, after, kind := env.advance(pod)
	annotations := runtimeMeta(pod, st)
	// advance copies what it does not change, so plain reflect.DeepEqual is
	// exact here and ~5x cheaper than Semantic.DeepEqual; this check runs on
	// every pod event, ours included.
	if annotations == nil && reflect.DeepEqual(&pod.Status, st) {
		return after, nil
	}
	if err := s.writePod(ctx, pod, st, annotations, kind); err != nil {
		if apierrors.IsNotFound(err) {
			n.ips.release(pod.UID)
			return 0, nil
		}
		return 0, err
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		n.ips.release(pod.UID)
	}
	if s.events != nil { // derived only when someone records them
		if pod.Status.StartTime == nil {
			s.events.pod(n.name, pod, annotationEvents(pod, nil)) // once, when the pod starts
		}
		s.events.pod(n.name, pod, podEvents(pod, &pod.Status, st, s.cfg.ImageCatalog, pulls))
	}
	s.forgetEndedRuns(pod, st)
	return after, nil
}

// forgetEndedRuns drops the files of container runs that st replaced: a
// restarted container starts from its image again.
// It runs after every status write, so it allocates nothing: a pod has a
// handful of containers, in the same order in both statuses.
func (s *sim) forgetEndedRuns(pod *corev1.Pod, st *corev1.PodStatus) {
	for i, cs := range pod.Status.ContainerStatuses {
		if cs.ContainerID == "" {
			continue
		}
		if i < len(st.ContainerStatuses) && st.ContainerStatuses[i].Name == cs.Name && st.ContainerStatuses[i].ContainerID == cs.ContainerID {
			continue
		}
		if slices.ContainsFunc(st.ContainerStatuses, func(n corev1.ContainerStatus) bool { return n.ContainerID == cs.ContainerID }) {
			continue
		}
		s.files.ForgetRun(pod.UID, cs.Name, cs.ContainerID)
		s.probes.forgetRun(cs.ContainerID)
	}
}

// writeStatus patches the pod's status from what the informer holds to st,
// as the kubelet does: no resourceVersion precondition, so another
// client's write to the same pod (a controller flipping a readiness gate)
// is merged rather than refused with a Conflict.
func (s *sim) writeStatus(ctx context.Context, pod *corev1.Pod, st *corev1.PodStatus, kind string) error {
	return s.writePod(ctx, pod, st, nil, kind)
}

// writePod is writeStatus that also sets annotations (podStatusPatch).
func (s *sim) writePod(ctx context.Context, pod *corev1.Pod, st *corev1.PodStatus, annotations map[string]string, kind string) error {
	patch, err := podStatusPatch(pod.UID, &pod.Status, st, annotations)
	if err != nil || patch == nil {
		return err
	}
	got, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if rv, ok := resourceVersionOf(got); ok {
		s.written.Store(pod.UID, rv)
	}
	s.metrics.podTransitions.WithLabelValues(string(st.Phase), kind).Inc()
	return nil
}

// evictPod writes the final status of a pod the eviction manager chose,
// with the kubelet's events.
func (s *sim) evictPod(ctx context.Context, n *simNode, pod *corev1.Pod, msg string, now time.Time) error {
	if err := s.writeStatus(ctx, pod, evictedStatus(pod, msg, now), "evicted"); err != nil {
		if apierrors.IsNotFound(err) {
			s.evicted(pod.UID)
			return nil
		}
		return err
	}
	s.evicted(pod.UID)
	n.ips.release(pod.UID)
	if s.events != nil {
		s.events.pod(n.name, pod, append([]kubeletEvent{{warning: true, reason: "Evicted", message: msg}}, stopEvents(pod)...))
	}
	return nil
}

// stale reports whether the informer's copy of pod predates this
// process's last status write to it. Acting on it would compute the same
// transition twice (new container IDs, a second restart).
func (s *sim) stale(pod *corev1.Pod) bool {
	w, ok := s.written.Load(pod.UID)
	if !ok {
		return false
	}
	rv, ok := resourceVersionOf(pod)
	return ok && rv < w.(uint64)
}

// stopPod honours a deletion: containers exit after stopDuration (at
// most the grace period), the final status is written, then the pod is
// deleted with grace 0 and a UID precondition, as the kubelet's status
// manager does.
func (s *sim) stopPod(ctx context.Context, n *simNode, pod *corev1.Pod, now time.Time) (time.Duration, error) {
	grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, 0)) * time.Second
	requested := pod.DeletionTimestamp.Add(-grace)
	if at := requested.Add(stopDuration(pod, grace)); now.Before(at) && !isTerminal(pod) {
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
		if s.events != nil {
			s.events.pod(n.name, pod, stopEvents(pod))
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

// arrivedAt is pod's place in the admission order (see admissionOrder).
func (s *sim) arrivedAt(p *corev1.Pod) (uint64, bool) {
	v, ok := s.arrivals.Load(p.UID)
	if !ok {
		return 0, false
	}
	return v.(uint64), true
}
