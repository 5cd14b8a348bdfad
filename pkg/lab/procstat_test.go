package lab

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

const (
	statusFixture = "Name:\tetcd\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1234 kB\nVmRSS:\t  204800 kB\nRssAnon:\t  200000 kB\n"
	// Command names may hold spaces and parentheses; utime=1234 stime=766.
	statFixture = "4242 (my (weird) proc) S 4000 4242 4000 0 -1 4194560 100 0 0 0 1234 766 0 0 20 0 12 0 555 1000000 51200 18446744073709551615\n"
	ioFixture   = "rchar: 100\nwchar: 200\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 81920\ncancelled_write_bytes: 0\n"
)

func TestParseProcFiles(t *testing.T) {
	rss, err := parseStatusRSS(statusFixture)
	if err != nil || rss != 204800*1024 {
		t.Errorf("RSS = %d, %v; want %d", rss, err, 204800*1024)
	}
	if _, err := parseStatusRSS("Name:\tkthreadd\n"); err == nil {
		t.Error("status without VmRSS parsed")
	}
	cpu, ppid, err := parseStat(statFixture)
	if err != nil || cpu != 20.0 || ppid != 4000 {
		t.Errorf("stat = %g s, ppid %d, %v; want 20 s, ppid 4000", cpu, ppid, err)
	}
	if _, _, err := parseStat("42 (short) S 1"); err == nil {
		t.Error("truncated stat parsed")
	}
	wb, err := parseIOWriteBytes(ioFixture)
	if err != nil || wb != 81920 {
		t.Errorf("write_bytes = %d, %v; want 81920", wb, err)
	}
}

// fakeProc writes a procfs fixture for pid; io is omitted when empty, as
// when /proc/<pid>/io is not readable.
func fakeProc(t *testing.T, root string, pid, ppid int, rssKB, ticks int, io, cmdline string) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"status":  "Name:\tmyriad\nVmRSS:\t" + strconv.Itoa(rssKB) + " kB\n",
		"stat":    strconv.Itoa(pid) + " (myriad) S " + strconv.Itoa(ppid) + " 1 1 0 -1 0 0 0 0 0 " + strconv.Itoa(ticks) + " 0 0 0 20 0 1 0 1 1 1\n",
		"cmdline": cmdline,
	}
	if io != "" {
		files["io"] = io
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadProcWithoutIO(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 10, 1, 1024, 250, "", "myriad\x00etcd\x00")
	s, err := ReadProc(root, 10)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSBytes != 1<<20 || s.CPUSeconds != 2.5 || s.WriteBytes != nil {
		t.Errorf("sample = %+v; want 1MiB, 2.5s, no write bytes", s)
	}
	if _, err := ReadProc(root, 11); err == nil {
		t.Error("a missing process read without error")
	}
}

func TestChildPidsNamesByComponent(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 10, 1, 1, 1, "", "/bin/myriad\x00etcd\x00--port\x002379\x00")
	fakeProc(t, root, 12, 1, 1, 1, "", "/bin/myriad\x00kube-apiserver\x00")
	fakeProc(t, root, 11, 1, 1, 1, "", "/bin/myriad\x00kube-apiserver\x00")
	fakeProc(t, root, 13, 99, 1, 1, "", "/bin/other\x00etcd\x00")
	got := ChildPids(root, 1)
	want := map[string]int{"etcd": 10, "kube-apiserver-0": 11, "kube-apiserver-1": 12}
	if len(got) != len(want) {
		t.Fatalf("ChildPids = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ChildPids[%s] = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

func TestSamplerKeepsSeriesAcrossRestart(t *testing.T) {
	root := t.TempDir()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	pid := 10
	fakeProc(t, root, 10, 1, 1000, 100, "write_bytes: 6000\n", "")
	p := &ProcSampler{Root: root, Clock: clk, Interval: 5 * time.Second, Pids: func() map[string]int { return map[string]int{"etcd": pid} }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	waitSamples := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); len(p.Series()["etcd"]) < n; {
			if time.Now().After(deadline) {
				t.Fatalf("only %d samples, want %d", len(p.Series()["etcd"]), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitSamples(1)
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	fakeProc(t, root, 10, 1, 3000, 300, "write_bytes: 12000\n", "") // +2 CPU s, +6000 B
	clk.Step(5 * time.Second)
	waitSamples(2)
	// Restarted: a new pid whose counters began at zero.
	fakeProc(t, root, 20, 1, 2000, 100, "write_bytes: 6000\n", "")
	pid = 20
	clk.Step(5 * time.Second)
	waitSamples(3)
	cancel()
	<-done

	s := SummarizeProc("etcd", p.Series()["etcd"], start, start.Add(time.Minute))
	if s.Samples != 3 || s.Restarts != 1 {
		t.Fatalf("summary = %+v; want 3 samples, 1 restart", s)
	}
	if s.CPUSeconds != 3 || s.Cores != 0.3 { // 2 s + 1 s of the new process, over 10 s
		t.Errorf("CPU = %g s, %g cores; want 3 s, 0.3 cores", s.CPUSeconds, s.Cores)
	}
	if s.RSSMaxBytes != 3000*1024 || s.RSSAvgBytes != 2000*1024 {
		t.Errorf("RSS max %d avg %d; want %d and %d", s.RSSMaxBytes, s.RSSAvgBytes, 3000*1024, 2000*1024)
	}
	if s.WriteBytesPerMinute == nil || *s.WriteBytesPerMinute != 12000*6 { // 12000 B in 10 s
		t.Errorf("write bytes/min = %v, want 72000", s.WriteBytesPerMinute)
	}
}
