package kubeletapi

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// The simplest usage model that lets `kubectl top` and an autoscaler see
// plausible numbers: every running container uses a fixed share of what it
// requested, between 20% and 60%, chosen by a hash of the pod UID and the
// container name (stable for a pod, different across pods); a container
// that requests nothing uses 50m CPU and 64Mi. A node uses the sum of its
// pods plus a system overhead. CPU time grows at that rate from the
// container's start, as a real counter would.
const (
	defaultCores  = 0.05
	defaultMemory = 64 << 20
	systemCores   = 0.1
	systemMemory  = 512 << 20
)

type usage struct {
	cores, memory float64
	cpuSeconds    float64 // since start
	start         time.Time
}

func containerUsage(pod *corev1.Pod, spec *corev1.Container, cs *corev1.ContainerStatus, now time.Time) (usage, bool) {
	if cs == nil || cs.State.Running == nil || spec == nil {
		return usage{}, false
	}
	h := fnv.New64a()
	h.Write([]byte(string(pod.UID) + "/" + spec.Name))
	share := 0.2 + 0.4*float64(h.Sum64()%1000)/1000
	u := usage{cores: defaultCores, memory: defaultMemory, start: cs.State.Running.StartedAt.Time}
	if q, ok := spec.Resources.Requests[corev1.ResourceCPU]; ok && !q.IsZero() {
		u.cores = share * q.AsApproximateFloat64()
	}
	if q, ok := spec.Resources.Requests[corev1.ResourceMemory]; ok && !q.IsZero() {
		u.memory = share * q.AsApproximateFloat64()
	}
	u.cpuSeconds = u.cores * max(now.Sub(u.start).Seconds(), 0)
	return u, true
}

// nodeCPU integrates a node's CPU time across scrapes, so the counter
// only grows while pods come and go (a sum of the pods' counters would
// drop when a pod leaves). A few words per scraped node, no goroutine.
type nodeCPU struct {
	mu    sync.Mutex
	nodes map[string]*nodeCounter
}

type nodeCounter struct {
	seconds, cores float64
	at             time.Time
}

func (n *nodeCPU) advance(node string, cores float64, now, boot time.Time) float64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nodes == nil {
		n.nodes = map[string]*nodeCounter{}
	}
	c := n.nodes[node]
	if c == nil {
		c = &nodeCounter{seconds: cores * max(now.Sub(boot).Seconds(), 0), at: now}
		n.nodes[node] = c
	}
	if now.After(c.at) {
		c.seconds += c.cores * now.Sub(c.at).Seconds()
		c.at = now
	}
	c.cores = cores
	return c.seconds
}

type podUsage struct {
	pod        *corev1.Pod
	containers []string
	usage      []usage
}

// nodeUsage is the usage of every running container on node at now.
func (s *Server) nodeUsage(node string, now time.Time) (pods []podUsage, cores, memory float64) {
	cores, memory = systemCores, systemMemory
	for _, p := range s.cfg.Nodes.PodsOn(node) {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		pu := podUsage{pod: p}
		for i := range p.Spec.Containers {
			spec := &p.Spec.Containers[i]
			_, cs := container(p, spec.Name)
			if u, ok := containerUsage(p, spec, cs, now); ok {
				pu.containers, pu.usage = append(pu.containers, spec.Name), append(pu.usage, u)
				cores += u.cores
				memory += u.memory
			}
		}
		if len(pu.usage) > 0 {
			pods = append(pods, pu)
		}
	}
	return pods, cores, memory
}

// metricsResource is GET /metrics/resource in the kubelet's format (what
// metrics-server scrapes). Written directly: the kubelet's resource
// metrics are a fixed handful of series, and a registry per scrape would
// cost more than the text.
func (s *Server) metricsResource(w http.ResponseWriter, r *http.Request) {
	node := nodeOf(r.Context())
	if node == "" {
		http.Error(w, "no simulated node has the address this request came to", http.StatusNotFound)
		return
	}
	now := s.cfg.Clock.Now()
	pods, cores, memory := s.nodeUsage(node, now)
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	var b strings.Builder
	b.WriteString("# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds\n# TYPE container_cpu_usage_seconds_total counter\n")
	for _, p := range pods {
		for i, c := range p.containers {
			fmt.Fprintf(&b, "container_cpu_usage_seconds_total{container=%q,namespace=%q,pod=%q} %g %s\n", c, p.pod.Namespace, p.pod.Name, p.usage[i].cpuSeconds, ts)
		}
	}
	b.WriteString("# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes\n# TYPE container_memory_working_set_bytes gauge\n")
	for _, p := range pods {
		for i, c := range p.containers {
			fmt.Fprintf(&b, "container_memory_working_set_bytes{container=%q,namespace=%q,pod=%q} %g %s\n", c, p.pod.Namespace, p.pod.Name, p.usage[i].memory, ts)
		}
	}
	b.WriteString("# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds\n# TYPE container_start_time_seconds gauge\n")
	for _, p := range pods {
		for i, c := range p.containers {
			fmt.Fprintf(&b, "container_start_time_seconds{container=%q,namespace=%q,pod=%q} %d %s\n", c, p.pod.Namespace, p.pod.Name, p.usage[i].start.Unix(), ts)
		}
	}
	fmt.Fprintf(&b, "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total %g %s\n",
		s.nodeCPU.advance(node, cores, now, s.started), ts)
	fmt.Fprintf(&b, "# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes\n# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes %g %s\n", memory, ts)
	b.WriteString("# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds\n# TYPE pod_cpu_usage_seconds_total counter\n")
	for _, p := range pods {
		var sum float64
		for _, u := range p.usage {
			sum += u.cpuSeconds
		}
		fmt.Fprintf(&b, "pod_cpu_usage_seconds_total{namespace=%q,pod=%q} %g %s\n", p.pod.Namespace, p.pod.Name, sum, ts)
	}
	b.WriteString("# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes\n# TYPE pod_memory_working_set_bytes gauge\n")
	for _, p := range pods {
		var sum float64
		for _, u := range p.usage {
			sum += u.memory
		}
		fmt.Fprintf(&b, "pod_memory_working_set_bytes{namespace=%q,pod=%q} %g %s\n", p.pod.Namespace, p.pod.Name, sum, ts)
	}
	b.WriteString("# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n")
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// statsSummary is GET /stats/summary: the same usage as the kubelet's
// Summary API (CPU and memory only).
func (s *Server) statsSummary(w http.ResponseWriter, r *http.Request) {
	node := nodeOf(r.Context())
	if node == "" {
		http.Error(w, "no simulated node has the address this request came to", http.StatusNotFound)
		return
	}
	now := s.cfg.Clock.Now()
	t := metav1.NewTime(now)
	pods, cores, memory := s.nodeUsage(node, now)
	cpu := func(cores, seconds float64) *statsv1alpha1.CPUStats {
		nc, ns := uint64(cores*1e9), uint64(seconds*1e9)
		return &statsv1alpha1.CPUStats{Time: t, UsageNanoCores: &nc, UsageCoreNanoSeconds: &ns}
	}
	mem := func(bytes float64) *statsv1alpha1.MemoryStats {
		b := uint64(bytes)
		return &statsv1alpha1.MemoryStats{Time: t, WorkingSetBytes: &b, UsageBytes: &b}
	}
	sum := statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{
		NodeName: node, StartTime: metav1.NewTime(s.started),
		CPU: cpu(cores, s.nodeCPU.advance(node, cores, now, s.started)), Memory: mem(memory),
	}, Pods: []statsv1alpha1.PodStats{}}
	for _, p := range pods {
		ps := statsv1alpha1.PodStats{PodRef: statsv1alpha1.PodReference{Name: p.pod.Name, Namespace: p.pod.Namespace, UID: string(p.pod.UID)}}
		if p.pod.Status.StartTime != nil {
			ps.StartTime = *p.pod.Status.StartTime
		}
		var c, cs, m float64
		for i, name := range p.containers {
			u := p.usage[i]
			ps.Containers = append(ps.Containers, statsv1alpha1.ContainerStats{Name: name, StartTime: metav1.NewTime(u.start),
				CPU: cpu(u.cores, u.cpuSeconds), Memory: mem(u.memory)})
			c, cs, m = c+u.cores, cs+u.cpuSeconds, m+u.memory
		}
		ps.CPU, ps.Memory = cpu(c, cs), mem(m)
		sum.Pods = append(sum.Pods, ps)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sum)
}
