package kubeletapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	clientexec "k8s.io/client-go/util/exec"
	"k8s.io/utils/clock"
)

// execIn runs cmd in default/web-1's container through the real streaming
// client, as the API server's kubelet client does, and returns stdout,
// stderr and the exit code.
func execIn(t *testing.T, srv *httptest.Server, stdin string, cmd ...string) (string, string, int) {
	t.Helper()
	q := url.Values{"command": cmd, "output": {"1"}, "error": {"1"}}
	if stdin != "" {
		q.Set("input", "1")
	}
	u, _ := url.Parse(srv.URL + "/exec/default/web-1/app?" + q.Encode())
	ex, err := remotecommand.NewSPDYExecutor(&rest.Config{Host: srv.URL}, http.MethodPost, u)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	opts := remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}
	if stdin != "" {
		opts.Stdin = strings.NewReader(stdin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, opts)
	var exit clientexec.CodeExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exit):
		return out.String(), errOut.String(), exit.Code
	}
	t.Fatalf("exec %q: %v", cmd, err)
	return "", "", -1
}

func TestExec(t *testing.T) {
	s, _ := newTestServer(t, clock.RealClock{}, runningPod("web-1", "node-0", t0, 0))
	srv := httptest.NewServer(onNode(s, "node-0"))
	defer srv.Close()

	t.Run("env resolves values, references and the downward API", func(t *testing.T) {
		out, errOut, code := execIn(t, srv, "", "env")
		for _, want := range []string{"GREETING=hello\n", "MESSAGE=hello world\n", "POD_NAME=web-1\n", "NODE=node-0\n", "HOSTNAME=web-1\n", "KUBERNETES_SERVICE_HOST=10.96.0.1\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("env lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "PASSWORD") || !strings.Contains(errOut, `PASSWORD comes from Secret "db" key "password"`) {
			t.Errorf("a Secret reference must be reported, not invented: stdout %q stderr %q", out, errOut)
		}
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
	})
	for _, tc := range []struct {
		cmd            []string
		stdin          string
		stdout, stderr string
		code           int
	}{
		{[]string{"hostname"}, "", "web-1\n", "", 0},
		{[]string{"/bin/echo", "a", "b"}, "", "a b\n", "", 0},
		{[]string{"true"}, "", "", "", 0},
		{[]string{"false"}, "", "", "", 1},
		{[]string{"sleep", "0.01"}, "", "", "", 0},
		{[]string{"printenv", "GREETING"}, "", "hello\n", "", 0},
		{[]string{"cat", "/etc/hostname"}, "", "web-1\n", "", 0},
		{[]string{"cat", "/nope"}, "", "", "cat: /nope: No such file or directory\n", 1},
		{[]string{"sh", "-c", "echo from a shell"}, "", "from a shell\n", "", 0},
		{[]string{"sh"}, "hostname\nexit\n", "web-1\n", "", 0},
		{[]string{"sh", "-c", "touch /tmp/mark && test -f /tmp/mark && printf $(hostname)"}, "", "web-1", "", 0},
		{[]string{"ls", "/tmp"}, "", "mark\n", "", 0}, // the last exec's file is still there
		{[]string{"nc", "-l", "80"}, "", "", "nc: command not found", 127},
	} {
		t.Run(strings.Join(tc.cmd, " "), func(t *testing.T) {
			out, errOut, code := execIn(t, srv, tc.stdin, tc.cmd...)
			if out != tc.stdout || !strings.HasPrefix(errOut, tc.stderr) || code != tc.code {
				t.Fatalf("got stdout %q stderr %q exit %d, want %q %q... %d", out, errOut, code, tc.stdout, tc.stderr, tc.code)
			}
		})
	}
}

func TestExecRefusesWhatAKubeletWould(t *testing.T) {
	pod := runningPod("web-1", "node-0", t0, 0)
	s, _ := newTestServer(t, clock.RealClock{}, pod)
	h := onNode(s, "node-0")
	for path, want := range map[string]int{
		"/exec/default/web-1/app?command=env":                    http.StatusBadRequest, // no stream asked for
		"/exec/default/web-1/other?command=env&output=1":         http.StatusNotFound,
		"/exec/default/missing/app?command=env&output=1":         http.StatusNotFound,
		"/exec/default/web-1/wrong-uid/app?command=env&output=1": http.StatusNotFound,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d %q, want %d", path, rec.Code, rec.Body, want)
		}
	}
}

// TestPortForward forwards a local port through the streaming protocol to
// the pod's stub and reads its identity over HTTP.
func TestPortForward(t *testing.T) {
	s, _ := newTestServer(t, clock.RealClock{}, runningPod("web-1", "node-0", t0, 0))
	srv := httptest.NewServer(onNode(s, "node-0"))
	defer srv.Close()
	transport, upgrader, err := spdy.RoundTripperFor(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL + "/portForward/default/web-1")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	defer close(stop)
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("port-forward: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("port-forward not ready after 10s")
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // two requests: the stub keeps serving the connection
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/anything", ports[0].Local))
		if err != nil {
			t.Fatal(err)
		}
		var id Identity
		err = json.NewDecoder(resp.Body).Decode(&id)
		resp.Body.Close()
		if err != nil || id != (Identity{Namespace: "default", Pod: "web-1", Node: "node-0", PodIP: "10.128.0.7", Port: 8080}) {
			t.Fatalf("got %+v (%v)", id, err)
		}
	}
}

// TestInteractiveShellOnATerminal is `kubectl exec -it POD -- sh`: raw
// keystrokes in, a prompt, echo, backspace and CRLF out.
func TestInteractiveShellOnATerminal(t *testing.T) {
	s, _ := newTestServer(t, clock.RealClock{}, runningPod("web-1", "node-0", t0, 0))
	srv := httptest.NewServer(onNode(s, "node-0"))
	defer srv.Close()
	q := url.Values{"command": {"sh"}, "input": {"1"}, "output": {"1"}, "tty": {"1"}}
	u, _ := url.Parse(srv.URL + "/exec/default/web-1/app?" + q.Encode())
	ex, err := remotecommand.NewSPDYExecutor(&rest.Config{Host: srv.URL}, http.MethodPost, u)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("hostnamX\x7fe\recho a\rexit\r"), Stdout: &out, Tty: true})
	if want := "# hostnamX\b \be\r\nweb-1\r\n# echo a\r\na\r\n# exit\r\n"; err != nil || out.String() != want {
		t.Fatalf("terminal shows %q (%v), want %q", out.String(), err, want)
	}
}
