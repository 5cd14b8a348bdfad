package kubeletapi

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/myriad-dev/myriad/pkg/nodesim/usage"
)

// The annotations that set a pod's usage model (package usage has the
// grammar). The plain key applies to every container of the pod; a key
// suffixed with ".CONTAINER" applies to that container and wins.
const (
	CPUUsageAnnotation    = "nodes.myriad.dev/cpu-usage"
	MemoryUsageAnnotation = "nodes.myriad.dev/memory-usage"
	// DiskUsageAnnotation is the local ephemeral storage a container
	// writes: its writable layer and its logs (bytes; percentages are of
	// its ephemeral-storage request, else its limit).
	DiskUsageAnnotation = "nodes.myriad.dev/disk-usage"
)

// Without an annotation a container uses a fixed share of what it
// requested, between 20% and 60%, chosen by a hash of the pod UID and the
// container name (stable for a pod, different across pods), so that
// `kubectl top` and autoscalers see plausible numbers out of the box. A
// container that requests nothing is measured against defaultCores and
// defaultMemory (also the base of its percentages), and its disk against
// defaultDisk. A node uses the sum of its containers plus a system
// overhead; its disk also holds the images its runtime keeps.
const (
	defaultCores  = 0.05
	defaultMemory = 64 << 20
	defaultDisk   = 10 << 20 // a container's logs and writable layer
	systemCores   = 0.1
	systemMemory  = 512 << 20
	systemDisk    = 10 << 30 // the OS, the kubelet's and the runtime's state
	// maxModels bounds the cache of parsed annotations; distinct models
	// are few (they come from templates), so a full cache is just reset.
	maxModels = 4096
)

type containerUsage struct {
	cores, memory float64
	cpuSeconds    float64 // since the container started
	start         time.Time
}

type podUsage struct {
	pod        *corev1.Pod
	containers []string
	usage      []containerUsage
}

// counters integrate CPU time across scrapes, as a real CPU counter
// grows: a node's, which only grows while pods come and go (a sum of its
// pods' counters would drop when a pod leaves), and each running
// container's, which grows at the rate its model gives at each scrape, so
// a changed model shows in the very next scrape's rate without the
// counter ever going back. The state is a few words per running
// container of a node that has been scraped, rebuilt at every scrape of
// the node (so a container that is gone is forgotten), and none for
// nodes nobody scrapes.
type counters struct {
	mu     sync.Mutex
	nodes  map[string]*nodeCounters
	models Models
}

type nodeCounters struct {
	node       counter
	containers map[containerKey]*counter
}

type counter struct {
	seconds float64
	at      time.Time
}

// containerKey names one run of a container: a restart starts a new
// counter, as the runtime's does.
type containerKey struct {
	uid   types.UID
	name  string
	start int64
}

// advance moves c to now at cores, having started at start.
func (c *counter) advance(cores float64, now time.Time) {
	if now.After(c.at) {
		c.seconds += cores * now.Sub(c.at).Seconds()
		c.at = now
	}
}

// nodeUsage is the usage of every running container on node at now, the
// node's total cores and memory, and its CPU counter.
func (s *Server) nodeUsage(node string, now time.Time) (pods []podUsage, cores, nodeSeconds, memory float64) {
	cores, memory = systemCores, systemMemory
	c := &s.counters
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes == nil {
		c.nodes = map[string]*nodeCounters{}
	}
	nc := c.nodes[node]
	if nc == nil {
		nc = &nodeCounters{}
		c.nodes[node] = nc
	}
	fresh := make(map[containerKey]*counter, len(nc.containers))
	for _, p := range s.cfg.Nodes.PodsOn(node) {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		pu := podUsage{pod: p}
		for i := range p.Spec.Containers {
			spec := &p.Spec.Containers[i]
			_, cs := container(p, spec.Name)
			if cs == nil || cs.State.Running == nil {
				continue
			}
			u := containerUsage{start: cs.State.Running.StartedAt.Time}
			cpuModel := c.models.For(p, spec, CPUUsageAnnotation)
			cpuBase := base(spec, corev1.ResourceCPU, defaultCores)
			ran := now.Sub(u.start)
			u.cores, u.memory = cpuModel.At(ran, cpuBase), c.models.Memory(p, spec, ran)
			key := containerKey{uid: p.UID, name: spec.Name, start: u.start.UnixNano()}
			ctr := nc.containers[key]
			if ctr == nil {
				ctr = &counter{seconds: meanOver(cpuModel, ran, cpuBase) * max(ran.Seconds(), 0), at: now}
			}
			ctr.advance(u.cores, now)
			fresh[key] = ctr
			u.cpuSeconds = ctr.seconds
			pu.containers, pu.usage = append(pu.containers, spec.Name), append(pu.usage, u)
			cores += u.cores
			memory += u.memory
		}
		if len(pu.usage) > 0 {
			pods = append(pods, pu)
		}
	}
	nc.containers = fresh
	if nc.node.at.IsZero() {
		nc.node = counter{seconds: cores * max(now.Sub(s.started).Seconds(), 0), at: now}
	}
	nc.node.advance(cores, now)
	return pods, cores, nc.node.seconds, memory
}

// base is what percentages of a container's resource are of: its request,
// else its limit, else the default.
func base(spec *corev1.Container, name corev1.ResourceName, def float64) float64 {
	for _, l := range []corev1.ResourceList{spec.Resources.Requests, spec.Resources.Limits} {
		if q, ok := l[name]; ok && !q.IsZero() {
			return q.AsApproximateFloat64()
		}
	}
	return def
}

// meanOver is the mean of m over the first ran of a container's life,
// sampled: the starting value of a counter first seen after the
// container has run a while.
func meanOver(m usage.Model, ran time.Duration, request float64) float64 {
	if ran <= 0 || m.Kind == usage.Constant {
		return m.At(ran, request)
	}
	const samples = 16
	var sum float64
	for i := range samples {
		sum += m.At(ran*time.Duration(2*i+1)/(2*samples), request)
	}
	return sum / samples
}
