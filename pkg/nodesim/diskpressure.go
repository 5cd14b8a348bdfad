package nodesim

import (
	"context"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/myriad-dev/myriad/pkg/nodesim/kubeletapi"
)

// A simulated node's disk, as the kubelet's eviction manager and image
// garbage collector see it: one filesystem of the node's
// ephemeral-storage capacity, holding its system's share
// (kubeletapi.SystemDisk), the images every node reports, the images its
// runtime pulled (imageStore; none under the fast profile) and what its
// running containers wrote by their disk models
// (nodes.myriad.dev/disk-usage; see package usage).
const (
	// diskEvictionFraction is --eviction-hard imagefs.available<15%: on one
	// filesystem the first of the kubelet's default disk thresholds to
	// fire (nodefs.available<10% is the other).
	diskEvictionFraction = 0.15
	// The image garbage collector's policy, the kubelet's defaults: every
	// imageGCPeriod, when the disk is imageGCHigh full, delete unused
	// images until it is imageGCLow full; an image younger than
	// imageMinimumGCAge stays.
	imageGCPeriod     = 5 * time.Minute
	imageGCHigh       = 0.85
	imageGCLow        = 0.80
	imageMinimumGCAge = 2 * time.Minute
)

// diskUsed is what node n's disk holds at a look that found its pods
// had written podBytes.
func (s *sim) diskUsed(n *simNode, podBytes float64) float64 {
	return float64(kubeletapi.SystemDisk) + podBytes + s.imageBytes(n)
}

// imageBytes is what node n's images take: those every node reports and
// those its runtime pulled.
func (s *sim) imageBytes(n *simNode) float64 {
	return s.imagesBytes + n.images.bytes()
}

// lookAtDisk is one look at node n's disk (capacity bytes) for the
// eviction manager, which has evicted already if evicted: the periodic
// image garbage collection when gc, the DiskPressure condition, the
// node-level reclaim and, if that was not enough, one pod's eviction.
// It returns whether a pod was evicted in this pass.
func (s *sim) lookAtDisk(ctx context.Context, n *simNode, st *nodePressure, u nodeUsage, capacity float64, gc, evicted bool, now time.Time) bool {
	used := s.diskUsed(n, u.diskPods)
	if gc && used >= imageGCHigh*capacity && !n.images.empty() {
		freed := n.images.collect(s.imagesInUse(n), used-imageGCLow*capacity, imageMinimumGCAge, now)
		if freed < used-imageGCLow*capacity {
			s.events.node(n.name, true, "FreeDiskSpaceFailed", fmt.Sprintf(
				"Failed to garbage collect required amount of images. Attempted to free %d bytes, but only found %d bytes eligible to free.",
				int64(used-imageGCLow*capacity), int64(freed)))
		}
		used -= freed
	}
	threshold := diskEvictionFraction * capacity
	next, reclaim := pressureStep(st.disk, capacity-used < threshold, now)
	if next.pressure != st.disk.pressure {
		s.setPressure(n, &n.disk, diskCondition, next.pressure, now)
	}
	st.disk = next
	if !reclaim || evicted {
		return evicted
	}
	// Node-level reclaim first: every image no container uses.
	if !n.images.empty() {
		used -= n.images.collect(s.imagesInUse(n), math.Inf(1), imageMinimumGCAge, now)
		if capacity-used >= threshold {
			return false
		}
	}
	available := capacity - used
	if !s.evictOne(n, u.disk, func(p resourceUse) string { return lowMessage("ephemeral-storage", byteCount, p, threshold, available) }) {
		return false
	}
	klog.FromContext(ctx).Info("Evicting a pod: the node is low on disk", "node", n.name, "available", int64(available))
	s.events.node(n.name, true, "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage")
	return true
}

// imagesInUse says which images the containers of node n's pods that
// have not ended use, by image ID.
func (s *sim) imagesInUse(n *simNode) func(id string) bool {
	used := map[string]bool{}
	for _, p := range (simNodes{s}).PodsOn(n.name) {
		if isTerminal(p) {
			continue
		}
		for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for _, c := range list {
				used[s.cfg.ImageCatalog.ImageID(c.Image)] = true
			}
		}
	}
	return func(id string) bool { return used[id] }
}

// evictOverLimit evicts, at once, every pod of node n whose containers
// wrote more than their ephemeral-storage limits allow (usageOn found
// them), as the kubelet's local storage isolation does before it looks at
// any signal; true if it evicted one.
func (s *sim) evictOverLimit(ctx context.Context, n *simNode, pods []resourceUse) bool {
	evicted := false
	for _, u := range pods {
		if u.overLimit != "" && s.markForEviction(u.pod, u.overLimit) {
			klog.FromContext(ctx).Info("Evicting a pod: over its ephemeral-storage limit", "node", n.name, "pod", klog.KObj(u.pod))
			evicted = true
		}
	}
	return evicted
}

// storageLimited: a container of pod has an ephemeral-storage limit.
func storageLimited(pod *corev1.Pod) bool {
	for i := range pod.Spec.Containers {
		if _, ok := pod.Spec.Containers[i].Resources.Limits[corev1.ResourceEphemeralStorage]; ok {
			return true
		}
	}
	return false
}

// overLimit is the kubelet's eviction message for pod if its containers,
// which wrote wrote (by position in the spec), exceed the pod's
// ephemeral-storage limit (the sum of its containers') or one container's
// own; "" if not. Pure.
func overLimit(pod *corev1.Pod, wrote []float64) string {
	var total, limit float64
	limited := false
	var container string
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		w := wrote[i]
		total += w
		l, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]
		if !ok {
			continue
		}
		limited = true
		limit += l.AsApproximateFloat64()
		if w > l.AsApproximateFloat64() && container == "" {
			container = fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q. ", c.Name, l.String())
		}
	}
	switch {
	case limited && total > limit:
		return fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s. ", byteCount(limit))
	case container != "":
		return container
	}
	return ""
}
