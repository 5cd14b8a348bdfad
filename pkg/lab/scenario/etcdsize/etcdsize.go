// Package etcdsize is `myriad bench etcd-size`: it grows etcd databases
// with Kubernetes-like writes, one per bbolt freelist type (side by side
// by default, so each sees the same machine), and records put latency,
// compaction time and database size as they grow. The seed's claim: etcd's
// hashmap freelist (bbolt's "map" type) let the database grow from 2 GB to
// 50 GB, where the original "array" freelist scanned ever longer free-page
// lists on every allocation.
//
// It runs embedded etcd members in its own process, no cluster; the
// workload reaches them through EtcdStore, so it is tested without one. It
// must never compare a freelist that did not record a put: such a run (or
// one that never happened) is "no data" and fails. It writes only under
// --out, and removes each database after its run unless asked to keep it.
package etcdsize

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

// Scenario is one etcd-size run.
type Scenario struct {
	o Options
	// start starts the member for one freelist type; diskFree reports the
	// space left under --out. Tests replace both.
	start    func(clk clock.Clock, dir, freelist string, target int64) (store, error)
	diskFree func(dir string) (uint64, error)
}

var _ lab.Scenario = (*Scenario)(nil)

// New is the scenario with o (which must be valid).
func New(o Options) *Scenario { return &Scenario{o: o, start: startEmbedded, diskFree: freeBytes} }

// Name is the command's name.
func (s *Scenario) Name() string { return "etcd-size" }

// Run grows the databases, group by group, and judges the runs.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o, con := s.o, env.Console
	target, minFree, _ := o.sizes()
	diskFree := func() (uint64, error) { return s.diskFree(o.OutDir) }
	in := Input{Freelists: o.Freelists, SideBySide: o.SideBySide}
	in.DiskFreeStart, _ = diskFree()
	in.Info = lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), o.parameters(), env.Clock.Now())
	// etcd runs inside the bench process, so its CPU and memory are the
	// bench's.
	self := os.Getpid()
	procs := &lab.ProcSampler{Clock: env.Clock, Interval: o.SampleEvery, Pids: func() map[string]int { return map[string]int{"bench (etcd in-process)": self} }}
	pctx, stopProcs := context.WithCancel(context.Background())
	procsDone := make(chan struct{})
	go func() { procs.Run(pctx); close(procsDone) }()

	groups := o.groups()
	for i, g := range groups {
		if ctx.Err() != nil {
			in.Info.StoppedEarly = fmt.Sprintf("interrupted before the %s run", strings.Join(g, " and "))
			break
		}
		con.Printf("== run %d/%d: %s freelist, up to %s or %s", i+1, len(groups), strings.Join(g, " and "), bytesQ(target), o.Duration)
		runs, err := s.group(ctx, env, g, target, uint64(minFree), diskFree)
		con.EndProgress()
		if err != nil {
			in.Info.StoppedEarly = err.Error()
			con.Printf("stopped: %s", lab.OneLine(err.Error(), 300))
			break
		}
		for _, run := range runs {
			con.Printf("  %s: %s at %s after %s, %d puts (%.0f/s), put p99 %s", run.Freelist, run.StopReason, bytesQ(run.DBBytes),
				time.Duration(run.Seconds*float64(time.Second)).Round(time.Second), run.Puts, run.PutsPerSecond, lab.MsOpt(run.Put.P99))
		}
		in.Runs = append(in.Runs, runs...)
	}
	stopProcs()
	<-procsDone
	in.DiskFreeEnd, _ = diskFree()
	in.Info.Finish(env.Clock.Now(), procs.Series())
	return BuildResult(in)
}

// group starts a fresh member per freelist type, grows them all at once,
// stops them all when the first stops, and removes them. Side by side,
// every member sees the same machine; one after the other, a shared
// machine's changing load can decide the comparison.
func (s *Scenario) group(ctx context.Context, env lab.Env, freelists []string, target int64, minFree uint64, diskFree func() (uint64, error)) ([]Run, error) {
	o, clk := s.o, env.Clock
	var stores []store
	defer func() {
		for i, st := range stores {
			st.Close()
			if !o.KeepData {
				_ = os.RemoveAll(o.dir(freelists[i]))
			}
		}
	}()
	for _, fl := range freelists {
		st, err := s.start(clk, o.dir(fl), fl, target)
		if err != nil {
			return nil, fmt.Errorf("%s freelist: %w", fl, err)
		}
		stores = append(stores, st)
	}
	gctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	progress := s.progress(env, freelists, target)
	runs := make([]Run, len(freelists))
	var wg sync.WaitGroup
	for i, fl := range freelists {
		w := &Workload{
			Freelist: fl, Store: stores[i], Workers: o.Workers, TargetBytes: target, Duration: o.Duration,
			CompactEvery: o.CompactEvery, DefragEvery: o.DefragEvery, SampleEvery: o.SampleEvery,
			Values: DefaultValueMix, CreateShare: o.CreateShare, DeleteShare: o.DeleteShare,
			BandBytes: BandBytes(target), DiskFree: diskFree, MinFreeBytes: minFree, Seed: 1, Clock: clk,
			Progress: func(smp Sample) { progress(fl, smp) },
		}
		wg.Go(func() {
			runs[i] = w.Run(gctx)
			stopAll()
		})
	}
	wg.Wait()
	if len(runs) > 1 && ctx.Err() == nil {
		for i := range runs {
			if runs[i].StopReason == StopCanceled {
				runs[i].StopReason = StopPartner
			}
		}
	}
	return runs, nil
}

// progress is the progress line of a group: every member's size, rate
// and p99, with the time left predicted from the growth so far.
func (s *Scenario) progress(env lab.Env, freelists []string, target int64) func(string, Sample) {
	o, clk := s.o, env.Clock
	began := clk.Now()
	var mu sync.Mutex
	latest := map[string]Sample{}
	return func(fl string, smp Sample) {
		mu.Lock()
		defer mu.Unlock()
		latest[fl] = smp
		el := clk.Since(began)
		left := o.Duration - el
		var parts []string
		for _, f := range freelists {
			s, ok := latest[f]
			if !ok {
				continue
			}
			if s.DBBytes > 0 && el > 0 {
				left = min(left, time.Duration(float64(target-s.DBBytes)/float64(s.DBBytes)*float64(el)))
			}
			parts = append(parts, fmt.Sprintf("%s %s, %.0f puts/s, p99 %s", f, bytesQ(s.DBBytes), float64(s.Writes)/o.SampleEvery.Seconds(), lab.MsOpt(s.PutP99)))
		}
		env.Console.Progress(fmt.Sprintf("%s | %s | target %s | free disk %s | ETA %s", el.Round(time.Second), strings.Join(parts, " | "),
			bytesQ(target), bytesQ(int64(smp.DiskFree)), max(0, left).Round(time.Second)))
	}
}

// freeBytes is the space available to an unprivileged writer under dir.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
