package sandbox

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

var nginx = map[string]string{"/usr/share/nginx/html/index.html": "<h1>hello</h1>\n", "/usr/share/nginx/html/50x.html": "oops\n"}

// statefulPod is a StatefulSet's pod: an nginx container with a claim at
// /data, an emptyDir at /cache and a ConfigMap at /config.
func statefulPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "nginx", Image: "nginx:alpine",
				Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "datadir", MountPath: "/data"}, {Name: "cache", MountPath: "/cache"},
					{Name: "config", MountPath: "/config", ReadOnly: true}}}},
			Volumes: []corev1.Volume{
				{Name: "datadir", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "datadir-" + name}}},
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			},
		},
	}
}

type box struct {
	t *testing.T
	c *Container
}

func newBox(t *testing.T, f *Files, pod *corev1.Pod, run string) box {
	t.Helper()
	c := f.ForPod(pod, "nginx", run, nginx, clocktesting.NewFakeClock(time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)))
	if c == nil {
		t.Fatal("no container")
	}
	return box{t, c}
}

// sh runs `sh -c script` as kubectl exec would and returns stdout, stderr
// and the exit status.
func (b box) sh(script string) (string, string, int) {
	return b.run("/bin/sh", "-c", script)
}

func (b box) run(argv ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code := Run(ctx, b.c, argv, nil, &out, &errOut)
	return out.String(), errOut.String(), code
}

func (b box) ok(script string) string {
	b.t.Helper()
	out, errOut, code := b.sh(script)
	if code != 0 {
		b.t.Fatalf("%q: exit %d, stderr %q", script, code, errOut)
	}
	return out
}

func (b box) fails(script string, code int, stderr string) {
	b.t.Helper()
	_, errOut, got := b.sh(script)
	if got != code || !strings.Contains(errOut, stderr) {
		b.t.Fatalf("%q: exit %d stderr %q, want exit %d and %q", script, got, errOut, code, stderr)
	}
}

// TestStatefulSetTestersCommands are the commands upstream's and
// OpenKruise's StatefulSet e2e helpers run in pods.
func TestStatefulSetTestersCommands(t *testing.T) {
	f := NewFiles(0, 0, nil)
	pod := statefulPod("ss-0")
	b := newBox(t, f, pod, "containerd://1")

	if got := b.ok("printf $(hostname)"); got != "ss-0" {
		t.Errorf("printf $(hostname) = %q", got)
	}
	// BreakHTTPProbe / RestoreHTTPProbe.
	if got := b.ok("mv -v /usr/share/nginx/html/index.html /tmp/ || true"); got != "renamed '/usr/share/nginx/html/index.html' -> '/tmp/index.html'\n" {
		t.Errorf("mv -v printed %q", got)
	}
	b.fails("test -f /usr/share/nginx/html/index.html", 1, "")
	b.ok("mv -v /usr/share/nginx/html/index.html /tmp/ || true") // idempotent, as the helper needs
	b.ok("mv -v /tmp/index.html /usr/share/nginx/html/ || true")
	if got := b.ok("cat /usr/share/nginx/html/index.html"); got != nginx["/usr/share/nginx/html/index.html"] {
		t.Errorf("restored index.html reads %q", got)
	}
	// PauseNewPods / ResumeNextPod.
	b.fails("test -f /data/statefulset-continue", 1, "")
	_, errOut, code := b.sh("dd if=/dev/zero of=/data/statefulset-continue bs=1 count=1 conv=fsync")
	if code != 0 || !strings.Contains(errOut, "1+0 records in") {
		t.Fatalf("dd: exit %d, %q", code, errOut)
	}
	if _, _, code := b.run("test", "-f", "/data/statefulset-continue"); code != 0 {
		t.Error("the exec probe's test -f does not see the file dd wrote")
	}
	// CheckMount.
	b.ok("ls -idlh /data")
	b.ok("touch /data/1733360000")
	if got := b.ok("find /data"); got != "/data\n/data/1733360000\n/data/statefulset-continue\n" {
		t.Errorf("find /data = %q", got)
	}
}

// TestVolumesOutliveRunsAsOnANode: a claim's files outlive the pod (its
// replacement sees them), an emptyDir's and the run layer's do not.
func TestVolumesOutliveRunsAsOnANode(t *testing.T) {
	f := NewFiles(0, 0, nil)
	pod := statefulPod("ss-0")
	b := newBox(t, f, pod, "containerd://1")
	b.ok("touch /data/kept /cache/pods /tmp/run")

	restarted := newBox(t, f, pod, "containerd://2") // same pod, new run
	restarted.ok("test -f /data/kept && test -f /cache/pods")
	restarted.fails("test -f /tmp/run", 1, "")

	f.ForgetPod(pod.UID)
	again := statefulPod("ss-0")
	again.UID = "uid-ss-0-recreated"
	b2 := newBox(t, f, again, "containerd://3")
	b2.ok("test -f /data/kept")
	b2.fails("test -f /cache/pods", 1, "")

	f.ForgetClaim("ns", "datadir-ss-0")
	b2.fails("test -f /data/kept", 1, "")
	if f.Used() != 0 {
		t.Errorf("%d bytes left after every owner went", f.Used())
	}
}

func TestFilesystemErrorsAreAShellsErrors(t *testing.T) {
	f := NewFiles(0, 0, nil)
	b := newBox(t, f, statefulPod("ss-0"), "containerd://1")
	b.fails("cat /nope", 1, "cat: /nope: No such file or directory")
	b.fails("cat /config/app.yaml", 1, `the contents of volume "config" are not simulated`)
	b.fails("touch /config/x", 1, "Read-only file system")
	b.fails("echo hi > /etc/hosts", 1, "")
	b.fails("mkdir /a/b", 1, "No such file or directory")
	b.ok("mkdir -p /a/b && echo hi > /a/b/c && echo there >> /a/b/c")
	if got := b.ok("cat /a/b/c"); got != "hi\nthere\n" {
		t.Errorf("appended file reads %q", got)
	}
	b.fails("rm /a", 1, "Directory not empty")
	b.ok("rm -r /a && ! test -e /a")
	b.fails("nc -l 80", 127, "nc: command not found")
	if got := b.ok("env"); !strings.Contains(got, "GREETING=hi\n") || !strings.Contains(got, "HOSTNAME=ss-0\n") {
		t.Errorf("env = %q", got)
	}
	if got := b.ok("cd /usr/share/nginx && ls html"); got != "50x.html\nindex.html\n" {
		t.Errorf("ls html = %q", got)
	}
	b.ok("type ls >/dev/null && command -v cat >/dev/null && ! command -v nc")
}

// TestNothingReachesTheHost: files, programs and lookups stay in the
// sandbox whatever the script.
func TestNothingReachesTheHost(t *testing.T) {
	host := t.TempDir()
	marker := filepath.Join(host, "marker")
	if err := os.WriteFile(marker, []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := NewFiles(0, 0, nil)
	b := newBox(t, f, statefulPod("ss-0"), "containerd://1")
	b.fails("test -e "+marker, 1, "")
	b.fails("cat "+marker, 1, "No such file or directory")
	b.fails("echo sandbox > "+marker, 1, "") // no such directory in the container
	if got, _ := os.ReadFile(marker); string(got) != "host" {
		t.Errorf("a redirection wrote the host's file: %q", got)
	}
	b.fails("source "+marker, 1, "")
	b.fails("go version", 127, "command not found")
	b.fails("/usr/bin/id", 127, "command not found")
	b.fails("cat <(echo x)", 2, "process substitution is not simulated")
	if out := b.ok("ls " + host + " 2>/dev/null || echo absent"); out != "absent\n" {
		t.Errorf("ls of a host directory: %q", out)
	}
}

func TestBoundsGiveENOSPC(t *testing.T) {
	f := NewFiles(2048, 1024, nil)
	b := newBox(t, f, statefulPod("ss-0"), "containerd://1")
	b.fails("dd if=/dev/zero of=/tmp/big bs=1K count=2", 1, "No space left on device")
	b.ok("dd if=/dev/zero of=/tmp/small bs=512 count=1")
	other := newBox(t, f, statefulPod("ss-1"), "containerd://1")
	other.ok("dd if=/dev/zero of=/tmp/small bs=1K count=1")
	other.fails("dd if=/dev/zero of=/data/more bs=1K count=1", 1, "No space left on device")
}

func TestChangesAreReportedOncePerCommand(t *testing.T) {
	var got []Change
	f := NewFiles(0, 0, func(c Change) { got = append(got, c) })
	b := newBox(t, f, statefulPod("ss-0"), "containerd://1")
	b.ok("touch /data/x; touch /tmp/y")
	want := []Change{{Pod: "ns/ss-0", Claim: "ns/datadir-ss-0"}, {Pod: "ns/ss-0"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("changes %v, want %v", got, want)
	}
}

func TestInteractiveShellKeepsItsState(t *testing.T) {
	f := NewFiles(0, 0, nil)
	b := newBox(t, f, statefulPod("ss-0"), "containerd://1")
	var out bytes.Buffer
	sh, err := NewShell(b.c, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, line := range []string{"cd /usr/share/nginx/html", "X=index.html", "cat $X"} {
		if code, exited := sh.Line(ctx, line); code != 0 || exited {
			t.Fatalf("%q: exit %d exited %t: %s", line, code, exited, out.String())
		}
	}
	if out.String() != nginx["/usr/share/nginx/html/index.html"] {
		t.Errorf("session printed %q", out.String())
	}
	if code, exited := sh.Line(ctx, "exit 3"); code != 3 || !exited {
		t.Errorf("exit 3: code %d exited %t", code, exited)
	}
}

func TestRunawayScriptsEnd(t *testing.T) {
	b := newBox(t, NewFiles(0, 0, nil), statefulPod("ss-0"), "containerd://1")
	start := time.Now()
	if _, errOut, code := b.sh("while true; do :; done"); code == 0 || !strings.Contains(errOut, "commands in one exec") {
		t.Fatalf("an endless loop: exit %d, %q", code, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the loop ran %s", d)
	}
}

// FuzzRun runs arbitrary exec commands: none may panic, hang past its
// deadline or grow the store past its bounds.
func FuzzRun(f *testing.F) {
	for _, seed := range []string{"printf $(hostname)", "mv -v /usr/share/nginx/html/index.html /tmp/ || true",
		"dd if=/dev/zero of=/data/x bs=1 count=1 conv=fsync", "ls -idlh /data; find /data", "cat <(echo)", "f(){ f|f; }; f",
		"echo a > /cache/b && cat /cache/b | cat", "cd /nope || exit 3", "x=$((1/0))", "type ls; command -v cat; hash"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script string) {
		files := NewFiles(1<<20, 256<<10, nil)
		c := files.ForPod(statefulPod("ss-0"), "nginx", "containerd://1", nginx, clocktesting.NewFakeClock(time.Unix(1e9, 0)))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		Run(ctx, c, []string{"sh", "-c", script}, strings.NewReader("input\n"), io.Discard, io.Discard)
		if files.Used() > 1<<20 {
			t.Fatalf("store holds %d bytes, over its bound", files.Used())
		}
	})
}

func TestShellArguments(t *testing.T) {
	b := newBox(t, NewFiles(0, 0, nil), statefulPod("ss-0"), "containerd://1")
	if out, _, code := b.run("bash", "-ec", "echo $((6*7))"); out != "42\n" || code != 0 {
		t.Errorf("bash -ec: %q exit %d", out, code)
	}
	b.ok(`printf 'echo from a file\n' > /tmp/s.sh`)
	if out, _, code := b.run("/bin/sh", "/tmp/s.sh"); out != "from a file\n" || code != 0 {
		t.Errorf("sh FILE: %q exit %d", out, code)
	}
	if _, errOut, code := b.run("sh", "/tmp/none.sh"); code != 127 || !strings.Contains(errOut, "No such file") {
		t.Errorf("sh MISSING: exit %d %q", code, errOut)
	}
}
