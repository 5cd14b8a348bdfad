package supervisor

import "bytes"

// Observer follows one supervised component from outside: what it says and
// when it dies. The supervisor calls it; it must never start, signal or
// wait for the process itself. A lease handover (pkg/controlplane) is one:
// it learns from a component's log which identity holds a leader Lease,
// and releases that Lease the moment the process is gone.
type Observer interface {
	// Line receives each complete line the child writes to stdout or
	// stderr, in order, without its newline. It runs on the goroutine
	// that copies the child's output into its log, so it must not block.
	Line(line []byte)
	// Exited is called once per incarnation, after its exit and after its
	// last Line, before the supervisor restarts it or moves on to stop
	// the next child. It may take a moment (one API round trip); the
	// restart waits for it.
	Exited()
}

// lineSplitter feeds an Observer whole lines from the stream of writes
// the child's output arrives in. One child's stdout and stderr share one
// pipe (exec.Cmd gives them one when both are the same writer), so writes
// arrive from one goroutine and need no lock.
type lineSplitter struct {
	obs     Observer
	partial []byte
}

// maxLine bounds the bytes kept of a line still waiting for its newline:
// a child that writes megabytes without one must not grow the
// supervisor. The rest of such a line is dropped, not delivered.
const maxLine = 64 << 10

func (l *lineSplitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := max(0, maxLine-len(l.partial))
			l.partial = append(l.partial, p[:min(room, len(p))]...)
			return n, nil
		}
		if len(l.partial) == 0 {
			l.obs.Line(p[:i])
		} else {
			room := max(0, maxLine-len(l.partial))
			l.partial = append(l.partial, p[:min(room, i)]...)
			l.obs.Line(l.partial)
			l.partial = l.partial[:0]
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush delivers a last line the child ended without a newline.
func (l *lineSplitter) flush() {
	if len(l.partial) > 0 {
		l.obs.Line(l.partial)
		l.partial = nil
	}
}
