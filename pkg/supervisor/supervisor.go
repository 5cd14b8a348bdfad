// Package supervisor runs the control plane's components as child processes
// of one binary: it starts them in order, waits for each to be ready,
// restarts any that crash (giving up, and saying why, on a crash loop),
// keeps their logs rotated, and stops them in reverse order. It must never
// leave an orphan: children die with the supervisor, even on kill -9, and
// no child is started once Stop has begun.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ParentPIDEnv tells a child which process supervises it; see ExitWithParent.
const ParentPIDEnv = "MYRIAD_SUPERVISOR_PID"

// ProcessNameEnv is the child's name as the supervisor knows it: with
// several instances of one component (myriad up --ha) their command lines
// differ only in ports, and tools that must find one instance (a test
// killing the leader, an operator) read it from the environment.
const ProcessNameEnv = "MYRIAD_PROCESS"

// Process describes one supervised component.
type Process struct {
	Name string
	// Args follow the binary on the command line.
	Args []string
	// LogFile receives the child's stdout and stderr.
	LogFile string
	// Ready reports whether the component serves; it is polled after every
	// (re)start. Nil means ready as soon as the process runs.
	Ready func(ctx context.Context) error
	// Observer, when set, hears the child's output line by line and each
	// of its exits; see Observer.
	Observer Observer
	// Expendable children are not the supervisor's owner's whole job (a
	// tenant's control plane beside the cluster's): when one crash-loops
	// it is given up on in Events only, never on Failed.
	Expendable bool
	// Env is added to the environment the child inherits (KEY=value).
	Env []string
}

// Event is something a user should hear about: a crash, a restart.
type Event struct {
	Process string
	Message string
}

// Supervisor owns the children it started.
type Supervisor struct {
	// Binary is the executable every child runs (the myriad binary itself).
	Binary string
	// Events receives crash and restart notices; it must be drained.
	Events chan<- Event
	// StopTimeout bounds a child's graceful exit before SIGKILL.
	StopTimeout time.Duration
	// MaxCrashes is how many exits in a row, each within a minute of its
	// start, make a crash loop that the supervisor gives up on (reported
	// on Failed). 0 means 5; negative means restart forever.
	MaxCrashes int

	mu       sync.Mutex
	children []*child
	stopping bool
	done     chan struct{} // closed by Stop: ends backoffs and readiness waits
	failed   chan error
}

// init makes the channels; every entry point calls it under s.mu.
func (s *Supervisor) init() {
	if s.done == nil {
		s.done, s.failed = make(chan struct{}), make(chan error, 1)
	}
}

// Failed receives one error when a child crash-loops and the supervisor
// gives up on it: the child's name, how often it died and the line of its
// log that says why. The other children keep running; the owner decides
// whether to stop.
func (s *Supervisor) Failed() <-chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	return s.failed
}

type child struct {
	proc Process
	// induced marks the current incarnation's exit as caused on purpose
	// (Signal), so it does not count toward a crash loop.
	induced atomic.Bool
	// removed is closed by Remove: the child is not restarted again.
	removed    chan struct{}
	removeOnce sync.Once
	mu         sync.Mutex
	cmd        *exec.Cmd
	exited     chan struct{} // closed when the current incarnation exits
	stopped    chan struct{} // closed when the supervision loop ends
}

// Start launches p and blocks until it is ready, the timeout passes, or ctx
// ends. From then on a crash of p is restarted with backoff until Stop.
func (s *Supervisor) Start(ctx context.Context, p Process, readyTimeout time.Duration) error {
	c := &child{proc: p, stopped: make(chan struct{}), removed: make(chan struct{})}
	s.mu.Lock()
	s.init()
	for _, other := range s.children {
		if other.proc.Name == p.Name {
			s.mu.Unlock()
			return fmt.Errorf("a child named %s is already supervised", p.Name)
		}
	}
	s.mu.Unlock()
	if err := s.spawn(c); err != nil {
		return err
	}
	s.mu.Lock()
	s.children = append(s.children, c)
	s.mu.Unlock()
	go s.supervise(c)

	if err := waitReady(ctx, c, readyTimeout); err != nil {
		return fmt.Errorf("%s did not become ready: %w (see %s)", p.Name, err, p.LogFile)
	}
	return nil
}

// spawn starts one incarnation of c. The goroutine that starts the child
// stays locked to its OS thread until the child exits: Linux delivers
// Pdeathsig when the *thread* that forked dies, and Go may otherwise retire
// that thread while the child still runs.
func (s *Supervisor) spawn(c *child) error {
	if s.isStopping() {
		return errStopping
	}
	logf := newLogWriter(c.proc.LogFile)
	if _, err := logf.Write(nil); err != nil {
		return fmt.Errorf("open log for %s: %w", c.proc.Name, err)
	}
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer logf.Close()
		cmd := exec.Command(s.Binary, c.proc.Args...)
		var out io.Writer = logf
		var lines *lineSplitter
		if c.proc.Observer != nil {
			lines = &lineSplitter{obs: c.proc.Observer}
			out = io.MultiWriter(logf, lines)
		}
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Env = append(append(os.Environ(), c.proc.Env...), ParentPIDEnv+"="+strconv.Itoa(os.Getpid()), ProcessNameEnv+"="+c.proc.Name)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Pdeathsig: syscall.SIGKILL,
			// Own process group: Ctrl-C in the terminal reaches only the
			// supervisor, which then stops children in order.
			Setpgid: true,
		}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start %s: %w", c.proc.Name, err)
			close(exited)
			return
		}
		c.mu.Lock()
		c.cmd, c.exited = cmd, exited
		c.mu.Unlock()
		if s.isStopping() {
			// Stop began while this incarnation started: it may already
			// have signalled the previous one, so this one goes too.
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		started <- nil
		_ = cmd.Wait() // the exit status is read from cmd.ProcessState; Wait returns once the output is copied
		if lines != nil {
			lines.flush()
			c.proc.Observer.Exited()
		}
		close(exited)
	}()
	return <-started
}

// supervise restarts c whenever it exits, until the supervisor stops or
// c crash-loops (see crashLoop).
func (s *Supervisor) supervise(c *child) {
	defer close(c.stopped)
	maxCrashes := s.MaxCrashes
	if maxCrashes == 0 {
		maxCrashes = 5
	}
	loop := newCrashLoop(maxCrashes)
	for {
		c.mu.Lock()
		exited, cmd := c.exited, c.cmd
		c.mu.Unlock()
		began := time.Now()
		<-exited
		if s.isStopping() || c.isRemoved() {
			return
		}
		wait, giveUp := loop.First, false
		if !c.induced.Swap(false) {
			wait, giveUp = loop.exited(time.Since(began))
		}
		if giveUp {
			err := fmt.Errorf("%s crashed %d times in a row, each within a minute of starting; last: %s (log: %s)",
				c.proc.Name, loop.crashes, lastError(c.proc.LogFile), c.proc.LogFile)
			s.emit(c.proc.Name, "gave up: "+err.Error())
			if c.proc.Expendable {
				return
			}
			select {
			case s.failed <- err:
			default: // one failure is reported; the rest are in Events
			}
			return
		}
		s.emit(c.proc.Name, fmt.Sprintf("exited unexpectedly (%s); restarting in %s, log: %s", exitReason(cmd), wait, c.proc.LogFile))
		select {
		case <-time.After(wait):
		case <-s.done:
			return
		case <-c.removed:
			return
		}
		if err := s.spawn(c); err != nil {
			if errors.Is(err, errStopping) {
				return
			}
			s.emit(c.proc.Name, "restart failed: "+err.Error())
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := waitReady(ctx, c, 2*time.Minute); err != nil {
			s.emit(c.proc.Name, "restarted but not ready: "+err.Error())
		} else {
			s.emit(c.proc.Name, "restarted and ready")
		}
		cancel()
	}
}

// Stop terminates the expendable children all at once, then the others in
// reverse start order: nodes before the scheduler, API servers before
// etcd, so none sees its dependency vanish while it still has work to
// flush.
//
// A child may be between two incarnations when Stop begins (in its backoff
// or starting again): Stop ends the backoff, and terminates whichever
// incarnation runs until the child's supervision has ended, so it never
// waits on a process nobody will stop. It is safe to call more than once.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	s.init()
	if !s.stopping {
		s.stopping = true
		close(s.done)
	}
	children := append([]*child(nil), s.children...)
	s.mu.Unlock()
	stop := func(c *child) {
		for {
			c.terminate(s.StopTimeout)
			select {
			case <-c.stopped:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	// Expendable children (tenants' control planes) need the rest and
	// not one another: they stop together, first, so twenty tenants'
	// graceful shutdowns take as long as one.
	var wg sync.WaitGroup
	for _, c := range children {
		if c.proc.Expendable {
			wg.Go(func() { stop(c) })
		}
	}
	wg.Wait()
	for i := len(children) - 1; i >= 0; i-- {
		if !children[i].proc.Expendable {
			stop(children[i])
		}
	}
}

var errStopping = errors.New("supervisor is stopping")

// Remove stops the child called name (SIGTERM, then SIGKILL after
// StopTimeout) and forgets it: it is not restarted, and a later Start may
// use the name again. Components that come and go while the supervisor
// runs (a tenant's control plane) leave this way; the rest leave with Stop.
func (s *Supervisor) Remove(name string) error {
	s.mu.Lock()
	var c *child
	for i, ch := range s.children {
		if ch.proc.Name == name {
			c = ch
			s.children = append(s.children[:i:i], s.children[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("no child %q", name)
	}
	c.removeOnce.Do(func() { close(c.removed) })
	for {
		c.terminate(s.StopTimeout)
		select {
		case <-c.stopped:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *child) isRemoved() bool {
	select {
	case <-c.removed:
		return true
	default:
		return false
	}
}

func (c *child) terminate(timeout time.Duration) {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Signal sends sig to the current process of the child called name and
// returns its pid. The exit it causes is a fault injected on purpose (a
// failover bench, a chaos run): the child is restarted after the first
// backoff, and the exit never counts toward giving up on a crash loop.
func (s *Supervisor) Signal(name string, sig syscall.Signal) (int, error) {
	c := s.named(name)
	if c == nil {
		return 0, fmt.Errorf("no child %q", name)
	}
	c.mu.Lock()
	cmd := c.cmd
	c.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return 0, fmt.Errorf("%s is not running", name)
	}
	c.induced.Store(true)
	if err := cmd.Process.Signal(sig); err != nil {
		c.induced.Store(false)
		return 0, fmt.Errorf("signal %s (pid %d): %w", name, cmd.Process.Pid, err)
	}
	return cmd.Process.Pid, nil
}

// Pids returns the current process id of each child by name, for tests and
// for resource reports.
func (s *Supervisor) Pids() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, c := range s.children {
		c.mu.Lock()
		if c.cmd != nil && c.cmd.Process != nil {
			out[c.proc.Name] = c.cmd.Process.Pid
		}
		c.mu.Unlock()
	}
	return out
}

// Probe asks the named child's Ready check once (nil when it has none and
// runs): whether that one process serves now, for a caller that disturbed
// it (a chaos run) and waits for it to be back.
func (s *Supervisor) Probe(ctx context.Context, name string) error {
	c := s.named(name)
	if c == nil {
		return fmt.Errorf("no child %q", name)
	}
	c.mu.Lock()
	running := c.cmd != nil && c.cmd.Process != nil
	c.mu.Unlock()
	if !running {
		return fmt.Errorf("%s is not running", name)
	}
	if c.proc.Ready == nil {
		return nil
	}
	return c.proc.Ready(ctx)
}

// named is the child called name, nil when there is none.
func (s *Supervisor) named(name string) *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *child
	for _, ch := range s.children {
		if ch.proc.Name == name {
			c = ch
		}
	}
	return c
}

func (s *Supervisor) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *Supervisor) emit(name, msg string) {
	if s.Events != nil {
		s.Events <- Event{Process: name, Message: msg}
	}
}

func waitReady(ctx context.Context, c *child, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c.mu.Lock()
	exited := c.exited
	c.mu.Unlock()
	var last error = errors.New("not probed yet")
	for {
		if c.proc.Ready == nil {
			return nil
		}
		if last = c.proc.Ready(ctx); last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("process exited during start-up (last probe: %v)", last)
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func exitReason(cmd *exec.Cmd) string {
	if cmd == nil || cmd.ProcessState == nil {
		return "unknown"
	}
	return cmd.ProcessState.String()
}

// ExitWithParent is called early by every child: if the supervisor that
// started it goes away (even by kill -9, where Pdeathsig may be missed in a
// multi-threaded parent), the child exits instead of holding ports.
func ExitWithParent() {
	want, err := strconv.Atoi(os.Getenv(ParentPIDEnv))
	if err != nil || want <= 1 {
		return
	}
	go func() {
		for range time.Tick(time.Second) {
			if os.Getppid() != want {
				fmt.Fprintf(os.Stderr, "myriad: supervisor %d is gone; exiting\n", want)
				os.Exit(1)
			}
		}
	}()
}
