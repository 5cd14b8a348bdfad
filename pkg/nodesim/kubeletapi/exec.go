package kubeletapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// builtins lists what exec can run, for the message of anything else.
var builtins = []string{"env", "printenv", "hostname", "echo", "true", "false", "sleep", "cat", "sh -c", "sh"}

// exec is /exec/{namespace}/{pod}/[{uid}/]{container}?command=...: the
// upstream streaming server negotiates SPDY or WebSocket and the streams;
// the command itself is one of the built-ins, never a host process.
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
	remotecommandserver.ServeExec(w, r, &executor{s: s, pod: pod, ctr: ctr}, pod.Namespace+"/"+pod.Name, string(pod.UID), ctr.Name, cmd,
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

// executor runs built-ins for one container; it implements the streaming
// server's Executor and Attacher.
type executor struct {
	s   *Server
	pod *corev1.Pod
	ctr *corev1.Container
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
	code := e.run(ctx, cmd, in, out, errOut, tty)
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

// run executes one command line and returns its exit code, as a shell
// would report it: 127 for a command that does not exist.
func (e *executor) run(ctx context.Context, cmd []string, in io.Reader, out, errOut io.Writer, tty bool) int {
	nl := "\n" // crlfWriter makes it "\r\n" on a TTY
	name := cmd[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 && i < len(name)-1 {
		name = name[i+1:] // /bin/echo, /usr/bin/env
	}
	args := cmd[1:]
	switch name {
	case "true":
		return 0
	case "false":
		return 1
	case "echo":
		fmt.Fprint(out, strings.Join(args, " ")+nl)
		return 0
	case "hostname":
		fmt.Fprint(out, hostname(e.pod)+nl)
		return 0
	case "env", "printenv":
		env, notes := e.environment()
		for _, n := range notes {
			fmt.Fprint(errOut, name+": "+n+nl)
		}
		if name == "printenv" && len(args) > 0 {
			code := 0
			for _, a := range args {
				if v, ok := lookup(env, a); ok {
					fmt.Fprint(out, v+nl)
				} else {
					code = 1
				}
			}
			return code
		}
		for _, kv := range env {
			fmt.Fprint(out, kv[0]+"="+kv[1]+nl)
		}
		return 0
	case "sleep":
		return e.sleep(ctx, args, errOut, nl)
	case "cat":
		return e.cat(args, out, errOut, nl)
	case "sh", "bash", "ash", "dash":
		if len(args) >= 2 && args[0] == "-c" {
			return e.shell(ctx, args[1], in, out, errOut, tty)
		}
		if len(args) == 0 && in != nil {
			return e.interactive(ctx, in, out, errOut, tty)
		}
	}
	fmt.Fprintf(errOut, "%s: command not found (a simulated container has no executables; built-ins: %s)%s", cmd[0], strings.Join(builtins, ", "), nl)
	return 127
}

// shell runs `sh -c LINE` for a line that is one simple command: the
// simulated shell splits on blanks and honours neither quotes nor pipes.
func (e *executor) shell(ctx context.Context, line string, in io.Reader, out, errOut io.Writer, tty bool) int {
	if strings.ContainsAny(line, "|;&<>`$()\"'") {
		fmt.Fprintf(errOut, "sh: the simulated shell runs one built-in command without quotes, pipes or expansions, not %q\n", line)
		return 2
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return 0
	}
	return e.run(ctx, fields, in, out, errOut, tty)
}

// interactive reads command lines from stdin until it ends or `exit`.
// With a TTY the client's terminal is raw: keystrokes arrive one by one,
// Enter is a carriage return and nothing is echoed unless the container's
// terminal does it, so this does what a terminal's line discipline would.
func (e *executor) interactive(ctx context.Context, in io.Reader, out, errOut io.Writer, tty bool) int {
	if !tty {
		sc := bufio.NewScanner(in)
		code := 0
		for sc.Scan() && ctx.Err() == nil {
			line := strings.TrimSpace(sc.Text())
			if line == "exit" {
				return code
			}
			if line != "" {
				code = e.shell(ctx, line, nil, out, errOut, false)
			}
		}
		return code
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
			if cmd == "exit" {
				return code
			}
			if cmd != "" {
				code = e.shell(ctx, cmd, nil, out, errOut, true)
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

func (e *executor) sleep(ctx context.Context, args []string, errOut io.Writer, nl string) int {
	if len(args) != 1 {
		fmt.Fprint(errOut, "sleep: usage: sleep SECONDS"+nl)
		return 1
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		secs, ferr := strconv.ParseFloat(args[0], 64)
		if ferr != nil || secs < 0 {
			fmt.Fprintf(errOut, "sleep: invalid time interval %q%s", args[0], nl)
			return 1
		}
		d = time.Duration(secs * float64(time.Second))
	}
	select {
	case <-ctx.Done():
		return 130
	case <-e.s.cfg.Clock.After(d):
		return 0
	}
}

// cat knows the files the kubelet writes into every container and the
// process environment; volume contents are not simulated.
func (e *executor) cat(args []string, out, errOut io.Writer, nl string) int {
	if len(args) == 0 {
		fmt.Fprint(errOut, "cat: reading stdin is not simulated"+nl)
		return 1
	}
	code := 0
	for _, path := range args {
		switch path {
		case "/etc/hostname":
			fmt.Fprint(out, hostname(e.pod)+"\n")
		case "/etc/hosts":
			fmt.Fprint(out, hostsFile(e.pod))
		case "/etc/resolv.conf":
			fmt.Fprintf(out, "search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n", e.pod.Namespace)
		case "/proc/self/environ", "/proc/1/environ":
			env, _ := e.environment()
			for _, kv := range env {
				fmt.Fprint(out, kv[0]+"="+kv[1]+"\x00")
			}
		default:
			if m := e.mountOf(path); m != "" {
				fmt.Fprintf(errOut, "cat: %s: the contents of volume %q are not simulated%s", path, m, nl)
			} else {
				fmt.Fprintf(errOut, "cat: %s: No such file or directory%s", path, nl)
			}
			code = 1
		}
	}
	return code
}

func (e *executor) mountOf(path string) string {
	for _, m := range e.ctr.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m.Name
		}
	}
	return ""
}
