package etcdsize

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// fakeEtcd grows by what is written and frees a little of it on each
// compaction; after failAfter puts it answers like a full quota.
type fakeEtcd struct {
	mu          sync.Mutex
	rev         int64
	total, used int64
	compacted   []int64
	puts        int
	failAfter   int
}

func (f *fakeEtcd) Put(_ context.Context, _ string, v []byte) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAfter > 0 && f.puts >= f.failAfter {
		return 0, errors.New("etcdserver: mvcc: database space exceeded")
	}
	f.puts++
	f.rev++
	f.used += int64(len(v)) + 64
	f.total = max(f.total, f.used)
	return f.rev, nil
}

func (f *fakeEtcd) Delete(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	return nil
}

func (f *fakeEtcd) Compact(_ context.Context, rev int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.compacted = append(f.compacted, rev)
	f.used -= f.used / 100 // freed pages, reused by later puts
	return nil
}

func (f *fakeEtcd) Defragment(context.Context) error { return nil }

func (f *fakeEtcd) Size() (int64, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total, f.used
}

func growth(store EtcdStore, freelist string, target int64) *Workload {
	return &Workload{Freelist: freelist, Store: store, Workers: 4, TargetBytes: target, Duration: 20 * time.Second,
		CompactEvery: 100 * time.Millisecond, SampleEvery: 200 * time.Millisecond, Values: []ValueClass{{1024, 1}},
		CreateShare: 0.5, DeleteShare: 0.05, BandBytes: target / 4, DiskFree: func() (uint64, error) { return 100 << 30, nil },
		MinFreeBytes: 1 << 30, Seed: 7, Clock: clock.RealClock{}}
}

// slowEtcd takes a little time per put, so the run lasts long enough for
// samples and compactions.
type slowEtcd struct{ fakeEtcd }

func (s *slowEtcd) Put(ctx context.Context, k string, v []byte) (int64, error) {
	time.Sleep(200 * time.Microsecond)
	return s.fakeEtcd.Put(ctx, k, v)
}

func TestEtcdSizeGrowsToTargetAndCompacts(t *testing.T) {
	target := int64(1 << 20)
	var runs []Run
	for _, fl := range []string{"map", "array"} {
		store := &slowEtcd{}
		run := growth(store, fl, target).Run(context.Background())
		if run.StopReason != StopTarget || run.Err != "" {
			t.Fatalf("%s: stopped %q (%s); want the target reached", fl, run.StopReason, run.Err)
		}
		if run.DBBytes < target || run.Puts == 0 || run.ValueBytes < target*3/4 || run.Put.P99 == nil {
			t.Errorf("%s: %d bytes, %d puts, %d value bytes, p99 %v", fl, run.DBBytes, run.Puts, run.ValueBytes, run.Put.P99)
		}
		if len(run.Samples) == 0 || len(run.Bands) == 0 {
			t.Errorf("%s: %d samples, %d bands; want some", fl, len(run.Samples), len(run.Bands))
		}
		prev := int64(0)
		for _, c := range run.Compactions {
			if c.Revision <= prev || c.Revisions <= 0 || c.Seconds < 0 {
				t.Errorf("%s: compaction %+v after revision %d", fl, c, prev)
			}
			prev = c.Revision
		}
		for _, b := range run.Bands {
			if b.ToBytes-b.FromBytes != target/4 || b.Put.Count == 0 {
				t.Errorf("%s: band %+v", fl, b)
			}
		}
		runs = append(runs, run)
	}
	// Grown side by side, the run that did not reach the target first
	// stopped with its partner: a planned stop.
	runs[0].StopReason = StopPartner
	res := BuildResult(Input{Info: lab.RunInfo{Scenario: "etcd-size", Parameters: map[string]string{}}, Freelists: []string{"map", "array"}, Runs: runs, SideBySide: true, DiskFreeStart: 50 << 30, DiskFreeEnd: 49 << 30})
	if !res.Verdict.Pass || len(res.Compare) == 0 {
		t.Fatalf("verdict %+v, %d compared bands", res.Verdict, len(res.Compare))
	}
	for _, c := range res.Compare {
		if c.MapP99 == nil || c.ArrayP99 == nil || c.ArrayOverMap == nil {
			t.Errorf("band %+v lacks a figure", c)
		}
	}
	dir := t.TempDir()
	path, err := lab.Write(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	for _, want := range []string{"map freelist", "array freelist", "target size reached", "array / map", "49.00 GiB"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestEtcdSizeStopsOnAWriteErrorAndFails(t *testing.T) {
	store := &fakeEtcd{failAfter: 100}
	run := growth(store, "array", 1<<30).Run(context.Background())
	if run.StopReason != StopError || !strings.Contains(run.Err, "space exceeded") || run.Puts != 100 {
		t.Fatalf("stop %q err %q puts %d; want a write error after 100 puts", run.StopReason, run.Err, run.Puts)
	}
	res := BuildResult(Input{Freelists: []string{run.Freelist}, Runs: []Run{run}})
	if res.Verdict.Pass || !strings.Contains(res.Verdict.Reasons[0], "space exceeded") {
		t.Errorf("verdict %+v; want a failure naming the error", res.Verdict)
	}
}

func TestEtcdSizeStopsWhenDiskRunsLow(t *testing.T) {
	w := growth(&slowEtcd{}, "map", 1<<30)
	w.DiskFree = func() (uint64, error) { return 1 << 20, nil }
	run := w.Run(context.Background())
	if run.StopReason != StopDisk {
		t.Fatalf("stopped %q; want %q", run.StopReason, StopDisk)
	}
	res := BuildResult(Input{Freelists: []string{run.Freelist}, Runs: []Run{run}})
	if !res.Verdict.Pass || len(res.Verdict.Warnings) == 0 {
		t.Errorf("verdict %+v; want a pass that warns where the disk stopped it", res.Verdict)
	}
}

func TestPickSizeFollowsWeights(t *testing.T) {
	mix := []ValueClass{{1, 0.25}, {2, 0.5}, {3, 0.25}}
	for _, c := range []struct {
		u    float64
		want int
	}{{0, 1}, {0.24, 1}, {0.26, 2}, {0.74, 2}, {0.76, 3}, {0.999, 3}} {
		if got := pickSize(mix, c.u); got != c.want {
			t.Errorf("pickSize(%g) = %d; want %d", c.u, got, c.want)
		}
	}
}

func TestBandBytesSplitsTheTargetInAboutEight(t *testing.T) {
	for _, c := range []struct{ target, want int64 }{{64 << 20, 16 << 20}, {4 << 30, 512 << 20}, {3 << 30, 512 << 20}} {
		if got := BandBytes(c.target); got != c.want {
			t.Errorf("BandBytes(%d) = %d; want %d", c.target, got, c.want)
		}
	}
}
