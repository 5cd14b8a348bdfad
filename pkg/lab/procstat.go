package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports; reading it would need cgo.
const clockTicks = 100

// ProcSample is one reading of one process.
type ProcSample struct {
	At         time.Time `json:"t"`
	PID        int       `json:"pid"`
	RSSBytes   int64     `json:"rssBytes"`
	CPUSeconds float64   `json:"cpuSeconds"`
	// WriteBytes is /proc/<pid>/io write_bytes, nil when that file is not
	// readable (it needs ptrace rights, which containers often drop).
	WriteBytes *int64 `json:"writeBytes,omitempty"`
}

// ProcSampler reads RSS, CPU time and bytes written of named processes every
// Interval and keeps the time series. Names come from Pids on every tick, so
// a restarted component (new pid) keeps its series.
type ProcSampler struct {
	// Root is where procfs is mounted; "" means /proc.
	Root     string
	Pids     func() map[string]int
	Clock    clock.WithTicker
	Interval time.Duration

	mu     sync.Mutex
	series map[string][]ProcSample
}

// Run samples now and then every Interval until ctx ends.
func (p *ProcSampler) Run(ctx context.Context) {
	t := p.Clock.NewTicker(p.Interval)
	defer t.Stop()
	for {
		p.SampleOnce()
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// SampleOnce reads every process once. A process that is gone (exiting or
// between restarts) is skipped: a gap says more than an error would.
func (p *ProcSampler) SampleOnce() {
	now := p.Clock.Now()
	pids := p.Pids()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.series == nil {
		p.series = map[string][]ProcSample{}
	}
	for name, pid := range pids {
		s, err := ReadProc(p.root(), pid)
		if err != nil {
			continue
		}
		s.At = now
		p.series[name] = append(p.series[name], s)
	}
}

// Series returns a copy of every process's samples.
func (p *ProcSampler) Series() map[string][]ProcSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string][]ProcSample, len(p.series))
	for k, v := range p.series {
		out[k] = append([]ProcSample(nil), v...)
	}
	return out
}

func (p *ProcSampler) root() string {
	if p.Root == "" {
		return "/proc"
	}
	return p.Root
}

// ReadProc reads one process's RSS, CPU seconds and (if allowed) bytes
// written to storage.
func ReadProc(root string, pid int) (ProcSample, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return ProcSample{}, err
	}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return ProcSample{}, err
	}
	s := ProcSample{PID: pid}
	if s.RSSBytes, err = parseStatusRSS(string(status)); err != nil {
		return ProcSample{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	if s.CPUSeconds, _, err = parseStat(string(stat)); err != nil {
		return ProcSample{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	if io, err := os.ReadFile(filepath.Join(dir, "io")); err == nil {
		if wb, err := parseIOWriteBytes(string(io)); err == nil {
			s.WriteBytes = &wb
		}
	}
	return s, nil
}

// parseStatusRSS returns VmRSS from /proc/<pid>/status in bytes.
func parseStatusRSS(status string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS %q: %w", f[0], err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmRSS in status (kernel thread or zombie)")
}

// parseStat returns utime+stime in seconds and the parent pid from
// /proc/<pid>/stat. The command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(stat string) (cpuSeconds float64, ppid int, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed stat %q", stat)
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15).
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("stat has %d fields after the command, want at least 13", len(f))
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, fmt.Errorf("ppid %q: %w", f[1], err)
	}
	utime, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("utime %q: %w", f[11], err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("stime %q: %w", f[12], err)
	}
	return float64(utime+stime) / clockTicks, ppid, nil
}

// parseIOWriteBytes returns write_bytes (bytes the process caused to be sent
// to storage, not merely written to the page cache) from /proc/<pid>/io.
func parseIOWriteBytes(io string) (int64, error) {
	for line := range strings.Lines(io) {
		if rest, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			return strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		}
	}
	return 0, fmt.Errorf("no write_bytes in io")
}

// ChildPids finds the children of ppid and names each by its first argument
// (myriad children run as `myriad <component> ...`). Several children with
// the same name are numbered in pid order, as `myriad up` numbers API
// servers. It lets a run sample components before it holds their supervisor.
func ChildPids(root string, ppid int) map[string]int {
	if root == "" {
		root = "/proc"
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	byName := map[string][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(root, e.Name(), "stat"))
		if err != nil {
			continue
		}
		if _, parent, err := parseStat(string(stat)); err != nil || parent != ppid {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(root, e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		name := filepath.Base(args[0])
		if len(args) > 1 {
			name = args[1]
		}
		byName[name] = append(byName[name], pid)
	}
	out := map[string]int{}
	for name, pids := range byName {
		if len(pids) == 1 {
			out[name] = pids[0]
			continue
		}
		sort.Ints(pids)
		for i, pid := range pids {
			out[fmt.Sprintf("%s-%d", name, i)] = pid
		}
	}
	return out
}

// ProcSummary is one process over a window.
type ProcSummary struct {
	Name        string  `json:"name"`
	RSSMaxBytes int64   `json:"rssMaxBytes"`
	RSSAvgBytes int64   `json:"rssAvgBytes"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	// Cores is CPU seconds per wall second over the window.
	Cores float64 `json:"cores"`
	// WriteBytesPerMinute is from /proc/<pid>/io; nil when unreadable.
	WriteBytesPerMinute *float64 `json:"writeBytesPerMinute,omitempty"`
	// Restarts counts pid changes seen inside the window.
	Restarts int `json:"restarts"`
	Samples  int `json:"samples"`
}

// SummarizeProc reduces the samples taken in [from, to]. CPU time and bytes
// written are summed over consecutive samples, so a restart (new pid, its
// counters from zero) adds what the new process used rather than a negative
// jump.
func SummarizeProc(name string, samples []ProcSample, from, to time.Time) ProcSummary {
	s := ProcSummary{Name: name}
	var (
		prev                *ProcSample
		rssSum              int64
		writes              int64
		writesKnown         = true
		firstAt, lastAt     time.Time
		haveFirst, haveLast bool
	)
	for i := range samples {
		cur := &samples[i]
		if cur.At.Before(from) || cur.At.After(to) {
			continue
		}
		s.Samples++
		rssSum += cur.RSSBytes
		s.RSSMaxBytes = max(s.RSSMaxBytes, cur.RSSBytes)
		if !haveFirst {
			firstAt, haveFirst = cur.At, true
		}
		lastAt, haveLast = cur.At, true
		if cur.WriteBytes == nil {
			writesKnown = false
		}
		if prev != nil {
			if cur.PID == prev.PID {
				s.CPUSeconds += max(0, cur.CPUSeconds-prev.CPUSeconds)
				if cur.WriteBytes != nil && prev.WriteBytes != nil {
					writes += max(0, *cur.WriteBytes-*prev.WriteBytes)
				}
			} else {
				s.Restarts++
				s.CPUSeconds += cur.CPUSeconds
				if cur.WriteBytes != nil {
					writes += *cur.WriteBytes
				}
			}
		}
		prev = cur
	}
	if s.Samples > 0 {
		s.RSSAvgBytes = rssSum / int64(s.Samples)
	}
	if haveFirst && haveLast {
		if wall := lastAt.Sub(firstAt); wall > 0 {
			s.Cores = s.CPUSeconds / wall.Seconds()
			if writesKnown {
				perMin := float64(writes) / wall.Minutes()
				s.WriteBytesPerMinute = &perMin
			}
		}
	}
	return s
}
