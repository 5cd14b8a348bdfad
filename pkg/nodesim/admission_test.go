package nodesim

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func admissionPod(name string, created int, cpu string, hostPort int32) *corev1.Pod {
	c := corev1.Container{Name: "app", Image: "nginx"}
	if cpu != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	if hostPort > 0 {
		c.Ports = []corev1.ContainerPort{{ContainerPort: hostPort, HostPort: hostPort}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name),
			CreationTimestamp: metav1.NewTime(time.Unix(int64(1e9+created), 0))},
		Spec: corev1.PodSpec{NodeName: "n-0", Containers: []corev1.Container{c}},
	}
}

func TestAdmissionRejectsWhatTheKubeletWould(t *testing.T) {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("3")}
	first := admissionPod("first", 0, "1500m", 21017)
	for _, tc := range []struct {
		name         string
		pod          *corev1.Pod
		others       []*corev1.Pod
		reason, text string
	}{
		{"fits", admissionPod("p", 1, "500m", 0), []*corev1.Pod{first}, "", ""},
		{"cpu", admissionPod("p", 1, "600m", 0), []*corev1.Pod{first}, "OutOfcpu", "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"},
		{"host port", admissionPod("p", 1, "", 21017), []*corev1.Pod{first}, "NodePorts", "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"},
		{"the older pod keeps its port", first, []*corev1.Pod{admissionPod("p", 1, "", 21017)}, "", ""},
		{"pods", admissionPod("p", 3, "", 0), []*corev1.Pod{admissionPod("a", 0, "", 0), admissionPod("b", 1, "", 0), admissionPod("c", 2, "", 0)}, "OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg := admit(tc.pod, tc.others, alloc, admissionOrder{})
			if reason != tc.reason || !strings.Contains(msg, tc.text) {
				t.Fatalf("admit = %q %q, want %q %q", reason, msg, tc.reason, tc.text)
			}
		})
	}
	ended := admissionPod("ended", 0, "1500m", 21017)
	ended.Status.Phase = corev1.PodSucceeded
	if reason, _ := admit(admissionPod("p", 1, "1", 21017), []*corev1.Pod{ended}, alloc, admissionOrder{}); reason != "" {
		t.Errorf("a pod that ended still holds its node's resources: %s", reason)
	}
	st := rejectedStatus(admissionPod("p", 1, "", 21017), "NodePorts", "Predicate NodePorts failed: x")
	if st.Phase != corev1.PodFailed || st.Reason != "NodePorts" || st.Message != "Pod was rejected: Predicate NodePorts failed: x" {
		t.Errorf("rejected status %+v", st)
	}
}

// Within one second of creation, the pod the kubelet heard of first is
// admitted first (OpenKruise's "Should recreate evicted statefulset":
// test-pod, then ss-0, both bound to one node with one host port).
func TestAdmissionOrderFollowsArrival(t *testing.T) {
	alloc := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}
	first, second := admissionPod("test-pod", 1, "1", 21017), admissionPod("ss-0", 1, "1", 21017)
	first.UID, second.UID = "u-test", "u-ss"
	seq := map[types.UID]uint64{"u-test": 1, "u-ss": 2}
	order := admissionOrder{arrived: func(p *corev1.Pod) (uint64, bool) { v, ok := seq[p.UID]; return v, ok }}
	if reason, _ := admit(second, []*corev1.Pod{first}, alloc, order); reason != "NodePorts" {
		t.Errorf("ss-0, second to arrive: %q, want NodePorts", reason)
	}
	if reason, _ := admit(first, []*corev1.Pod{second}, alloc, order); reason != "" {
		t.Errorf("test-pod, first to arrive: rejected for %q", reason)
	}
	// A started pod was admitted, whatever its name or arrival.
	now := metav1.Now()
	second.Status.StartTime = &now
	if reason, _ := admit(first, []*corev1.Pod{second}, alloc, admissionOrder{}); reason != "NodePorts" {
		t.Errorf("beside a started pod on the port: %q, want NodePorts", reason)
	}
}
