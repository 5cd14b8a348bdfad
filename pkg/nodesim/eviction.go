package nodesim

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/nodesim/kubeletapi"
)

// The kubelet's eviction manager. Every monitoring interval it looks at
// each node's signals, as the kubelet's defaults set them:
//
//   - memory.available<100Mi: the node's capacity less what its system and
//     running containers use by their memory models (kubeletapi.Models: the
//     numbers `kubectl top node` shows);
//   - imagefs.available<15% of its ephemeral-storage capacity, on the one
//     filesystem a simulated node has (the kubelet's nodefs.available<10%
//     on the same disk is never the first to fire): its system's share, the
//     images its runtime holds, and what running containers wrote by their
//     disk models (diskpressure.go).
//
// A signal below its threshold sets the node's MemoryPressure or
// DiskPressure condition (the node lifecycle controller then taints it
// NoSchedule, so nothing new lands there). Disk is first reclaimed at the
// node level, by deleting the images no container uses, as the kubelet
// does; if that is not enough, or for memory, one pod is evicted per
// interval, ranked as the kubelet ranks them, memory before disk. A
// condition clears once its signal has stayed above the threshold for the
// pressure transition period. Apart from pressure, a pod whose containers
// wrote more than their ephemeral-storage limits is evicted at once.
//
// PID pressure is not simulated: nothing models how many processes a
// container runs, and the kubelet sets no PID threshold by default.
const (
	evictionInterval         = 10 * time.Second // kubelet's housekeeping / eviction monitoring interval
	memoryEvictionThreshold  = 100 << 20        // --eviction-hard memory.available<100Mi
	pressureTransitionPeriod = 5 * time.Minute  // --eviction-pressure-transition-period
	evictedExitCode          = 137              // killed with no grace: SIGKILL
)

// resourceUse is one running pod's use of one resource (memory or local
// ephemeral storage) as the eviction manager sees it.
type resourceUse struct {
	pod      *corev1.Pod
	used     float64 // bytes, all containers
	request  float64 // bytes, all containers' requests
	priority int32
	// top is the container using the most beyond its request, which the
	// eviction message names (the kubelet names every container over its
	// request; one is what a reader needs).
	top                   string
	topUsed, topRequested float64
	// overLimit, for disk, is the eviction message of a pod whose
	// containers wrote past their ephemeral-storage limits ("" if none).
	overLimit string
}

// add counts container name using used of a resource it requests request.
func (u *resourceUse) add(name string, used, request float64) {
	u.used += used
	u.request += request
	if used-request > u.topUsed-u.topRequested || u.top == "" {
		u.top, u.topUsed, u.topRequested = name, used, request
	}
}

// rankForEviction orders pods as the kubelet's rankMemoryPressure and
// rankDiskPressureFunc do: pods using more than they request first, then
// lower priority first, then larger use beyond the request first. Pure.
func rankForEviction(pods []resourceUse) {
	slices.SortStableFunc(pods, func(a, b resourceUse) int {
		aOver, bOver := a.used > a.request, b.used > b.request
		switch {
		case aOver && !bOver:
			return -1
		case bOver && !aOver:
			return 1
		case a.priority != b.priority:
			if a.priority < b.priority {
				return -1
			}
			return 1
		}
		da, db := a.used-a.request, b.used-b.request
		switch {
		case da > db:
			return -1
		case da < db:
			return 1
		}
		return 0
	})
}

// pressureState is what the eviction manager keeps of one signal of one
// node.
type pressureState struct {
	pressure  bool      // the node reports the signal's condition
	lastUnder time.Time // last look that found the signal below its threshold
}

// pressureStep decides, at now, whether a node whose signal is below its
// threshold (or not) reports pressure and whether it should reclaim. Pure.
func pressureStep(st pressureState, below bool, now time.Time) (next pressureState, reclaim bool) {
	if below {
		return pressureState{pressure: true, lastUnder: now}, true
	}
	if st.pressure && now.Sub(st.lastUnder) >= pressureTransitionPeriod {
		st.pressure = false
	}
	return st, false
}

// lowMessage is the kubelet's message for evicting u when the node ran
// low on resource (its name as the message gives it), its figures
// printed by q.
func lowMessage(resource string, q func(float64) string, u resourceUse, threshold, available float64) string {
	msg := fmt.Sprintf("The node was low on resource: %s. Threshold quantity: %s, available: %s. ", resource, q(threshold), q(max(available, 0)))
	if u.top != "" && u.topUsed > u.topRequested {
		msg += fmt.Sprintf("Container %s was using %s, request is %s, has larger consumption of %s. ", u.top, q(u.topUsed), q(u.topRequested), resource)
	}
	return msg
}

// kib is bytes in whole KiB, as the kubelet's memory figures print
// (memory comes in pages); byteCount is bytes, as its filesystem figures do.
func kib(v float64) string {
	return resource.NewQuantity(int64(v)/1024*1024, resource.BinarySI).String()
}

func byteCount(v float64) string { return resource.NewQuantity(int64(v), resource.BinarySI).String() }

// evictions is the eviction manager's state: per node, and the pods
// chosen for eviction that a pod worker has yet to write (by UID).
type evictions struct {
	byNode  []nodePressure // by position in sim.nodes; owned by the manager's goroutine
	nextGC  time.Time      // the image garbage collector's next pass
	mu      sync.Mutex
	pending map[types.UID]string // pod → eviction message
}

// nodePressure is one node's signals.
type nodePressure struct {
	memory, disk pressureState
}

// evictionLoop looks at every node each interval until ctx ends.
func (s *sim) evictionLoop(ctx context.Context) {
	t := s.clock.NewTicker(evictionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			s.lookForPressure(ctx, s.clock.Now())
		}
	}
}

// lookForPressure is one monitoring pass over every node.
func (s *sim) lookForPressure(ctx context.Context, now time.Time) {
	memCapacity := s.cfg.Capacity.Memory().AsApproximateFloat64()
	diskCapacity := s.cfg.Capacity.StorageEphemeral().AsApproximateFloat64()
	gc := !now.Before(s.evict.nextGC)
	if gc {
		s.evict.nextGC = now.Add(imageGCPeriod)
	}
	logger := klog.FromContext(ctx)
	for i, n := range s.nodes {
		if n.failed.Load() {
			continue
		}
		u := s.usageOn(n, now)
		if s.evictOverLimit(ctx, n, u.disk) {
			continue // the kubelet acts on nothing else in a pass that evicted for limits
		}
		st := &s.evict.byNode[i]
		evicted := false
		if memCapacity > 0 {
			available := memCapacity - u.memoryTotal
			next, reclaim := pressureStep(st.memory, available < memoryEvictionThreshold, now)
			if next.pressure != st.memory.pressure {
				s.setPressure(n, &n.memory, memoryCondition, next.pressure, now)
			}
			st.memory = next
			if reclaim {
				evicted = s.evictOne(n, u.memory, func(p resourceUse) string {
					return lowMessage("memory", kib, p, memoryEvictionThreshold, available)
				})
				if evicted {
					logger.Info("Evicting a pod: the node is low on memory", "node", n.name, "available", int64(available))
					s.events.node(n.name, true, "EvictionThresholdMet", "Attempting to reclaim memory")
				}
			}
		}
		if diskCapacity > 0 {
			evicted = s.lookAtDisk(ctx, n, st, u, diskCapacity, gc, evicted, now)
		}
	}
}

// evictOne hands the first pod of pods, ranked, that is not already being
// evicted to the pod workers, with message msg gives it; false if none was.
func (s *sim) evictOne(n *simNode, pods []resourceUse, msg func(resourceUse) string) bool {
	rankForEviction(pods)
	for _, u := range pods {
		if s.markForEviction(u.pod, msg(u)) {
			return true // one pod per interval, as the kubelet does
		}
	}
	return false
}

// nodeUsage is what node n's running pods use at now: per pod, of memory
// and of local ephemeral storage, and the node's memory with its
// system's share.
type nodeUsage struct {
	memory, disk []resourceUse
	memoryTotal  float64
	diskPods     float64 // what the pods' containers wrote
}

// usageOn is node n's usage at now.
func (s *sim) usageOn(n *simNode, now time.Time) nodeUsage {
	out := nodeUsage{memoryTotal: float64(kubeletapi.SystemMemory)}
	for _, p := range (simNodes{s}).PodsOn(n.name) {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		prio := ptr.Deref(p.Spec.Priority, 0)
		mem, disk := resourceUse{pod: p, priority: prio}, resourceUse{pod: p, priority: prio}
		var wrote []float64 // per container, only for pods with storage limits
		if storageLimited(p) {
			wrote = make([]float64, len(p.Spec.Containers))
		}
		for i := range p.Spec.Containers {
			spec := &p.Spec.Containers[i]
			cs := containerStatus(p.Status.ContainerStatuses, spec.Name)
			if cs == nil || cs.State.Running == nil {
				continue
			}
			ran := now.Sub(cs.State.Running.StartedAt.Time)
			w := s.models.Disk(p, spec, ran)
			mem.add(spec.Name, s.models.Memory(p, spec, ran), requested(spec, corev1.ResourceMemory))
			disk.add(spec.Name, w, requested(spec, corev1.ResourceEphemeralStorage))
			if wrote != nil {
				wrote[i] = w
			}
		}
		if wrote != nil {
			disk.overLimit = overLimit(p, wrote)
		}
		out.memoryTotal += mem.used
		out.diskPods += disk.used
		out.memory, out.disk = append(out.memory, mem), append(out.disk, disk)
	}
	return out
}

// requested is what container spec requests of resource name (0: nothing).
func requested(spec *corev1.Container, name corev1.ResourceName) float64 {
	if q, ok := spec.Resources.Requests[name]; ok {
		return q.AsApproximateFloat64()
	}
	return 0
}

// markForEviction hands pod to the pod workers for eviction; false if it
// already was.
func (s *sim) markForEviction(p *corev1.Pod, msg string) bool {
	s.evict.mu.Lock()
	if _, ok := s.evict.pending[p.UID]; ok {
		s.evict.mu.Unlock()
		return false
	}
	if s.evict.pending == nil {
		s.evict.pending = map[types.UID]string{}
	}
	s.evict.pending[p.UID] = msg
	s.evict.mu.Unlock()
	if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
		s.queue.Add(key)
	}
	return true
}

// evictionOf is the message of pod's pending eviction, if one is.
func (s *sim) evictionOf(uid types.UID) (string, bool) {
	s.evict.mu.Lock()
	defer s.evict.mu.Unlock()
	msg, ok := s.evict.pending[uid]
	return msg, ok
}

func (s *sim) evicted(uid types.UID) {
	s.evict.mu.Lock()
	defer s.evict.mu.Unlock()
	delete(s.evict.pending, uid)
}

// evictedStatus is an evicted pod's final status as the kubelet writes it:
// Failed, reason Evicted, its containers killed, and the DisruptionTarget
// condition saying the kubelet ended it.
func evictedStatus(pod *corev1.Pod, msg string, now time.Time) *corev1.PodStatus {
	st := pod.Status.DeepCopy()
	t := metav1.NewTime(now)
	for i := range st.ContainerStatuses {
		terminate(&st.ContainerStatuses[i], evictedExitCode, t)
	}
	for i, c := range pod.Spec.InitContainers {
		if isSidecar(c) && i < len(st.InitContainerStatuses) {
			terminate(&st.InitContainerStatuses[i], evictedExitCode, t)
		}
	}
	st.Phase, st.Reason, st.Message = corev1.PodFailed, "Evicted", msg
	setCondition(st, corev1.DisruptionTarget, corev1.ConditionTrue, "TerminationByKubelet", t)
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.DisruptionTarget {
			st.Conditions[i].Message = msg
		}
	}
	setCondition(st, corev1.PodReadyToStartContainers, corev1.ConditionFalse, "", t)
	setCondition(st, corev1.ContainersReady, corev1.ConditionFalse, "PodFailed", t)
	setCondition(st, corev1.PodReady, corev1.ConditionFalse, "PodFailed", t)
	return st
}
