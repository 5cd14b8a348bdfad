package nodesim

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// A container whose memory model passes its limit is OOM-killed at that
// moment, restarted, and crash-loops as it keeps passing it.
func TestMemoryModelPastTheLimitIsOOMKilled(t *testing.T) {
	k := newKubelet(t, "", corev1.Container{Name: "app", Image: "app:1", Resources: corev1.ResourceRequirements{
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}})
	k.pod.Annotations = map[string]string{"nodes.myriad.dev/memory-usage": "ramp 512Mi 1536Mi 10m"}
	after := k.step()
	if k.container(0).State.Running == nil || after != 5*time.Minute+time.Millisecond {
		t.Fatalf("running %+v, next look in %s; want the limit reached in 5m", k.container(0).State, after)
	}
	k.wait(after)
	cs := k.container(0)
	last := cs.LastTerminationState.Terminated
	if last == nil || last.Reason != "OOMKilled" || last.ExitCode != 137 || cs.RestartCount != 1 || cs.State.Running == nil {
		t.Fatalf("at the limit: %+v; want OOMKilled (137) in lastState, restarted once", cs)
	}
	for _, e := range k.said() {
		if e == "Warning Unhealthy: Liveness probe failed: probe failed" {
			t.Errorf("an OOM kill reported as a probe failure")
		}
	}
	k.wait(5*time.Minute + time.Millisecond)
	if w := k.container(0).State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" {
		t.Fatalf("the second kill: %+v, want CrashLoopBackOff", k.container(0).State)
	}

	// Under the limit, or without a limit, nothing happens.
	for _, model := range []string{"ramp 512Mi 1Gi 10m", "900Mi"} {
		k := newKubelet(t, "", corev1.Container{Name: "app", Image: "app:1", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}})
		k.pod.Annotations = map[string]string{"nodes.myriad.dev/memory-usage.app": model}
		if after := k.step(); after != 0 {
			t.Errorf("%s under a 1Gi limit: next look in %s, want none", model, after)
		}
	}
	k = newKubelet(t, "", corev1.Container{Name: "app", Image: "app:1"})
	k.pod.Annotations = map[string]string{"nodes.myriad.dev/memory-usage": "64Gi"}
	if k.step(); k.container(0).State.Running == nil {
		t.Error("a container without a limit was killed")
	}
}
