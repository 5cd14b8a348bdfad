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
}
