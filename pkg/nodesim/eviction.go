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

// The kubelet's eviction manager, for memory. Every monitoring interval
// each node's memory.available is its capacity less what its system and
// running containers use by their usage models (kubeletapi.Models: the
// numbers `kubectl top node` shows). Below the kubelet's default hard
// threshold, memory.available<100Mi, the node reports MemoryPressure (the
// node lifecycle controller then taints it
// node.kubernetes.io/memory-pressure:NoSchedule, so nothing new lands
// there) and one pod is evicted per interval, ranked as the kubelet ranks
// them. The condition clears once the node has stayed above the threshold
// for the pressure transition period.
//
// Disk pressure is not simulated: nothing models what containers write.
const (
	evictionInterval         = 10 * time.Second // kubelet's housekeeping / eviction monitoring interval
	memoryEvictionThreshold  = 100 << 20        // --eviction-hard memory.available<100Mi
	pressureTransitionPeriod = 5 * time.Minute  // --eviction-pressure-transition-period
	evictedExitCode          = 137              // killed with no grace: SIGKILL
)

// memoryUse is one running pod's memory as the eviction manager sees it.
type memoryUse struct {
	pod      *corev1.Pod
	used     float64 // bytes, all containers
	request  float64 // bytes, all containers' requests
	priority int32
	// top is the container using the most beyond its request, which the
	// eviction message names (the kubelet names every container over its
	// request; one is what a reader needs).
	top                   string
	topUsed, topRequested float64
}

// rankForEviction orders pods as the kubelet's rankMemoryPressure does:
// pods using more than they request first, then lower priority first,
// then larger use beyond the request first. Pure.
func rankForEviction(pods []memoryUse) {
	slices.SortStableFunc(pods, func(a, b memoryUse) int {
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

// pressureState is what the eviction manager keeps of one node.
type pressureState struct {
	pressure  bool      // the node reports MemoryPressure
	lastUnder time.Time // last look that found memory.available below the threshold
}

// pressureStep decides, at now, whether a node whose memory.available is
// available reports MemoryPressure and whether it should evict. Pure.
func pressureStep(st pressureState, available float64, now time.Time) (next pressureState, evict bool) {
	if available < memoryEvictionThreshold {
		return pressureState{pressure: true, lastUnder: now}, true
	}
	if st.pressure && now.Sub(st.lastUnder) >= pressureTransitionPeriod {
		st.pressure = false
	}
	return st, false
}

// evictionMessage is the kubelet's message for evicting u for memory.
func evictionMessage(u memoryUse, available float64) string {
	// Whole KiB, as the kubelet's figures (memory comes in pages) print.
	q := func(v float64) string { return resource.NewQuantity(int64(v)/1024*1024, resource.BinarySI).String() }
	msg := fmt.Sprintf("The node was low on resource: memory. Threshold quantity: %s, available: %s. ", q(memoryEvictionThreshold), q(max(available, 0)))
	if u.top != "" && u.topUsed > u.topRequested {
		msg += fmt.Sprintf("Container %s was using %s, request is %s, has larger consumption of memory. ", u.top, q(u.topUsed), q(u.topRequested))
	}
	return msg
}

// evictions is the eviction manager's state: per node, and the pods
// chosen for eviction that a pod worker has yet to write (by UID).
type evictions struct {
	models  kubeletapi.Models
	byNode  []pressureState // by position in sim.nodes; owned by the manager's goroutine
	mu      sync.Mutex
	pending map[types.UID]string // pod → eviction message
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
	capacity := s.cfg.Capacity.Memory().AsApproximateFloat64()
	if capacity <= 0 {
		return // nodes without memory capacity have nothing to measure against
	}
	for i, n := range s.nodes {
		if n.failed.Load() {
			continue
		}
		pods, used := s.memoryOn(n, now)
		available := capacity - used
		st, evict := pressureStep(s.evict.byNode[i], available, now)
		if st.pressure != s.evict.byNode[i].pressure {
			s.setMemoryPressure(n, st.pressure, now)
		}
		s.evict.byNode[i] = st
		if !evict {
			continue
		}
		rankForEviction(pods)
		for _, u := range pods {
			if s.markForEviction(u.pod, evictionMessage(u, available)) {
				klog.FromContext(ctx).Info("Evicting a pod: the node is low on memory", "node", n.name, "pod", klog.KObj(u.pod), "available", int64(available))
				s.events.node(n.name, true, "EvictionThresholdMet", "Attempting to reclaim memory")
				break // one pod per interval, as the kubelet does
			}
		}
	}
}

// memoryOn is what node n's running pods use at now, and the node's total
// with its system's share.
func (s *sim) memoryOn(n *simNode, now time.Time) ([]memoryUse, float64) {
	total := float64(kubeletapi.SystemMemory)
	var out []memoryUse
	for _, p := range (simNodes{s}).PodsOn(n.name) {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		u := memoryUse{pod: p, priority: ptr.Deref(p.Spec.Priority, 0)}
		for i := range p.Spec.Containers {
			spec := &p.Spec.Containers[i]
			cs := containerStatus(p.Status.ContainerStatuses, spec.Name)
			if cs == nil || cs.State.Running == nil {
				continue
			}
			used := s.evict.models.Memory(p, spec, now.Sub(cs.State.Running.StartedAt.Time))
			var req float64
			if q, ok := spec.Resources.Requests[corev1.ResourceMemory]; ok {
				req = q.AsApproximateFloat64()
			}
			u.used += used
			u.request += req
			if used-req > u.topUsed-u.topRequested || u.top == "" {
				u.top, u.topUsed, u.topRequested = spec.Name, used, req
			}
		}
		total += u.used
		out = append(out, u)
	}
	return out, total
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

// setMemoryPressure changes the condition node n reports at its next
// heartbeat, with the kubelet's event.
func (s *sim) setMemoryPressure(n *simNode, pressure bool, now time.Time) {
	n.memoryPressureSince.Store(now.UnixNano())
	n.memoryPressure.Store(pressure)
	if pressure {
		s.events.node(n.name, false, "NodeHasInsufficientMemory", fmt.Sprintf("Node %s status is now: NodeHasInsufficientMemory", n.name))
	} else {
		s.events.node(n.name, false, "NodeHasSufficientMemory", fmt.Sprintf("Node %s status is now: NodeHasSufficientMemory", n.name))
	}
}

// memoryPressureCondition is node n's MemoryPressure condition at hb.
func memoryPressureCondition(n *simNode, hb metav1.Time) corev1.NodeCondition {
	c := corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse,
		Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available",
		LastHeartbeatTime: hb, LastTransitionTime: n.readySince}
	if n.memoryPressure.Load() {
		c.Status, c.Reason, c.Message = corev1.ConditionTrue, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"
	}
	if ns := n.memoryPressureSince.Load(); ns != 0 {
		c.LastTransitionTime = metav1.NewTime(time.Unix(0, ns))
	}
	return c
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
