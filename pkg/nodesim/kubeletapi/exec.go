package kubeletapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/myriad-dev/myriad/pkg/nodesim/sandbox"
)

// exec is /exec/{namespace}/{pod}/[{uid}/]{container}?command=...: the
// upstream streaming server negotiates SPDY or WebSocket and the streams;
// the command runs in the container's sandbox (package sandbox), never as a
// host process.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	pod, ctr, opts := s.streamTarget(w, r)
	if pod == nil {
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "missing command", http.StatusBadRequest)
		return
	}
	remotecommandserver.ServeExec(w, r, &executor{s: s, pod: pod, ctr: ctr, box: s.cfg.Nodes.Container(pod, ctr.Name)}, pod.Namespace+"/"+pod.Name, string(pod.UID), ctr.Name, cmd,
		opts, s.cfg.StreamIdleTimeout, s.cfg.StreamCreationTimeout, remotecommandserver.SupportedStreamingProtocols)
}

// attach is /attach/...: it shows what the container prints from now on
// (its generated log lines) until the client leaves; stdin is read and
// dropped, as by a process that never reads it.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	pod, ctr, opts := s.streamTarget(w, r)
	if pod == nil {
		return
	}
	remotecommandserver.ServeAttach(w, r, &executor{s: s, pod: pod, ctr: ctr}, pod.Namespace+"/"+pod.Name, string(pod.UID), ctr.Name,
		opts, s.cfg.StreamIdleTimeout, s.cfg.StreamCreationTimeout, remotecommandserver.SupportedStreamingProtocols)
}

func (s *Server) streamTarget(w http.ResponseWriter, r *http.Request) (*corev1.Pod, *corev1.Container, *remotecommandserver.Options) {
	pod := s.pod(w, r)
	if pod == nil {
		return nil, nil, nil
	}
	name := r.PathValue("container")
	spec, cs := container(pod, name)
	if spec == nil {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", name, pod.Name), http.StatusNotFound)
		return nil, nil, nil
	}
	if cs == nil || cs.State.Running == nil {
		http.Error(w, fmt.Sprintf("container %q in pod %q is not running", name, pod.Name), http.StatusBadRequest)
		return nil, nil, nil
	}
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, nil, nil
	}
	return pod, spec, opts
}

// executor runs commands in one container's sandbox; it implements the
// streaming server's Executor and Attacher.
type executor struct {
	s   *Server
	pod *corev1.Pod
	ctr *corev1.Container
	box *sandbox.Container // nil for attach
}

func (e *executor) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, _ <-chan remotecommandserver.TerminalSize, _ time.Duration) error {
	if out == nil {
		out = nopCloser{io.Discard}
	}
	if errOut == nil {
		errOut = out // with a TTY stderr is merged into stdout
	}
	if tty {
		// A terminal turns "\n" into "\r\n" (onlcr); the client's is raw.
		out, errOut = crlfWriter{out}, crlfWriter{errOut}
	}
	var code int
	if e.box == nil {
		fmt.Fprintf(errOut, "container %q of pod %q has no sandbox\n", e.ctr.Name, e.pod.Name)
		code = 126
	} else if name := path.Base(cmd[0]); len(cmd) == 1 && in != nil && tty && (name == "sh" || name == "bash" || name == "ash" || name == "dash") {
		code = e.terminal(ctx, in, out, errOut)
	} else {
		code = sandbox.Run(ctx, e.box, cmd, in, out, errOut)
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

func (e *executor) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan remotecommandserver.TerminalSize) error {
	if in != nil {
		go func() { _, _ = io.Copy(io.Discard, in) }() // ends when the session's streams close
	}
	if out == nil {
		<-ctx.Done()
		return nil
	}
	ls, err := newLogStream(e.pod, e.ctr.Name, false)
	if err != nil {
		return err
	}
	now := e.s.cfg.Clock.Now()
	lw := &limitWriter{w: out}
	ns, name, id := e.pod.Namespace, e.pod.Name, ls.containerID
	running := func() bool {
		p := e.s.cfg.Nodes.Pod(ns, name)
		if p == nil {
			return false
		}
		_, cs := container(p, e.ctr.Name)
		return cs != nil && cs.ContainerID == id && cs.State.Running != nil
	}
	return ls.follow(ctx, e.s.cfg.Clock, lw, func() {}, ls.count(now)+1, false, running)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// crlfWriter writes "\n" as "\r\n", as a terminal's output processing does.
type crlfWriter struct{ io.WriteCloser }

func (w crlfWriter) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte{'\n'}) {
		return w.WriteCloser.Write(p)
	}
	if _, err := w.WriteCloser.Write(bytes.ReplaceAll(p, []byte{'\n'}, []byte{'\r', '\n'})); err != nil {
		return 0, err
	}
	return len(p), nil
}

// terminal runs an interactive shell on a TTY. The client's terminal is
// raw: keystrokes arrive one by one, Enter is a carriage return and nothing
// is echoed unless the container's terminal does it, so this does what a
// terminal's line discipline would, and hands each line to one shell
// session, so variables and the working directory persist.
func (e *executor) terminal(ctx context.Context, in io.Reader, out, errOut io.Writer) int {
	sh, err := sandbox.NewShell(e.box, out, errOut)
	if err != nil {
		fmt.Fprintf(errOut, "sh: %v\n", err)
		return 126
	}
	const prompt = "# "
	fmt.Fprint(out, prompt)
	br := bufio.NewReader(in)
	var line []byte
	code := 0
	for ctx.Err() == nil {
		b, err := br.ReadByte()
		if err != nil {
			return code
		}
		switch b {
		case '\r', '\n':
			fmt.Fprint(out, "\n")
			cmd := strings.TrimSpace(string(line))
			line = line[:0]
			if cmd != "" {
				var exited bool
				if code, exited = sh.Line(ctx, cmd); exited {
					return code
				}
			}
			fmt.Fprint(out, prompt)
		case 0x7f, '\b': // backspace
			if len(line) > 0 {
				line = line[:len(line)-1]
				fmt.Fprint(out, "\b \b")
			}
		case 0x03: // Ctrl-C drops the line
			line = line[:0]
			fmt.Fprint(out, "^C\n"+prompt)
		case 0x04: // Ctrl-D on an empty line ends the shell
			if len(line) == 0 {
				fmt.Fprint(out, "\n")
				return code
			}
		default:
			if b >= 0x20 {
				line = append(line, b)
				_, _ = out.Write([]byte{b})
			}
		}
	}
	return code
}
