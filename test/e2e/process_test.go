package e2e

import (
	"bufio"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is one long-running myriad command a test starts and stops
// (`myriad up`, `myriad tenant-host`): its output kept line by line.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

type lockedBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *lockedBuffer) add(s string) { b.mu.Lock(); b.lines = append(b.lines, s); b.mu.Unlock() }
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// startProcess runs the binary with args and waits until a line of its
// output starts with ready. When it exits first or is not ready within
// the time given, the test fails with its output and what more(), if
// given, adds (component logs).
func startProcess(t *testing.T, args []string, ready string, within time.Duration, more func() string) *process {
	t.Helper()
	p := &process{name: "myriad " + args[0], cmd: exec.Command(binary, args...), out: &lockedBuffer{}, exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	isReady := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		var once sync.Once
		for sc.Scan() {
			p.out.add(sc.Text())
			if strings.HasPrefix(sc.Text(), ready) {
				once.Do(func() { close(isReady) })
			}
		}
	}()
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	extra := func() string {
		if more == nil {
			return ""
		}
		return "\n" + more()
	}
	select {
	case <-isReady:
	case <-p.exited:
		t.Fatalf("%s exited before it was ready:\n%s%s", p.name, p.out, extra())
	case <-time.After(within):
		_ = p.cmd.Process.Kill()
		t.Fatalf("%s not ready after %s:\n%s%s", p.name, within, p.out, extra())
	}
	return p
}

// stop sends SIGTERM, as Ctrl-C would, and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(90 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("%s did not stop within 90s after SIGTERM:\n%s", p.name, p.out)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("%s exited with %d after SIGTERM:\n%s", p.name, code, p.out)
	}
}
