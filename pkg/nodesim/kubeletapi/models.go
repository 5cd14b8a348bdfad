package kubeletapi

import (
	"hash/fnv"
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

// For is container spec's model for the resource annotation key names:
// the container's own annotation, else the pod's, else the default share.
// A malformed annotation is logged once and the default used, so a typo
// never stops metrics for the rest of the node.
func (ms *Models) For(p *corev1.Pod, spec *corev1.Container, key string) usage.Model {
	if text, ok := usage.Select(p.Annotations, key, spec.Name); ok {
		ms.mu.Lock()
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
		ms.mu.Unlock()
		if pm.err == nil {
			return pm.m
		}
	}
	h := fnv.New64a()
	h.Write([]byte(string(p.UID) + "/" + spec.Name))
	share := 0.2 + 0.4*float64(h.Sum64()%1000)/1000
	return usage.Model{Kind: usage.Constant, A: usage.Amount{Value: share, OfRequest: true}}
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

// SystemMemory is what a simulated node's system uses besides its pods.
const SystemMemory = systemMemory
