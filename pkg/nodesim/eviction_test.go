package nodesim

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

func TestRankForEvictionAsTheKubelet(t *testing.T) {
	use := func(name string, used, request float64, priority int32) resourceUse {
		return resourceUse{pod: podOn(name, "n-0"), used: used, request: request, priority: priority}
	}
	pods := []resourceUse{
		use("within-low-priority", 50, 100, -10),
		use("over-by-little", 150, 100, 0),
		use("within", 90, 100, 0),
		use("over-by-much", 900, 100, 0),
		use("over-but-critical", 5000, 100, 2000000000),
		use("within-but-large", 99, 100, 0),
	}
	rankForEviction(pods)
	var got []string
	for _, p := range pods {
		got = append(got, p.pod.Name)
	}
	want := "over-by-much over-by-little over-but-critical within-low-priority within-but-large within"
	if strings.Join(got, " ") != want {
		t.Errorf("eviction order\n  %s\nwant\n  %s", strings.Join(got, " "), want)
	}
}

func TestPressureHoldsForTheTransitionPeriod(t *testing.T) {
	var st pressureState
	st, evict := pressureStep(st, false, t0)
	if st.pressure || evict {
		t.Fatal("pressure above the threshold")
	}
	st, evict = pressureStep(st, true, t0.Add(10*time.Second))
	if !st.pressure || !evict {
		t.Fatal("no pressure or eviction below the threshold")
	}
	st, evict = pressureStep(st, false, t0.Add(4*time.Minute))
	if !st.pressure || evict {
		t.Fatal("pressure must hold for 5 minutes after the last look under the threshold, without evicting")
	}
	if st, _ = pressureStep(st, false, t0.Add(5*time.Minute+10*time.Second)); st.pressure {
		t.Fatal("pressure still reported 5 minutes after the last look under the threshold")
	}
}

// A pod whose memory model grows past what a small node holds gets the
// node into MemoryPressure (reported in its status) and is evicted as a
// kubelet evicts it; the quiet pod beside it keeps running.
func TestMemoryPressureEvictsTheHungriestPod(t *testing.T) {
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("2Gi"), corev1.ResourcePods: resource.MustParse("10")}
	h := start(t, Config{Count: 1, NamePrefix: "n-", Capacity: capacity})
	withRequest := func(p *corev1.Pod) *corev1.Pod {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100Mi")}
		return p
	}
	hog := withRequest(podOn("hog", "n-0"))
	hog.Annotations = map[string]string{"nodes.myriad.dev/memory-usage": "ramp 100Mi 3Gi 10m"}
	quiet := withRequest(podOn("quiet", "n-0"))
	quiet.Spec.Priority = ptr.To[int32](-5) // lower priority, but within its request
	h.createPod(hog)
	h.createPod(quiet)
	h.waitPod("hog", "running", running)
	h.waitPod("quiet", "running", running)

	// 2Gi less 512Mi of system, 100Mi of threshold and ~50Mi for quiet:
	// the ramp (290Mi a minute) passes ~1.4Gi after about 5 minutes.
	h.stepUntil("hog evicted", 5*time.Second, 10*time.Minute, h.podIs("hog", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed }))
	p := h.pod("hog")
	if p.Status.Reason != "Evicted" || !strings.HasPrefix(p.Status.Message, "The node was low on resource: memory. Threshold quantity: 100Mi, available: ") ||
		!strings.Contains(p.Status.Message, "Ki. Container app was using ") || !strings.Contains(p.Status.Message, "Ki, request is 100Mi, has larger consumption of memory. ") || cond(p, corev1.DisruptionTarget) != corev1.ConditionTrue {
		t.Fatalf("evicted status: reason %q message %q conditions %+v", p.Status.Reason, p.Status.Message, p.Status.Conditions)
	}
	if cs := p.Status.ContainerStatuses[0]; cs.State.Terminated == nil || cs.State.Terminated.ExitCode != evictedExitCode {
		t.Errorf("evicted container: %+v", cs.State)
	}
	if q := h.pod("quiet"); q.Status.Phase != corev1.PodRunning {
		t.Errorf("quiet pod %s, want Running", q.Status.Phase)
	}
	h.step(11*time.Second, 500*time.Millisecond)
	if c := nodeCondition(h.node("n-0"), corev1.NodeMemoryPressure); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "KubeletHasInsufficientMemory" {
		t.Fatalf("node condition after the eviction: %+v", c)
	}
	// Five minutes after the last look under the threshold it clears.
	h.step(5*time.Minute+20*time.Second, 5*time.Second)
	if c := nodeCondition(h.node("n-0"), corev1.NodeMemoryPressure); c == nil || c.Status != corev1.ConditionFalse {
		t.Fatalf("node condition 5 minutes later: %+v", c)
	}
}

func nodeCondition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}
