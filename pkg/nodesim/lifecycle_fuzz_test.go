package nodesim

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Pods of the shapes the simulator sees, as the fuzzer's starting points.
var lifecycleSeeds = []string{
	`{"metadata":{"name":"web","uid":"u1"},"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}`,
	`{"metadata":{"name":"init","uid":"u2"},"spec":{"initContainers":[{"name":"setup","image":"busybox"},{"name":"proxy","image":"envoy","restartPolicy":"Always"}],
	  "containers":[{"name":"app","image":"app:1"},{"name":"side","image":"side:1"}]}}`,
	`{"metadata":{"name":"job","uid":"u3","annotations":{"nodes.myriad.dev/run-duration":"3s","nodes.myriad.dev/exit-code":"1"}},
	  "spec":{"restartPolicy":"OnFailure","containers":[{"name":"work","image":"job:1"}]}}`,
	`{"metadata":{"name":"probed","uid":"u4"},"spec":{"containers":[{"name":"app","image":"app:1",
	  "readinessProbe":{"httpGet":{"path":"/ready","port":8080},"periodSeconds":1,"failureThreshold":2,"successThreshold":2},
	  "livenessProbe":{"exec":{"command":["cat","/tmp/healthy"]},"periodSeconds":2,"failureThreshold":1},
	  "startupProbe":{"tcpSocket":{"port":8080},"periodSeconds":1}}]}}`,
	`{"metadata":{"name":"hungry","uid":"u5","annotations":{"nodes.myriad.dev/memory-usage":"ramp 100Mi 2Gi 1m","nodes.myriad.dev/disk-usage":"steps 0s=1Mi 10s=5Gi"}},
	  "spec":{"containers":[{"name":"app","image":"app:1","resources":{"limits":{"memory":"1Gi","ephemeral-storage":"1Gi"},"requests":{"memory":"512Mi"}}}]}}`,
	`{"metadata":{"name":"restarted","uid":"u6"},"spec":{"containers":[{"name":"app","image":"app:2"}]},
	  "status":{"phase":"Running","startTime":"2001-09-09T01:46:40Z","podIP":"10.0.0.9",
	  "containerStatuses":[{"name":"app","image":"app:1","imageID":"x","containerID":"containerd://abc","restartCount":2,"ready":true,
	  "state":{"running":{"startedAt":"2001-09-09T01:46:40Z"}}}]}}`,
	`{"metadata":{"name":"odd-status","uid":"u7"},"spec":{"initContainers":[{"name":"a","image":"a"},{"name":"b","image":"b"}],"containers":[{"name":"c","image":"c"}]},
	  "status":{"phase":"Pending","startTime":"2001-09-09T01:46:40Z","initContainerStatuses":[{"name":"a","state":{"running":{}}}]}}`,
}

// FuzzPodLifecycle drives arbitrary pods through the simulated kubelet
// (what syncPod does at each look: the sandbox, then advance, then the
// events), on the fast and the realistic profile. Whatever the pod's spec,
// annotations or status (another client may have written it), the
// simulator must not panic, must look again at a time that is not in the
// past, and, once it has written a status itself, must keep what a kubelet
// keeps: the start time and pod IP it gave, restart counts that never go
// down, and a phase that never goes back to Pending or out of Succeeded
// or Failed.
func FuzzPodLifecycle(f *testing.F) {
	for i, s := range lifecycleSeeds {
		f.Add(s, uint16(700), uint8(30), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, podJSON string, stepMs uint16, steps uint8, realistic bool) {
		var pod corev1.Pod
		if json.Unmarshal([]byte(podJSON), &pod) != nil || !admissible(&pod) {
			return
		}
		k := &kubelet{t: t, pod: &pod, env: podEnv{now: time.Unix(1e9, 0), hostIP: "172.16.0.1", podIP: "10.0.0.1", store: &imageStore{}}}
		if realistic {
			k.env.profile, _ = NamedProfile(ProfileRealistic)
		}
		var before *corev1.PodStatus
		for range min(steps, 60) {
			after := k.step()
			if after < 0 {
				t.Fatalf("looks again %s in the past", after)
			}
			st := &k.pod.Status
			if before != nil {
				kept(t, before, st)
			}
			if st.StartTime != nil { // a status the simulator wrote
				before = st.DeepCopy()
			}
			if isTerminal(k.pod) {
				return // the pod worker stops here
			}
			k.env.now = k.env.now.Add(max(after, time.Duration(stepMs)*time.Millisecond))
		}
	})
}

// admissible: pod is one the API server would accept, in what the
// simulator relies on (validation and defaulting): between one and a few
// containers, unique names, a known restart policy, probes with positive
// periods and thresholds. Status is left as it came.
func admissible(pod *corev1.Pod) bool {
	if n := len(pod.Spec.Containers) + len(pod.Spec.InitContainers); len(pod.Spec.Containers) == 0 || n > 8 {
		return false
	}
	switch pod.Spec.RestartPolicy {
	case "":
		pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
	default:
		return false
	}
	names := map[string]bool{}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			c := &list[i]
			if c.Name == "" || names[c.Name] {
				return false
			}
			names[c.Name] = true
			for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if p == nil {
					continue
				}
				if p.PeriodSeconds < 0 || p.FailureThreshold < 0 || p.SuccessThreshold < 0 || p.TimeoutSeconds < 0 || p.InitialDelaySeconds < 0 {
					return false
				}
				p.PeriodSeconds, p.FailureThreshold = max(p.PeriodSeconds, 10), max(p.FailureThreshold, 3)
				p.SuccessThreshold, p.TimeoutSeconds = max(p.SuccessThreshold, 1), max(p.TimeoutSeconds, 1)
			}
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.RestartPolicy != nil {
			return false // only init containers may have one (sidecars)
		}
	}
	return true
}

// kept checks what a kubelet never changes between two statuses it wrote.
func kept(t *testing.T, before, st *corev1.PodStatus) {
	t.Helper()
	if st.StartTime == nil || !st.StartTime.Equal(before.StartTime) {
		t.Fatalf("start time changed from %v to %v", before.StartTime, st.StartTime)
	}
	if before.PodIP != "" && st.PodIP != before.PodIP {
		t.Fatalf("pod IP changed from %q to %q", before.PodIP, st.PodIP)
	}
	switch {
	case before.Phase == corev1.PodSucceeded || before.Phase == corev1.PodFailed:
		if st.Phase != before.Phase {
			t.Fatalf("phase left %s for %s", before.Phase, st.Phase)
		}
	case before.Phase == corev1.PodRunning && st.Phase == corev1.PodPending:
		t.Fatalf("phase went back from Running to Pending")
	}
	for _, lists := range [][2][]corev1.ContainerStatus{{before.ContainerStatuses, st.ContainerStatuses}, {before.InitContainerStatuses, st.InitContainerStatuses}} {
		for _, old := range lists[0] {
			if cs := containerStatus(lists[1], old.Name); cs != nil && cs.RestartCount < old.RestartCount {
				t.Fatalf("container %s restart count went down from %d to %d", old.Name, old.RestartCount, cs.RestartCount)
			}
		}
	}
}
