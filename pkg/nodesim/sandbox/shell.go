package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"syscall"

	"k8s.io/utils/clock"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// Container is what a command runs in.
type Container struct {
	Files *View
	// Env is the container's environment ("NAME=value"), Notes what the
	// simulator could not resolve of it (printed by env).
	Env   []string
	Notes []string
	// Hostname is the pod's hostname.
	Hostname string
	Clock    clock.Clock
	// Lenient makes programs the sandbox does not have succeed silently
	// instead of exiting 127. Probes and hooks run lenient: an image's own
	// tools (pg_isready, redis-cli ping) cannot run here, and a healthy
	// container is what a simulated node stands for; files are still real,
	// so `test -f` and `cat FILE` probes answer from them.
	Lenient bool
}

// maxDepth bounds shells started from shells; maxCalls the simple
// commands one exec (or one interactive line) runs, so a runaway script
// ends with an error instead of taking the simulator's CPU. It also bounds
// a fork bomb of pipes (`f(){ f|f; }; f`): the interpreter makes a pipe
// (two file descriptors and a goroutine) per stage, and stages cannot
// outnumber calls, so one exec holds at most 2*maxCalls descriptors.
const (
	maxDepth = 8
	maxCalls = 4_000
)

// shells are the names a shell answers to.
var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true}

// Run runs argv in c as a container runtime's exec would and returns its
// exit status: a shell runs its script (`sh -c SCRIPT`) or, without
// arguments, the lines of stdin; anything else runs as a simple command.
// A command the sandbox does not know exits 127 with a message saying so.
func Run(ctx context.Context, c *Container, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		return 0
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	code := run(ctx, c, argv, stdin, stdout, stderr, &budget{}, 0)
	c.Files.Changed()
	return code
}

// budget counts one exec's simple commands, across pipes and nested shells.
type budget struct{ calls atomic.Int64 }

// Shell is one interactive shell session: variables and the working
// directory persist from one line to the next.
type Shell struct {
	c      *Container
	runner *interp.Runner
	stderr io.Writer
	budget *budget // per line
}

// NewShell starts a session whose commands write to stdout and stderr.
func NewShell(c *Container, stdout, stderr io.Writer) (*Shell, error) {
	b := &budget{}
	r, err := newRunner(c, nil, stdout, stderr, b, 0)
	if err != nil {
		return nil, err
	}
	return &Shell{c: c, runner: r, stderr: stderr, budget: b}, nil
}

// Line runs one line and returns its status and whether the shell exited.
func (s *Shell) Line(ctx context.Context, line string) (int, bool) {
	f, err := parse(line)
	if err != nil {
		fmt.Fprintf(s.stderr, "sh: %v\n", err)
		return 2, false
	}
	s.budget.calls.Store(0)
	code := status(s.runner.Run(ctx, f), s.stderr, "sh")
	s.c.Files.Changed()
	return code, s.runner.Exited()
}

func run(ctx context.Context, c *Container, argv []string, stdin io.Reader, stdout, stderr io.Writer, b *budget, depth int) int {
	name := path.Base(argv[0])
	var f *syntax.File
	flagged, script, operand := shellArgs(argv)
	switch {
	case shells[name] && flagged:
		var err error
		if f, err = parse(script); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
	case shells[name] && operand != "":
		// sh FILE runs a script from the container's files.
		data, err := c.Files.ReadFile(abs("/", operand))
		if err != nil {
			fmt.Fprintf(stderr, "%s: %s: %s\n", name, operand, describe(err))
			return 127
		}
		if f, err = parse(string(data)); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
	case shells[name] && len(argv) == 1:
		if stdin == nil {
			return 0
		}
		var err error
		if f, err = syntax.NewParser().Parse(io.LimitReader(stdin, 1<<20), ""); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
		if err := refuse(f); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
		stdin = nil
	default:
		f = command(argv)
	}
	r, err := newRunner(c, stdin, stdout, stderr, b, depth)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 126
	}
	return status(r.Run(ctx, f), stderr, name)
}

// shellArgs reads a shell's arguments: with -c (alone or among other
// one-letter options, as in -ec or -lc) the script is the first operand;
// otherwise the first operand is a script file. Other options are ignored.
func shellArgs(argv []string) (flagged bool, script, operand string) {
	i := 1
	for ; i < len(argv) && len(argv[i]) > 1 && argv[i][0] == '-'; i++ {
		if argv[i] == "--" {
			i++
			break
		}
		flagged = flagged || strings.Contains(argv[i][1:], "c")
	}
	if i < len(argv) {
		if flagged {
			return true, argv[i], ""
		}
		return false, "", argv[i]
	}
	return false, "", ""
}

// command is argv as a parsed simple command, each word single-quoted so
// nothing in it is expanded, as exec passes arguments.
func command(argv []string) *syntax.File {
	call := &syntax.CallExpr{}
	for _, a := range argv {
		call.Args = append(call.Args, &syntax.Word{Parts: []syntax.WordPart{&syntax.SglQuoted{Value: a}}})
	}
	return &syntax.File{Stmts: []*syntax.Stmt{{Cmd: call}}}
}

func parse(script string) (*syntax.File, error) {
	f, err := syntax.NewParser().Parse(strings.NewReader(script), "")
	if err != nil {
		return nil, err
	}
	return f, refuse(f)
}

// refuse rejects what would reach the host: process substitution makes
// the interpreter create FIFOs in the host's temporary directory.
func refuse(f *syntax.File) error {
	var err error
	syntax.Walk(f, func(n syntax.Node) bool {
		if _, ok := n.(*syntax.ProcSubst); ok && err == nil {
			err = errors.New("process substitution is not simulated")
		}
		return err == nil
	})
	return err
}

// status is a run's exit status; an error that ended the run otherwise
// (a cancelled exec, the command budget) is printed as a shell would.
func status(err error, stderr io.Writer, name string) int {
	if err == nil {
		return 0
	}
	var es interp.ExitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// newRunner returns an interpreter whose every file operation and program
// goes to c.
func newRunner(c *Container, stdin io.Reader, stdout, stderr io.Writer, b *budget, depth int) (*interp.Runner, error) {
	x := &executor{c: c, budget: b, depth: depth}
	return interp.New(
		interp.Env(expand.ListEnviron(c.Env...)),
		interp.Dir("/"),
		interp.StdIO(stdin, stdout, stderr),
		interp.CallHandler(x.call),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return x.exec }),
		interp.OpenHandler(x.open),
		interp.StatHandler(func(_ context.Context, name string, _ bool) (fs.FileInfo, error) {
			return c.Files.Stat(path.Clean(name))
		}),
		interp.ReadDirHandler2(func(_ context.Context, name string) ([]fs.DirEntry, error) {
			infos, err := c.Files.ReadDir(path.Clean(name))
			if err != nil {
				return nil, err
			}
			out := make([]fs.DirEntry, len(infos))
			for i, fi := range infos {
				out[i] = fs.FileInfoToDirEntry(fi)
			}
			return out, nil
		}),
		interp.AccessHandler(func(_ context.Context, name string, _ interp.AccessMode) error {
			_, err := c.Files.Stat(path.Clean(name)) // a container's user is root
			return err
		}),
	)
}

// lookupBuiltins are the interpreter's builtins that search the host's
// PATH; call routes them to exec, which answers from the sandbox.
var lookupBuiltins = map[string]bool{"type": true, "command": true, "hash": true}

const lookupPrefix = "\x00"

func (x *executor) call(_ context.Context, args []string) ([]string, error) {
	if x.budget.calls.Add(1) > maxCalls {
		return nil, fmt.Errorf("more than %d commands in one exec", maxCalls)
	}
	if lookupBuiltins[args[0]] {
		return append([]string{lookupPrefix + args[0]}, args[1:]...), nil
	}
	return args, nil
}

// open is every redirection and `source`: files of the view, never the host's.
func (x *executor) open(ctx context.Context, name string, flag int, _ os.FileMode) (io.ReadWriteCloser, error) {
	p := abs(interp.HandlerCtx(ctx).Dir, name)
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		if p == devZero {
			return nopWriteCloser{zeros{}}, nil
		}
		data, err := x.c.Files.ReadFile(p)
		if err != nil {
			return nil, err
		}
		return nopWriteCloser{strings.NewReader(string(data))}, nil
	}
	if p == devNull {
		return nopWriteCloser{io.Discard}, nil
	}
	if _, err := x.c.Files.Stat(p); err != nil {
		if flag&os.O_CREATE == 0 {
			return nil, err
		}
		if err := x.c.Files.WriteFile(p, nil, false); err != nil {
			return nil, err
		}
	} else if flag&os.O_TRUNC != 0 {
		if err := x.c.Files.WriteFile(p, nil, false); err != nil {
			return nil, err
		}
	}
	return &fileWriter{v: x.c.Files, path: p}, nil
}

// fileWriter appends what a redirection writes, write by write, so the
// store's bounds apply as the file grows.
type fileWriter struct {
	v    *View
	path string
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if err := w.v.WriteFile(w.path, p, true); err != nil {
		return 0, err
	}
	return len(p), nil
}
func (w *fileWriter) Read([]byte) (int, error) { return 0, syscall.EBADF }
func (w *fileWriter) Close() error             { return nil }

type nopWriteCloser struct{ rw any }

func (n nopWriteCloser) Read(p []byte) (int, error) {
	if r, ok := n.rw.(io.Reader); ok {
		return r.Read(p)
	}
	return 0, syscall.EBADF
}

func (n nopWriteCloser) Write(p []byte) (int, error) {
	if w, ok := n.rw.(io.Writer); ok {
		return w.Write(p)
	}
	return 0, syscall.EBADF
}

func (nopWriteCloser) Close() error { return nil }

// zeros reads as /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func abs(dir, name string) string {
	if path.IsAbs(name) {
		return path.Clean(name)
	}
	return path.Join(dir, name)
}
