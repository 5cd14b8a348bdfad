package nodesim

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestWhoIgnoresSIGTERM(t *testing.T) {
	for _, tc := range []struct {
		cmd, args []string
		ignores   bool
	}{
		{nil, nil, false}, // the image's entrypoint
		{[]string{"/bin/sh", "-c", "sleep 10000000"}, nil, true},
		{[]string{"sleep"}, []string{"3600"}, true},
		{[]string{"sh", "-c"}, []string{"while true; do date; sleep 1; done"}, true},
		{[]string{"sh", "-c", "trap 'exit 0' TERM; sleep 100 & wait"}, nil, false},
		{[]string{"sh", "-c", "exec nginx -g 'daemon off;'"}, nil, false},
		{[]string{"bash", "-c", "exec sleep 100"}, nil, true},
		{[]string{"nginx"}, nil, false},
		{[]string{"/usr/local/bin/redis-server"}, nil, false},
		{[]string{"tail", "-f", "/dev/null"}, nil, true},
		{[]string{"sh", "-c", "exec tail -f /dev/null"}, nil, true},
	} {
		if got := ignoresSIGTERM(corev1.Container{Command: tc.cmd, Args: tc.args}); got != tc.ignores {
			t.Errorf("%q %q: ignores SIGTERM %v, want %v", tc.cmd, tc.args, got, tc.ignores)
		}
	}
}

func TestStopDuration(t *testing.T) {
	pod := podOn("p", "n-0", "app", "shell")
	pod.Spec.Containers[1].Command = []string{"/bin/sh", "-c", "sleep 10000000"}
	grace := 3 * time.Second
	if d := stopDuration(pod, grace); d != 0 {
		t.Errorf("not running yet: stop takes %s, want 0", d)
	}
	run := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: run}, {Name: "shell", State: run}}
	if d := stopDuration(pod, grace); d != grace {
		t.Errorf("a shell as PID 1: stop takes %s, want the grace period %s", d, grace)
	}
	pod.Annotations = map[string]string{StopDurationAnnotation: "1s"}
	if d := stopDuration(pod, grace); d != time.Second {
		t.Errorf("with the annotation: %s, want 1s", d)
	}
	pod.Annotations[StopDurationAnnotation] = "1m"
	if d := stopDuration(pod, grace); d != grace {
		t.Errorf("the grace period caps the annotation: %s", d)
	}
}

func TestInPlaceKillTakesTheGracePeriodWhenSIGTERMIsIgnored(t *testing.T) {
	pod := podOn("p", "n-0")
	tailing := corev1.Container{Name: "side", Command: []string{"tail", "-f", "/dev/null"}}
	if d := killDuration(pod, tailing); d != 30*time.Second {
		t.Errorf("tail as PID 1 with the default grace: %s, want 30s", d)
	}
	pod.Spec.TerminationGracePeriodSeconds = new(int64)
	if d := killDuration(pod, tailing); d != 0 {
		t.Errorf("grace 0: %s", d)
	}
	if d := killDuration(podOn("p", "n-0"), corev1.Container{Name: "app"}); d != 0 {
		t.Errorf("an image's entrypoint: %s, want at once", d)
	}
}
