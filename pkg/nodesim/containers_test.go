package nodesim

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCrashLoopDelay(t *testing.T) {
	for restarts, want := range map[int32]time.Duration{0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 6: 5 * time.Minute, 50: 5 * time.Minute} {
		if got := crashLoopDelay(restarts); got != want {
			t.Errorf("crashLoopDelay(%d) = %s, want %s", restarts, got, want)
		}
	}
}

// kubelet steps one pod through advance on a fake clock, as the simulator
// does: it applies each status and looks again when advance says to.
type kubelet struct {
	t      *testing.T
	env    podEnv
	pod    *corev1.Pod
	events []kubeletEvent // every event of every step, as "reason: message"
}

func newKubelet(t *testing.T, catalog string, containers ...corev1.Container) *kubelet {
	t.Helper()
	c, err := ParseImageCatalog([]byte(catalog))
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}}
	pod.Spec.Containers = containers
	return &kubelet{t: t, env: podEnv{now: time.Unix(1e9, 0), hostIP: "172.16.0.1", podIP: "10.0.0.1", images: c, store: &imageStore{}}, pod: pod}
}

// step applies one look at the pod, as syncPod takes it (the sandbox
// first, then advance), and returns when to look again.
func (k *kubelet) step() time.Duration {
	if st, left := k.env.creatingSandbox(k.pod); st != nil {
		k.events = append(k.events, podEvents(k.pod, &k.pod.Status, st, k.env.images, nil)...)
		k.pod.Status = *st
		return left
	}
	var pulls map[string]time.Duration
	k.env.pulls = &pulls
	st, after, _ := k.env.advance(k.pod)
	k.events = append(k.events, podEvents(k.pod, &k.pod.Status, st, k.env.images, pulls)...)
	k.pod.Status = *st
	return after
}

// wait moves the clock by d and steps.
func (k *kubelet) wait(d time.Duration) time.Duration {
	k.env.now = k.env.now.Add(d)
	return k.step()
}

func (k *kubelet) container(i int) corev1.ContainerStatus { return k.pod.Status.ContainerStatuses[i] }

func TestPullDurationHoldsTheContainer(t *testing.T) {
	k := newKubelet(t, "images:\n- name: app:1\n  pullDuration: 3s\n", corev1.Container{Name: "app", Image: "app:1"})
	after := k.step()
	if w := k.container(0).State.Waiting; w == nil || w.Reason != "ContainerCreating" || after != 3*time.Second || k.pod.Status.Phase != corev1.PodPending {
		t.Fatalf("while pulling: state %+v, phase %s, next look in %s; want ContainerCreating, Pending, 3s", k.container(0).State, k.pod.Status.Phase, after)
	}
	k.wait(3 * time.Second)
	if k.container(0).State.Running == nil || k.pod.Status.Phase != corev1.PodRunning || !k.container(0).Ready {
		t.Fatalf("after the pull: state %+v, phase %s", k.container(0).State, k.pod.Status.Phase)
	}
}

func TestPullErrorNeverRuns(t *testing.T) {
	k := newKubelet(t, "images:\n- name: app:1\n  pullError: manifest unknown\n", corev1.Container{Name: "app", Image: "app:1"})
	reason := func() string { return k.container(0).State.Waiting.Reason }
	if after := k.step(); after != time.Second || reason() != "ErrImagePull" {
		t.Errorf("a failed pull: %s, looks again in %s; want ErrImagePull for 1s", reason(), after)
	}
	// Then the kubelet's back-off: retries 10s, 20s, 40s... apart.
	for i, want := range []struct {
		reason string
		after  time.Duration
	}{{"ImagePullBackOff", 9 * time.Second}, {"ErrImagePull", time.Second}, {"ImagePullBackOff", 19 * time.Second}, {"ErrImagePull", time.Second}} {
		step := []time.Duration{time.Second, 9 * time.Second, time.Second, 19 * time.Second}[i]
		if after := k.wait(step); reason() != want.reason || after != want.after {
			t.Errorf("step %d: %s, next look in %s; want %s, %s", i, reason(), after, want.reason, want.after)
		}
	}
	k.wait(time.Hour)
	w := k.container(0).State.Waiting
	if w == nil || !strings.Contains(w.Message, "manifest unknown") || k.pod.Status.Phase != corev1.PodPending {
		t.Fatalf("state %+v, phase %s; want a pull error naming the error, Pending", k.container(0).State, k.pod.Status.Phase)
	}
}

func TestPullAttemptBacksOffToFiveMinutes(t *testing.T) {
	var attempts []time.Duration
	for s := time.Duration(0); s < 30*time.Minute; s += time.Second {
		if failed, _ := pullAttempt(t0nodesim, t0nodesim.Add(s)); failed && (len(attempts) == 0 || s-attempts[len(attempts)-1] > time.Second) {
			attempts = append(attempts, s)
		}
	}
	want := []time.Duration{0, 10 * time.Second, 30 * time.Second, 70 * time.Second, 150 * time.Second, 310 * time.Second, 610 * time.Second, 910 * time.Second}
	if len(attempts) < len(want) || !slices.Equal(attempts[:len(want)], want) {
		t.Errorf("pull attempts at %v, want %v then every 5m", attempts, want)
	}
}

var t0nodesim = time.Unix(1e9, 0)

// An in-place image change stops the container at once, pulls, then runs
// the new image as restart 1; the other container is left alone.
func TestInPlaceChangeWaitsForThePull(t *testing.T) {
	k := newKubelet(t, "images:\n- name: app:2\n  pullDuration: 2s\n",
		corev1.Container{Name: "app", Image: "app:1"}, corev1.Container{Name: "side", Image: "side:1"})
	k.step()
	side := k.container(1).ContainerID
	k.pod.Spec.Containers[0].Image = "app:2"
	after := k.wait(time.Minute)
	app := k.container(0)
	if app.State.Waiting == nil || app.LastTerminationState.Terminated == nil || app.LastTerminationState.Terminated.ExitCode != inPlaceKill || after != 2*time.Second {
		t.Fatalf("right after the change: %+v, next look in %s", app, after)
	}
	k.wait(2 * time.Second)
	app = k.container(0)
	if app.State.Running == nil || app.RestartCount != 1 || app.Image != "app:2" || k.container(1).ContainerID != side {
		t.Fatalf("after the pull: %+v (side %s, was %s)", app, k.container(1).ContainerID, side)
	}
}

// An image whose entrypoint exits crash-loops a container that sets no
// command: restarted at once the first time, then after 10s, 20s...; with
// a command it runs on.
func TestEntrypointExitCrashLoops(t *testing.T) {
	k := newKubelet(t, "images:\n- name: busybox:1\n  entrypoint: {exitsAfter: 1s, exitCode: 0}\n",
		corev1.Container{Name: "sh", Image: "busybox:1"}, corev1.Container{Name: "sleep", Image: "busybox:1", Command: []string{"sleep", "999"}})
	if after := k.step(); after != time.Second {
		t.Fatalf("next look in %s, want the 1s run", after)
	}
	k.wait(time.Second)
	if c := k.container(0); c.State.Running == nil || c.RestartCount != 1 {
		t.Fatalf("first exit: %+v; want restarted at once", c)
	}
	after := k.wait(time.Second)
	c := k.container(0)
	if c.State.Waiting == nil || c.State.Waiting.Reason != "CrashLoopBackOff" || after != 10*time.Second || c.LastTerminationState.Terminated == nil {
		t.Fatalf("second exit: %+v, next look in %s; want CrashLoopBackOff for 10s", c, after)
	}
	if k.pod.Status.Phase != corev1.PodRunning || cond(k.pod, corev1.PodReady) != corev1.ConditionFalse {
		t.Errorf("crash-looping pod: phase %s, Ready %s", k.pod.Status.Phase, cond(k.pod, corev1.PodReady))
	}
	k.wait(10 * time.Second)
	if c := k.container(0); c.State.Running == nil || c.RestartCount != 2 {
		t.Fatalf("after the back-off: %+v", c)
	}
	k.wait(time.Second)
	if after := k.wait(0); after != 20*time.Second {
		t.Errorf("third back-off %s, want 20s", after)
	}
	if c := k.container(1); c.State.Running == nil || c.RestartCount != 0 {
		t.Errorf("a container with a command must run on: %+v", c)
	}
}
