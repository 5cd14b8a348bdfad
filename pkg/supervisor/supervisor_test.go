package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the supervised child: with this variable set
// TestMain runs the behaviour named in argv instead of the tests.
const childEnv = "SUPERVISOR_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		runChild(mode)
		return
	}
	os.Exit(m.Run())
}

func runChild(mode string) {
	switch mode {
	case "sleep":
		// Record each start and each graceful stop, so tests can see order.
		appendLine(os.Args[1], "start "+os.Args[2])
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
		<-ch
		if strings.HasPrefix(os.Args[2], "slow-") {
			time.Sleep(time.Second) // a graceful shutdown that takes a while
		}
		appendLine(os.Args[1], "stop "+os.Args[2])
		os.Exit(0)
	case "crash":
		// Count starts, say why on stderr as a component would, and die.
		appendLine(os.Args[1], "start "+os.Args[2])
		fmt.Fprintln(os.Stdout, "I1204 12:00:00.000000 main.go:10] starting")
		fmt.Fprintln(os.Stderr, "E1204 12:00:00.100000 main.go:20] listen tcp 127.0.0.1:6443: bind: address already in use")
		os.Exit(1)
	}
}

func appendLine(file, line string) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	f.WriteString(line + "\n")
	f.Close()
}

func newSupervisor(t *testing.T) (*Supervisor, chan Event) {
	t.Helper()
	t.Setenv(childEnv, "sleep")
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan Event, 16)
	return &Supervisor{Binary: bin, Events: events, StopTimeout: 5 * time.Second}, events
}

func TestStopsInReverseOrder(t *testing.T) {
	s, _ := newSupervisor(t)
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal")
	for _, name := range []string{"etcd", "apiserver", "nodes"} {
		p := Process{Name: name, Args: []string{journal, name}, LogFile: filepath.Join(dir, name+".log"),
			Ready: func(context.Context) error { return fileContains(journal, "start "+name) }}
		if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	s.Stop()
	raw, _ := os.ReadFile(journal)
	got := strings.TrimSpace(string(raw))
	want := "start etcd\nstart apiserver\nstart nodes\nstop nodes\nstop apiserver\nstop etcd"
	if got != want {
		t.Fatalf("journal:\n%s\nwant:\n%s", got, want)
	}
}

// Expendable children (tenants' control planes) depend on the rest and
// not on one another: they stop together, and before the rest.
func TestExpendableChildrenStopTogetherAndFirst(t *testing.T) {
	s, _ := newSupervisor(t)
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal")
	for _, name := range []string{"etcd", "slow-a", "slow-b", "slow-c", "slow-d"} {
		p := Process{Name: name, Args: []string{journal, name}, LogFile: filepath.Join(dir, name+".log"),
			Ready:      func(context.Context) error { return fileContains(journal, "start "+name) },
			Expendable: name != "etcd"}
		if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	s.Stop()
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("four children of 1 s shutdowns took %v to stop: one after another", took)
	}
	raw, _ := os.ReadFile(journal)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if last := lines[len(lines)-1]; last != "stop etcd" {
		t.Errorf("etcd stopped before a tenant:\n%s", raw)
	}
	if stops := strings.Count(string(raw), "stop slow-"); stops != 4 {
		t.Errorf("%d of 4 expendable children stopped gracefully:\n%s", stops, raw)
	}
}

func TestCrashedChildIsRestarted(t *testing.T) {
	s, events := newSupervisor(t)
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal")
	p := Process{Name: "apiserver", Args: []string{journal, "apiserver"}, LogFile: filepath.Join(dir, "log")}
	if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	first := s.Pids()["apiserver"]
	syscall.Kill(first, syscall.SIGKILL)

	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-events:
			if strings.Contains(e.Message, "restarted") {
				if pid := s.Pids()["apiserver"]; pid == first || pid == 0 {
					t.Fatalf("restart reported but pid is %d (was %d)", pid, first)
				}
				return
			}
		case <-deadline:
			t.Fatal("crashed child was not restarted")
		}
	}
}

func TestReadyTimeoutNamesTheComponentAndLog(t *testing.T) {
	s, _ := newSupervisor(t)
	dir := t.TempDir()
	p := Process{Name: "kube-scheduler", Args: []string{filepath.Join(dir, "j"), "x"}, LogFile: filepath.Join(dir, "sched.log"),
		Ready: func(context.Context) error { return os.ErrNotExist }}
	err := s.Start(context.Background(), p, time.Second)
	s.Stop()
	if err == nil || !strings.Contains(err.Error(), "kube-scheduler") || !strings.Contains(err.Error(), "sched.log") {
		t.Fatalf("err = %v", err)
	}
}

func fileContains(file, s string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !strings.Contains(string(raw), s) {
		return os.ErrNotExist
	}
	return nil
}

// A component that dies at every start is given up on after MaxCrashes
// tries, and Failed says which one, how often and the log line that says
// why; the log itself reached its file through the rotating writer.
func TestCrashLoopIsReportedWithTheLogsReason(t *testing.T) {
	s, _ := newSupervisor(t)
	t.Setenv(childEnv, "crash")
	s.MaxCrashes = 2
	dir := t.TempDir()
	journal, log := filepath.Join(dir, "journal"), filepath.Join(dir, "apiserver.log")
	p := Process{Name: "kube-apiserver", Args: []string{journal, "a"}, LogFile: log}
	if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	select {
	case err := <-s.Failed():
		msg := err.Error()
		for _, want := range []string{"kube-apiserver", "2 times", "address already in use", "apiserver.log"} {
			if !strings.Contains(msg, want) {
				t.Errorf("failure %q does not say %q", msg, want)
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("crash loop was never reported")
	}
	raw, _ := os.ReadFile(journal)
	if n := strings.Count(string(raw), "start"); n != 2 {
		t.Errorf("started %d times, want 2 (no restart after giving up)", n)
	}
	if info, err := os.Stat(log); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("log file: %v, mode %v, want 0600", err, info)
	}
}

// Stop during a crashed child's backoff returns at once instead of after
// the backoff, and no incarnation is started after it.
func TestStopDuringBackoffReturnsPromptly(t *testing.T) {
	s, events := newSupervisor(t)
	t.Setenv(childEnv, "crash")
	s.MaxCrashes = -1
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal")
	p := Process{Name: "nodes", Args: []string{journal, "n"}, LogFile: filepath.Join(dir, "log")}
	if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Let it crash a few times so the backoff has grown to seconds.
	for seen := 0; seen < 3; {
		select {
		case e := <-events:
			if strings.Contains(e.Message, "exited unexpectedly") {
				seen++
			}
		case <-time.After(20 * time.Second):
			t.Fatal("child did not crash")
		}
	}
	began := time.Now()
	s.Stop()
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("Stop took %v during a backoff", took)
	}
	before, _ := os.ReadFile(journal)
	time.Sleep(1500 * time.Millisecond)
	after, _ := os.ReadFile(journal)
	if string(before) != string(after) {
		t.Fatalf("a child started after Stop: %q -> %q", before, after)
	}
}

// Exits caused through Signal are injected faults: however many come in a
// row, the child is restarted and the supervisor never gives up on it.
func TestSignalledExitsAreNotACrashLoop(t *testing.T) {
	s, _ := newSupervisor(t)
	s.MaxCrashes = 2
	dir := t.TempDir()
	p := Process{Name: "kube-scheduler", Args: []string{filepath.Join(dir, "journal"), "s"}, LogFile: filepath.Join(dir, "log")}
	if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for i := range 3 {
		pid, err := s.Signal("kube-scheduler", syscall.SIGKILL)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for s.Pids()["kube-scheduler"] == pid || s.Pids()["kube-scheduler"] == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: not restarted", i+1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	select {
	case err := <-s.Failed():
		t.Fatalf("gave up after injected kills: %v", err)
	default:
	}
	if _, err := s.Signal("etcd", syscall.SIGKILL); err == nil {
		t.Error("Signal of an unknown child succeeded")
	}
}

func TestRemoveStopsOneChildForGood(t *testing.T) {
	s, events := newSupervisor(t)
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal")
	for _, name := range []string{"etcd", "tenant-a"} {
		p := Process{Name: name, Args: []string{journal, name}, LogFile: filepath.Join(dir, name+".log"),
			Ready: func(context.Context) error { return fileContains(journal, "start "+name) }}
		if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	defer s.Stop()
	dup := Process{Name: "tenant-a", Args: []string{journal, "dup"}, LogFile: filepath.Join(dir, "dup.log")}
	if err := s.Start(context.Background(), dup, time.Second); err == nil || !strings.Contains(err.Error(), "already supervised") {
		t.Fatalf("a second child of one name: %v", err)
	}
	if err := s.Remove("tenant-a"); err != nil {
		t.Fatal(err)
	}
	if err := fileContains(journal, "stop tenant-a"); err != nil {
		t.Fatalf("removed child was not stopped gracefully: %v", err)
	}
	if _, ok := s.Pids()["tenant-a"]; ok {
		t.Fatal("removed child is still listed")
	}
	if _, ok := s.Pids()["etcd"]; !ok {
		t.Fatal("Remove touched another child")
	}
	select {
	case e := <-events:
		t.Fatalf("removing a child is not a crash: %+v", e)
	case <-time.After(1500 * time.Millisecond):
	}
	if err := s.Remove("tenant-a"); err == nil {
		t.Fatal("removing twice must say there is no such child")
	}
	// The name is free again.
	p := Process{Name: "tenant-a", Args: []string{journal, "tenant-a2"}, LogFile: filepath.Join(dir, "a2.log"),
		Ready: func(context.Context) error { return fileContains(journal, "start tenant-a2") }}
	if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestExpendableCrashLoopIsNotTheOwnersFailure(t *testing.T) {
	s, events := newSupervisor(t)
	t.Setenv(childEnv, "crash")
	s.MaxCrashes = 2
	dir := t.TempDir()
	p := Process{Name: "tenant-a-apiserver", Args: []string{filepath.Join(dir, "journal"), "a"}, LogFile: filepath.Join(dir, "a.log"), Expendable: true}
	if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	deadline := time.After(20 * time.Second)
	for gaveUp := false; !gaveUp; {
		select {
		case e := <-events:
			gaveUp = strings.HasPrefix(e.Message, "gave up")
		case <-deadline:
			t.Fatal("the crash loop was not reported in Events")
		}
	}
	select {
	case err := <-s.Failed():
		t.Fatalf("an expendable child's crash loop failed the supervisor: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestProbeAsksOneChildsReadiness(t *testing.T) {
	s, _ := newSupervisor(t)
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal")
	serving := true
	var mu sync.Mutex
	p := Process{Name: "api", Args: []string{journal, "api"}, LogFile: filepath.Join(dir, "api.log"),
		Ready: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if !serving {
				return errors.New("not serving")
			}
			return fileContains(journal, "start api")
		}}
	if err := s.Start(context.Background(), p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if err := s.Probe(context.Background(), "api"); err != nil {
		t.Fatalf("a ready child's probe: %v", err)
	}
	mu.Lock()
	serving = false
	mu.Unlock()
	if err := s.Probe(context.Background(), "api"); err == nil || !strings.Contains(err.Error(), "not serving") {
		t.Fatalf("a child that stopped serving: %v", err)
	}
	if err := s.Probe(context.Background(), "etcd"); err == nil || !strings.Contains(err.Error(), `no child "etcd"`) {
		t.Fatalf("an unknown child: %v", err)
	}
}
