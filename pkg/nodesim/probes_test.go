package nodesim

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/nodesim/sandbox"
)

const nginxCatalog = `images:
- name: nginx:alpine
  files:
    /usr/share/nginx/html/index.html: "<h1>hello</h1>"
  http:
    port: 80
    root: /usr/share/nginx/html
`

// probed is a kubelet whose probes run in sandboxes of files.
func probed(t *testing.T, catalog string, c corev1.Container) (*kubelet, *sandbox.Files) {
	t.Helper()
	k := newKubelet(t, catalog, c)
	files := sandbox.NewFiles(0, 0, nil)
	k.env.probes = newProbes(files, k.env.images, clocktesting.NewFakeClock(k.env.now))
	return k, files
}

// exec runs a command in the pod's container as kubectl exec would.
func exec(t *testing.T, k *kubelet, files *sandbox.Files, script string) {
	t.Helper()
	cs := k.container(0)
	box := files.ForPod(k.pod, cs.Name, cs.ContainerID, k.env.images.Lookup(cs.Image).Files, nil)
	if code := sandbox.Run(context.Background(), box, []string{"sh", "-c", script}, nil, nil, nil); code != 0 {
		t.Fatalf("%q exited %d", script, code)
	}
}

func TestExecReadinessProbeFollowsTheContainersFiles(t *testing.T) {
	k, files := probed(t, "", corev1.Container{Name: "app", Image: "busybox",
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/ready"}}},
			InitialDelaySeconds: 5, PeriodSeconds: 1}})
	after := k.step()
	if k.container(0).Ready || after != 5*time.Second {
		t.Fatalf("before the initial delay: ready %t, next look in %s; want not ready, 5s", k.container(0).Ready, after)
	}
	if k.wait(5 * time.Second); k.container(0).Ready || k.pod.Status.Phase != corev1.PodRunning {
		t.Fatalf("without /tmp/ready: ready %t phase %s; want Running, not ready", k.container(0).Ready, k.pod.Status.Phase)
	}
	exec(t, k, files, "touch /tmp/ready")
	if k.wait(time.Second); !k.container(0).Ready || !conditionTrue(&k.pod.Status, corev1.PodReady) {
		t.Fatal("after touch /tmp/ready the container is not ready")
	}
	exec(t, k, files, "rm /tmp/ready")
	if k.wait(time.Second); k.container(0).Ready {
		t.Fatal("after rm /tmp/ready the container is still ready")
	}
}

// Readiness changes at the threshold's probe, as the kubelet's: a Ready
// container whose probe starts failing stays Ready for failureThreshold-1
// more periods, and turns Ready again at its successThreshold-th success.
func TestReadinessFollowsTheThresholds(t *testing.T) {
	k, files := probed(t, "", corev1.Container{Name: "app", Image: "busybox",
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/ready"}}},
			PeriodSeconds: 10, FailureThreshold: 3, SuccessThreshold: 2}})
	k.step()
	exec(t, k, files, "touch /tmp/ready")
	if after := k.wait(10 * time.Second); k.container(0).Ready || after != 10*time.Second {
		t.Fatalf("after one success of two: ready %t, next look in %s; want not ready, 10s", k.container(0).Ready, after)
	}
	if k.wait(10 * time.Second); !k.container(0).Ready {
		t.Fatal("after two successes the container is not ready")
	}
	exec(t, k, files, "rm /tmp/ready")
	if after := k.wait(10 * time.Second); !k.container(0).Ready || after != 20*time.Second {
		t.Fatalf("after one failure of three: ready %t, next look in %s; want ready, 20s", k.container(0).Ready, after)
	}
	// A success in between starts the count again.
	exec(t, k, files, "touch /tmp/ready")
	k.wait(10 * time.Second)
	exec(t, k, files, "rm /tmp/ready")
	k.wait(10 * time.Second)
	if k.wait(10 * time.Second); !k.container(0).Ready {
		t.Fatal("two failures in a row after a success made the container un-ready")
	}
	if k.wait(10 * time.Second); k.container(0).Ready {
		t.Fatal("three failures in a row left the container ready")
	}
	if got := k.said(); len(got) == 0 || got[len(got)-1] != "Warning Unhealthy: Readiness probe failed: command failed with a non-zero exit code" {
		t.Errorf("events: %v", got)
	}
}

func TestHTTPProbeAsksTheImagesServer(t *testing.T) {
	probe := func(port int32, path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(port)}}, PeriodSeconds: 1}
	}
	k, files := probed(t, nginxCatalog, corev1.Container{Name: "nginx", Image: "nginx:alpine", ReadinessProbe: probe(80, "/index.html")})
	if k.step(); !k.container(0).Ready {
		t.Fatal("nginx serving /index.html is not ready")
	}
	exec(t, k, files, "mv -v /usr/share/nginx/html/index.html /tmp/ || true") // upstream's BreakHTTPProbe
	if k.wait(time.Second); k.container(0).Ready {
		t.Fatal("ready with index.html moved away")
	}
	exec(t, k, files, "mv -v /tmp/index.html /usr/share/nginx/html/ || true")
	if k.wait(time.Second); !k.container(0).Ready {
		t.Fatal("not ready with index.html back")
	}

	k, _ = probed(t, nginxCatalog, corev1.Container{Name: "nginx", Image: "nginx:alpine", ReadinessProbe: probe(8080, "/")})
	if k.step(); k.container(0).Ready {
		t.Fatal("ready although nothing listens on 8080")
	}
	k, _ = probed(t, "", corev1.Container{Name: "app", Image: "app:1", ReadinessProbe: probe(8080, "/healthz")})
	if k.step(); !k.container(0).Ready {
		t.Fatal("an image the catalogue says nothing of fails its HTTP probe")
	}
}

func TestFailingLivenessProbeRestartsTheContainer(t *testing.T) {
	k, files := probed(t, "", corev1.Container{Name: "app", Image: "busybox",
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
			PeriodSeconds: 5, FailureThreshold: 3}})
	after := k.step()
	first := k.container(0).ContainerID
	if after != 10*time.Second {
		t.Fatalf("a failing liveness probe: next look in %s, want the 3rd failure 10s on", after)
	}
	k.wait(10 * time.Second)
	cs := k.container(0)
	if cs.RestartCount != 1 || cs.ContainerID == first || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != livenessKill {
		t.Fatalf("after 3 failures: %+v; want a restart with lastState exit 137", cs)
	}
	// The new run starts from its image: no /tmp/healthy. Its status
	// write brings the pod back at once, which probes the new run...
	if after := k.step(); after != 10*time.Second {
		t.Fatalf("the new run: next look in %s, want 10s", after)
	}
	// ...which fails again, and this restart waits for CrashLoopBackOff.
	k.wait(10 * time.Second)
	if w := k.container(0).State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" {
		t.Fatalf("second failure: %+v, want CrashLoopBackOff", k.container(0).State)
	}
	k.wait(10 * time.Second)
	if k.container(0).State.Running == nil || k.container(0).RestartCount != 2 {
		t.Fatalf("after the back-off: %+v", k.container(0))
	}
	exec(t, k, files, "touch /tmp/healthy")
	if after := k.wait(5 * time.Second); k.container(0).State.Running == nil || after != 0 {
		t.Fatalf("healthy: %+v, next look in %s; want running with nothing pending", k.container(0).State, after)
	}
}

func TestStartupProbeHoldsStartedAndReady(t *testing.T) {
	k, files := probed(t, "", corev1.Container{Name: "app", Image: "busybox",
		StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/up"}}}, PeriodSeconds: 1}})
	k.step()
	if cs := k.container(0); *cs.Started || cs.Ready {
		t.Fatalf("before the startup probe succeeds: started %t ready %t", *cs.Started, cs.Ready)
	}
	exec(t, k, files, "touch /tmp/up")
	k.wait(time.Second)
	exec(t, k, files, "rm /tmp/up") // the kubelet stops probing a started container
	if k.wait(time.Second); !*k.container(0).Started || !k.container(0).Ready {
		t.Fatal("a started container went back to not started")
	}
}

// The kubelet reports a container only after its postStart hook returns;
// `sleep 10` in the hook takes ten simulated seconds and blocks no worker.
func TestPostStartHookDelaysTheContainer(t *testing.T) {
	k, _ := probed(t, "", corev1.Container{Name: "redis", Image: "redis", Command: []string{"sleep", "999"},
		Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "10"}}}}})
	t0 := k.env.now
	start := time.Now()
	after := k.step()
	if time.Since(start) > 5*time.Second {
		t.Fatal("the hook's sleep blocked the worker")
	}
	if w := k.container(0).State.Waiting; w == nil || w.Reason != "ContainerCreating" || after != 10*time.Second {
		t.Fatalf("during the hook: %+v, next look in %s; want ContainerCreating for 10s", k.container(0).State, after)
	}
	k.wait(10 * time.Second)
	if r := k.container(0).State.Running; r == nil || !r.StartedAt.Time.Equal(t0) {
		t.Fatalf("after the hook: %+v; want running, started before the hook at %s", k.container(0).State, t0)
	}
}

// An image's own tools cannot run on a simulated node: a probe that calls
// one answers as a healthy container would, while file checks stay real.
func TestProbeOfAnImagesOwnToolPasses(t *testing.T) {
	k, _ := probed(t, "", corev1.Container{Name: "db", Image: "postgres:17",
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "pg_isready -U postgres || exit 1"}}}, PeriodSeconds: 1},
		LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"redis-cli", "ping"}}}, PeriodSeconds: 1}})
	if after := k.step(); !k.container(0).Ready || after != 0 {
		t.Fatalf("ready %t, next look in %s: an image's own tool failed its probe", k.container(0).Ready, after)
	}
}
