package nodesim

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// said is the events since the last call, one "Type Reason: message" each.
func (k *kubelet) said() []string {
	var out []string
	for _, e := range k.events {
		typ := "Normal"
		if e.warning {
			typ = "Warning"
		}
		out = append(out, typ+" "+e.reason+": "+e.message)
	}
	k.events = nil
	return out
}

func wantEvents(t *testing.T, when string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: events\n  %s\nwant\n  %s", when, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestEventsOfAPullAndAStart(t *testing.T) {
	k := newKubelet(t, "images:\n- name: app:1\n  pullDuration: 3s\n", corev1.Container{Name: "app", Image: "app:1"})
	k.step()
	wantEvents(t, "pulling", k.said(), `Normal Pulling: Pulling image "app:1"`)
	k.wait(3 * time.Second)
	wantEvents(t, "started", k.said(), `Normal Pulled: Successfully pulled image "app:1" in 3s`, "Normal Created: Created container: app", "Normal Started: Started container app")
	k.wait(time.Minute)
	wantEvents(t, "running on", k.said())
	if len(podEvents(k.pod, &k.pod.Status, &k.pod.Status, k.env.images, nil)) != 0 {
		t.Error("an unchanged status has events")
	}

	// An image already on the node, and an in-place change to it.
	k.pod.Spec.Containers[0].Image = "app:2"
	k.step()
	wantEvents(t, "in-place change", k.said(), "Normal Killing: Container app definition changed, will be restarted",
		`Normal Pulled: Container image "app:2" already present on machine`, "Normal Created: Created container: app", "Normal Started: Started container app")
	if fp := podEvents(&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}, &corev1.PodStatus{},
		&corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "app:1", ContainerID: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}, nil, nil); fp[0].fieldPath != "spec.containers{app}" {
		t.Errorf("fieldPath %q", fp[0].fieldPath)
	}
}

func TestEventsOfAFailedPull(t *testing.T) {
	k := newKubelet(t, "images:\n- name: app:broken\n  pullError: manifest unknown\n", corev1.Container{Name: "app", Image: "app:broken"})
	k.step()
	wantEvents(t, "failed pull", k.said(), `Normal Pulling: Pulling image "app:broken"`, `Warning Failed: Failed to pull image "app:broken": manifest unknown`,
		"Warning Failed: Error: ErrImagePull")
	k.wait(time.Second)
	wantEvents(t, "backing off", k.said(), `Normal BackOff: Back-off pulling image "app:broken"`, "Warning Failed: Error: ImagePullBackOff")
	k.wait(9 * time.Second)
	wantEvents(t, "the next attempt", k.said(), `Normal Pulling: Pulling image "app:broken"`, `Warning Failed: Failed to pull image "app:broken": manifest unknown`,
		"Warning Failed: Error: ErrImagePull")
}

func TestEventsOfACrashLoop(t *testing.T) {
	k := newKubelet(t, "images:\n- name: busybox:1.36\n  entrypoint: {exitsAfter: 1s, exitCode: 1}\n", corev1.Container{Name: "app", Image: "busybox:1.36"})
	k.step()
	k.said()
	k.wait(time.Second) // exits, restarted at once the first time
	wantEvents(t, "first exit", k.said(), `Normal Pulled: Container image "busybox:1.36" already present on machine`, "Normal Created: Created container: app", "Normal Started: Started container app")
	k.wait(time.Second) // exits again: back-off
	wantEvents(t, "second exit", k.said(), "Warning BackOff: Back-off restarting failed container app in pod p_ns(u)")
}

func TestEventsOfProbes(t *testing.T) {
	k, files := probed(t, "", corev1.Container{Name: "app", Image: "busybox:1.36",
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "test ! -f /unready"}}}, PeriodSeconds: 1},
		LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "test ! -f /dead"}}}, PeriodSeconds: 1, FailureThreshold: 1}})
	k.step()
	k.said()
	exec(t, k, files, "touch /unready")
	k.wait(time.Second)
	wantEvents(t, "readiness fails", k.said(), "Warning Unhealthy: Readiness probe failed: command failed with a non-zero exit code")
	exec(t, k, files, "touch /dead")
	k.wait(time.Second)
	got := k.said()
	if len(got) < 2 || got[0] != "Warning Unhealthy: Liveness probe failed: command failed with a non-zero exit code" ||
		got[1] != "Normal Killing: Container app failed liveness probe, will be restarted" {
		t.Errorf("liveness restart: events\n  %s", strings.Join(got, "\n  "))
	}
}

func TestStopEvents(t *testing.T) {
	pod := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
		{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "done", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
	}}}
	evs := stopEvents(pod)
	if len(evs) != 1 || evs[0].reason != "Killing" || evs[0].message != "Stopping container app" || evs[0].fieldPath != "spec.containers{app}" {
		t.Errorf("stop events %+v", evs)
	}
}

// The simulator sends events as each node's kubelet.
func TestEventsReachTheAPI(t *testing.T) {
	h := start(t, Config{Count: 1, Events: true})
	h.createPod(podOn("web", "myriad-node-0", "app"))
	h.waitPod("web", "running", running)
	h.eventually("Started event", func() bool {
		evs, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, e := range evs.Items {
			if e.Reason == "Started" && e.Source.Component == "kubelet" && e.Source.Host == "myriad-node-0" &&
				e.InvolvedObject.Name == "web" && e.InvolvedObject.FieldPath == "spec.containers{app}" {
				return true
			}
		}
		return false
	})
}

func TestAnnotationEventsNameTheAnnotation(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		RunDurationAnnotation:                        "soon",
		ExitCodeAnnotation:                           "1",
		"nodes.myriad.dev/cpu-usage":                 "lots",
		"nodes.myriad.dev/memory-usage.app":          "ramp 1Mi 2Mi",
		"nodes.myriad.dev/log-interval":              "1ms",
		"example.com/unrelated":                      "soon",
		"nodes.myriad.dev/cpu-usage-but-not-a-model": "x",
		StopDurationAnnotation:                       "5s",
	}}}
	var got []string
	for _, e := range annotationEvents(pod, nil) {
		if !e.warning || e.reason != "InvalidSimulationAnnotation" {
			t.Errorf("event %+v", e)
		}
		got = append(got, e.message)
	}
	wantEvents(t, "bad annotations", got,
		`annotation nodes.myriad.dev/cpu-usage ignored, the default applies: "lots" is not an amount, like 250m (cores), 256Mi (bytes) or 40% (of the request)`,
		`annotation nodes.myriad.dev/log-interval ignored, the default applies: "1ms" is not a duration of at least 10ms`,
		`annotation nodes.myriad.dev/memory-usage.app ignored, the default applies: ramp takes three words (ramp LOW HIGH DURATION), got 2`,
		`annotation nodes.myriad.dev/run-duration ignored, the default applies: "soon" is not a duration like 30s`)

	// Changed on the running pod: only what changed is reported again.
	seen := maps.Clone(pod.Annotations)
	pod.Annotations["nodes.myriad.dev/cpu-usage"] = "sine 1 2"
	pod.Annotations[StopDurationAnnotation] = "later"
	got = nil
	for _, e := range annotationEvents(pod, seen) {
		got = append(got, e.message)
	}
	wantEvents(t, "changed annotations", got,
		`annotation nodes.myriad.dev/cpu-usage ignored, the default applies: sine takes three words (sine LOW HIGH DURATION), got 2`,
		`annotation nodes.myriad.dev/stop-duration ignored, the default applies: "later" is not a duration like 30s`)
	if evs := annotationEvents(pod, pod.Annotations); len(evs) != 0 {
		t.Errorf("unchanged annotations gave events: %+v", evs)
	}
}
