package supervisor

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an Observer that keeps what it heard.
type recorder struct {
	mu     sync.Mutex
	lines  []string
	exits  int
	exited chan struct{}
}

func (r *recorder) Line(line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, string(line))
}

func (r *recorder) Exited() {
	r.mu.Lock()
	r.exits++
	r.mu.Unlock()
	r.exited <- struct{}{}
}

// Writes split anywhere still reach the Observer as whole lines; an
// endless line is cut at maxLine instead of growing without bound.
func TestLineSplitterDeliversWholeLines(t *testing.T) {
	r := &recorder{}
	l := &lineSplitter{obs: r}
	for _, w := range []string{"I1205 first", " line\nsecond\nthi", "rd\n", "no newline"} {
		if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	l.flush()
	want := []string{"I1205 first line", "second", "third", "no newline"}
	if strings.Join(r.lines, "|") != strings.Join(want, "|") {
		t.Fatalf("lines %q, want %q", r.lines, want)
	}
	r.lines = nil
	long := strings.Repeat("x", maxLine+100)
	l.Write([]byte(long[:maxLine/2]))
	l.Write([]byte(long[maxLine/2:] + "\nafter\n"))
	if len(r.lines) != 2 || len(r.lines[0]) != maxLine || r.lines[1] != "after" {
		t.Fatalf("got %d lines, first %d bytes; want the long one cut at %d, then \"after\"", len(r.lines), len(r.lines[0]), maxLine)
	}
}

// A supervised child's output reaches its Observer line by line (and its
// log file), and each incarnation's exit is reported once, a crash as
// well as the stop.
func TestObserverHearsLinesAndEachExit(t *testing.T) {
	s, _ := newSupervisor(t)
	t.Setenv(childEnv, "crash")
	s.MaxCrashes = -1
	dir := t.TempDir()
	r := &recorder{exited: make(chan struct{}, 16)}
	p := Process{Name: "kube-controller-manager", Args: []string{filepath.Join(dir, "journal"), "k"}, LogFile: filepath.Join(dir, "log"), Observer: r}
	if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-r.exited:
		case <-time.After(20 * time.Second):
			t.Fatal("no exit reported")
		}
	}
	s.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exits < 2 {
		t.Fatalf("%d exits reported, want at least 2", r.exits)
	}
	joined := strings.Join(r.lines, "\n")
	if strings.Count(joined, "main.go:10] starting") < 2 || !strings.Contains(joined, "address already in use") {
		t.Fatalf("lines %q; want both of each incarnation's lines", r.lines)
	}
	if err := fileContains(filepath.Join(dir, "log"), "address already in use"); err != nil {
		t.Fatal("the log file lost the output the Observer saw")
	}
}
