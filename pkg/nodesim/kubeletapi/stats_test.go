package kubeletapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	testingclock "k8s.io/utils/clock/testing"
)

// scrape parses /metrics/resource as metrics-server does.
func scrape(t *testing.T, s *Server, node string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, onNode(s, node), "/metrics/resource")
	if code != 200 {
		t.Fatalf("/metrics/resource: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v\n%s", err, body)
	}
	return fams
}

func TestResourceMetrics(t *testing.T) {
	clk := testingclock.NewFakeClock(t0.Add(100 * time.Second))
	pod := runningPod("web-1", "node-0", t0, 0)
	pod.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	s, _ := newTestServer(t, clk, pod, runningPod("elsewhere", "node-1", t0, 0))

	fams := scrape(t, s, "node-0")
	cpu := fams["container_cpu_usage_seconds_total"].Metric
	if len(cpu) != 1 || cpu[0].Label[1].GetValue() != "default" {
		t.Fatalf("want one container of node-0, got %v", cpu)
	}
	// 100s at 20%-60% of one core.
	if v := cpu[0].Counter.GetValue(); v < 20 || v > 60 {
		t.Errorf("CPU seconds after 100s: %g", v)
	}
	if v := fams["container_memory_working_set_bytes"].Metric[0].Gauge.GetValue(); v < 0.2*(1<<30) || v > 0.6*(1<<30) {
		t.Errorf("working set %g of a 1Gi request", v)
	}
	before := fams["node_cpu_usage_seconds_total"].Metric[0].Counter.GetValue()
	clk.Step(10 * time.Second)
	after := scrape(t, s, "node-0")["node_cpu_usage_seconds_total"].Metric[0].Counter.GetValue()
	if rate := (after - before) / 10; rate < systemCores+0.2 || rate > systemCores+0.6 {
		t.Errorf("node CPU rate %g cores, want the pod's share plus %g overhead", rate, systemCores)
	}

	code, body := get(t, onNode(s, "node-0"), "/stats/summary")
	var sum statsv1alpha1.Summary
	if err := json.Unmarshal([]byte(body), &sum); code != 200 || err != nil {
		t.Fatalf("/stats/summary: %d %v\n%s", code, err, body)
	}
	if sum.Node.NodeName != "node-0" || len(sum.Pods) != 1 || sum.Pods[0].PodRef.Name != "web-1" || *sum.Pods[0].CPU.UsageNanoCores < 2e8 {
		t.Fatalf("summary %+v", sum)
	}
	// The disk: 10Gi of system, 1Gi of images and what the container
	// wrote (20%-60% of the 10Mi default).
	fs, img, wrote := sum.Node.Fs, sum.Node.Runtime.ImageFs, sum.Pods[0].EphemeralStorage
	if *fs.CapacityBytes != 100<<30 || *img.UsedBytes != 1<<30 || *img.AvailableBytes != *fs.AvailableBytes ||
		*wrote.UsedBytes < 2<<20 || *wrote.UsedBytes > 6<<20 || *sum.Pods[0].Containers[0].Rootfs.UsedBytes != *wrote.UsedBytes ||
		*fs.UsedBytes != 11<<30+*wrote.UsedBytes || *fs.AvailableBytes != *fs.CapacityBytes-*fs.UsedBytes || *wrote.AvailableBytes != *fs.AvailableBytes {
		t.Fatalf("filesystems: node %d/%d used, %d available; images %d used, %d available; pod %d",
			*fs.UsedBytes, *fs.CapacityBytes, *fs.AvailableBytes, *img.UsedBytes, *img.AvailableBytes, *wrote.UsedBytes)
	}
}

// cpuOf is the CPU counter of pod's first container in a scrape, and its
// working set.
func cpuOf(t *testing.T, fams map[string]*dto.MetricFamily, pod string) (seconds, memory float64) {
	t.Helper()
	find := func(name string) *dto.Metric {
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.Label {
				if l.GetName() == "pod" && l.GetValue() == pod {
					return m
				}
			}
		}
		t.Fatalf("%s has no series for %s", name, pod)
		return nil
	}
	return find("container_cpu_usage_seconds_total").Counter.GetValue(), find("container_memory_working_set_bytes").Gauge.GetValue()
}

// TestUsageModels: an annotation sets the usage, a change shows in the
// next scrape's rate, and the counter never goes back.
func TestUsageModels(t *testing.T) {
	clk := testingclock.NewFakeClock(t0.Add(100 * time.Second))
	pod := runningPod("web-1", "node-0", t0, 0)
	pod.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	pod.Annotations = map[string]string{CPUUsageAnnotation: "250m", MemoryUsageAnnotation: "25%"}
	s, nodes := newTestServer(t, clk, pod)

	c1, mem := cpuOf(t, scrape(t, s, "node-0"), "web-1")
	if c1 != 25 || mem != 256<<20 {
		t.Fatalf("250m for 100s = %g CPU seconds (want 25), 25%% of 1Gi = %g bytes", c1, mem)
	}
	// The model changes: the next scrape's rate is the new one.
	pod.Annotations[CPUUsageAnnotation] = "75%"
	clk.Step(15 * time.Second)
	c2, _ := cpuOf(t, scrape(t, s, "node-0"), "web-1")
	if rate := (c2 - c1) / 15; rate != 1.5 {
		t.Errorf("rate after the change to 75%% of 2 cores: %g", rate)
	}
	// Down again: the counter slows, never goes back.
	pod.Annotations[CPUUsageAnnotation+".app"] = "sine 0 100m 1m" // the container's own key wins
	clk.Step(15 * time.Second)
	c3, _ := cpuOf(t, scrape(t, s, "node-0"), "web-1")
	if rate := (c3 - c2) / 15; c3 < c2 || rate > 0.1 {
		t.Errorf("after the change to a sine of at most 100m: %g -> %g (rate %g)", c2, c3, rate)
	}
	// A malformed model is ignored for that pod: the default share applies.
	pod.Annotations = map[string]string{CPUUsageAnnotation: "lots"}
	clk.Step(15 * time.Second)
	c4, _ := cpuOf(t, scrape(t, s, "node-0"), "web-1")
	if rate := (c4 - c3) / 15; rate < 0.4-1e-9 || rate > 1.2+1e-9 {
		t.Errorf("with a malformed model the rate is %g, want the default 20%%-60%% of 2 cores", rate)
	}
	// A restart is a new container: a new counter, from its own start.
	restarted := runningPod("web-1", "node-0", clk.Now().Add(-10*time.Second), 1)
	restarted.Annotations = map[string]string{CPUUsageAnnotation: "1"}
	nodes.pods["default/web-1"] = restarted
	if c5, _ := cpuOf(t, scrape(t, s, "node-0"), "web-1"); c5 != 10 {
		t.Errorf("the restarted container's counter: %g, want 10 (1 core for 10s)", c5)
	}
	// The cgroup holds memory at the limit.
	restarted.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
	restarted.Annotations[MemoryUsageAnnotation] = "1Gi"
	if _, mem := cpuOf(t, scrape(t, s, "node-0"), "web-1"); mem != 256<<20 {
		t.Errorf("working set %g over a 256Mi limit", mem)
	}
	if n := len(s.counters.nodes["node-0"].containers); n != 1 {
		t.Errorf("counters kept for %d containers of node-0, want only the running one", n)
	}
}
