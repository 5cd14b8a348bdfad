package supervisor

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
		appendLine(os.Args[1], "stop "+os.Args[2])
		os.Exit(0)
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
