package lab

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Console is a bench's terminal: a progress line rewritten in place on a
// terminal (a plain line every 30s otherwise, so logs stay readable), which
// other lines written through it (component restarts from the supervisor,
// a scenario's messages) do not garble.
type Console struct {
	mu        sync.Mutex
	w         io.Writer
	tty       bool
	line      string
	lastPlain time.Time
}

// NewConsole writes to w, rewriting lines in place when w is a terminal.
func NewConsole(w io.Writer) *Console {
	c := &Console{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			c.tty = true
		}
	}
	return c
}

// Write prints p above the progress line.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty && c.line != "" {
		fmt.Fprint(c.w, "\r\033[K")
	}
	n, err := c.w.Write(p)
	if c.tty && c.line != "" && strings.HasSuffix(string(p), "\n") {
		fmt.Fprint(c.w, c.line)
	}
	return n, err
}

// Printf prints a line (a newline is added when missing).
func (c *Console) Printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, _ = c.Write([]byte(s))
}

// Progress replaces the progress line with s.
func (c *Console) Progress(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty {
		fmt.Fprint(c.w, "\r\033[K"+s)
		c.line = s
		return
	}
	if time.Since(c.lastPlain) >= 30*time.Second {
		fmt.Fprintln(c.w, s)
		c.lastPlain = time.Now()
	}
}

// EndProgress ends the progress line, keeping its last text.
func (c *Console) EndProgress() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty && c.line != "" {
		fmt.Fprintln(c.w)
	}
	c.line = ""
}

// OneLine keeps the first line of s, at most n bytes: component errors can
// carry a whole readiness dump, which belongs in the report, not the
// terminal.
func OneLine(s string, n int) string {
	first, _, more := strings.Cut(s, "\n")
	if len(first) > n {
		first, more = first[:n], true
	}
	if more {
		first += " …"
	}
	return first
}
