package kubeletapi

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/myriad-dev/myriad/pkg/nodesim/usage"
)

// Models turns pods' usage annotations into models, caching the parsed
// ones, so that everything that reports or acts on a container's usage
// (the kubelet API's metrics, the simulator's eviction manager) sees the
// same numbers. The zero Models is ready to use and safe for concurrent
// use.
type Models struct {
	mu     sync.Mutex
	parsed map[string]parsedModel
}

type parsedModel struct {
	m   usage.Model
	err error
}

// Chosen is the model a pod's annotations set for container spec and the
// resource annotation key names (the container's own annotation, else the
// pod's); false if neither is set or the one that is, is malformed. A
// malformed annotation is logged the first time it is seen (the simulator
// also gives the pod an event naming it).
func (ms *Models) Chosen(p *corev1.Pod, spec *corev1.Container, key string) (usage.Model, bool) {
	text, ok := usage.Select(p.Annotations, key, spec.Name)
	if !ok {
		return usage.Model{}, false
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	pm, cached := ms.parsed[text]
	if !cached {
		pm.m, pm.err = usage.Parse(text)
		if pm.err != nil {
			klog.InfoS("Ignoring a malformed usage model; the default applies", "pod", klog.KObj(p), "annotation", key, "err", pm.err)
		}
		if ms.parsed == nil || len(ms.parsed) >= maxModels {
			ms.parsed = map[string]parsedModel{}
		}
		ms.parsed[text] = pm
	}
	return pm.m, pm.err == nil
}

// For is container spec's model for the resource annotation key names:
// the one its pod's annotations chose, else the default share. A
// malformed annotation gets the default, so a typo never stops metrics
// for the rest of the node.
func (ms *Models) For(p *corev1.Pod, spec *corev1.Container, key string) usage.Model {
	if m, ok := ms.Chosen(p, spec, key); ok {
		return m
	}
	share := 0.2 + 0.4*float64(fnv64a(string(p.UID), "/", spec.Name)%1000)/1000
	return usage.Model{Kind: usage.Constant, A: usage.Amount{Value: share, OfRequest: true}}
}

// fnv64a is FNV-1a of the parts' concatenation, as hash/fnv computes it,
// without the concatenation's allocation (it runs for every container of
// every node at every scrape and eviction look).
func fnv64a(parts ...string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, s := range parts {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
	}
	return h
}

// Memory is the bytes container spec of p uses after running for ran: its
// model, held at its memory limit as the cgroup holds it (past the limit
// the simulator's OOM killer ends the run).
func (ms *Models) Memory(p *corev1.Pod, spec *corev1.Container, ran time.Duration) float64 {
	m := ms.For(p, spec, MemoryUsageAnnotation).At(ran, base(spec, corev1.ResourceMemory, defaultMemory))
	if l, ok := spec.Resources.Limits[corev1.ResourceMemory]; ok && !l.IsZero() {
		m = min(m, l.AsApproximateFloat64())
	}
	return m
}

// Disk is the local ephemeral storage container spec of p has written
// after running for ran, by its model. Unlike memory nothing caps it:
// passing its ephemeral-storage limit is what gets the pod evicted.
func (ms *Models) Disk(p *corev1.Pod, spec *corev1.Container, ran time.Duration) float64 {
	return ms.For(p, spec, DiskUsageAnnotation).At(ran, base(spec, corev1.ResourceEphemeralStorage, defaultDisk))
}

// SystemMemory is what a simulated node's system uses besides its pods;
// SystemDisk what its system keeps on its root filesystem.
const (
	SystemMemory = systemMemory
	SystemDisk   = systemDisk
)
