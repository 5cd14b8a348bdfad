package kubeletapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

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
	pods, _, nodeSeconds, memory := s.nodeUsage(node, now)
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
		nodeSeconds, ts)
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
// Summary API: CPU and memory, and the node's one filesystem (what its
// system, images and containers' writes take; also the image filesystem)
// with what each pod and container wrote.
func (s *Server) statsSummary(w http.ResponseWriter, r *http.Request) {
	node := nodeOf(r.Context())
	if node == "" {
		http.Error(w, "no simulated node has the address this request came to", http.StatusNotFound)
		return
	}
	now := s.cfg.Clock.Now()
	t := metav1.NewTime(now)
	pods, cores, nodeSeconds, memory := s.nodeUsage(node, now)
	cpu := func(cores, seconds float64) *statsv1alpha1.CPUStats {
		nc, ns := uint64(cores*1e9), uint64(seconds*1e9)
		return &statsv1alpha1.CPUStats{Time: t, UsageNanoCores: &nc, UsageCoreNanoSeconds: &ns}
	}
	mem := func(bytes float64) *statsv1alpha1.MemoryStats {
		b := uint64(bytes)
		return &statsv1alpha1.MemoryStats{Time: t, WorkingSetBytes: &b, UsageBytes: &b}
	}
	capacity, images := s.cfg.Nodes.Disk(node)
	fs := func(used float64) *statsv1alpha1.FsStats {
		c, u := uint64(capacity), uint64(used)
		a := c - min(u, c)
		if capacity <= 0 {
			return &statsv1alpha1.FsStats{Time: t, UsedBytes: &u}
		}
		return &statsv1alpha1.FsStats{Time: t, CapacityBytes: &c, UsedBytes: &u, AvailableBytes: &a}
	}
	sum := statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{
		NodeName: node, StartTime: metav1.NewTime(s.started),
		CPU: cpu(cores, nodeSeconds), Memory: mem(memory),
	}, Pods: []statsv1alpha1.PodStats{}}
	disk := systemDisk + images
	for _, p := range pods {
		ps := statsv1alpha1.PodStats{PodRef: statsv1alpha1.PodReference{Name: p.pod.Name, Namespace: p.pod.Namespace, UID: string(p.pod.UID)}}
		if p.pod.Status.StartTime != nil {
			ps.StartTime = *p.pod.Status.StartTime
		}
		var pc, cs, m, d float64
		for i, name := range p.containers {
			u := p.usage[i]
			c, _ := container(p.pod, name) // from the pod's spec: never nil
			wrote := s.counters.models.Disk(p.pod, c, now.Sub(u.start))
			ps.Containers = append(ps.Containers, statsv1alpha1.ContainerStats{Name: name, StartTime: metav1.NewTime(u.start),
				CPU: cpu(u.cores, u.cpuSeconds), Memory: mem(u.memory), Rootfs: fs(wrote)})
			pc, cs, m, d = pc+u.cores, cs+u.cpuSeconds, m+u.memory, d+wrote
		}
		ps.CPU, ps.Memory, ps.EphemeralStorage = cpu(pc, cs), mem(m), fs(d)
		disk += d
		sum.Pods = append(sum.Pods, ps)
	}
	sum.Node.Fs = fs(disk)
	sum.Node.Runtime = &statsv1alpha1.RuntimeStats{ImageFs: fs(images)}
	// One filesystem: what is left of it is left for the images and for
	// every pod and container, as the kubelet reports it.
	if a := sum.Node.Fs.AvailableBytes; a != nil {
		sum.Node.Runtime.ImageFs.AvailableBytes = a
		for i := range sum.Pods {
			sum.Pods[i].EphemeralStorage.AvailableBytes = a
			for j := range sum.Pods[i].Containers {
				sum.Pods[i].Containers[j].Rootfs.AvailableBytes = a
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sum)
}
