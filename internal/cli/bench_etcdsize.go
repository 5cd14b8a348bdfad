package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

type etcdSizeOptions struct {
	out          string
	freelists    []string
	dbSize       string
	minFree      string
	duration     time.Duration
	workers      int
	compactEvery time.Duration
	defragEvery  time.Duration
	sampleEvery  time.Duration
	createShare  float64
	deleteShare  float64
	keepData     bool
	sideBySide   bool
}

func newBenchEtcdSizeCommand() *cobra.Command {
	var o etcdSizeOptions
	cmd := &cobra.Command{
		Use:   "etcd-size",
		Short: "Grow an etcd database with each bbolt freelist type and record write and compaction latency",
		Long: `For each --freelists type, start an embedded etcd member in-process (myriad
up's configuration, fsync on, on a fresh directory under --out) and grow its
database with --workers concurrent writers, all types at the same time
(--side-by-side, so each sees the same machine) or one after the other: new keys, overwrites and
deletes of Kubernetes-sized values (512 B to 64 KiB), compacting every
--compact-every to the revision of the previous compaction. A run ends when
the database file reaches --db-size, after --duration, or when free disk
falls below --min-free; side by side, all end when the first does. Records put latency per interval and per database
size band, every compaction's duration, and the file size and free pages
over time. Each run's data is deleted before the next (--keep-data keeps
it). Writes result.json and report.html to --out; exits non-zero if a run
failed (a write error such as the quota, or an interrupt).`,
		Example: `  myriad bench etcd-size --out /tmp/etcd-size
  myriad bench etcd-size --db-size 64Mi --duration 15s --out /tmp/etcd-size-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, minFree, err := o.validate()
			if err != nil {
				return usageError{err}
			}
			return runEtcdSize(cmd, o, target, minFree)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory for result.json, report.html and the databases while they run (required)")
	f.StringSliceVar(&o.freelists, "freelists", []string{controlplane.FreelistMap, controlplane.FreelistArray}, "bbolt freelist types to run, in order: map, array")
	f.StringVar(&o.dbSize, "db-size", "8Gi", "stop a run when the database file reaches this size")
	f.StringVar(&o.minFree, "min-free", "10Gi", "stop a run when free disk under --out falls below this")
	f.DurationVar(&o.duration, "duration", 8*time.Minute, "longest time a run may take (side by side: all of them together)")
	f.IntVar(&o.workers, "workers", 32, "concurrent writers")
	f.DurationVar(&o.compactEvery, "compact-every", 10*time.Second, "compaction interval (each keeps the history since the previous one)")
	f.DurationVar(&o.defragEvery, "defrag-every", 0, "defragmentation interval; 0 never (defragmenting empties the freelist under test)")
	f.DurationVar(&o.sampleEvery, "sample-interval", 5*time.Second, "how often latency, size and free disk are recorded")
	f.Float64Var(&o.createShare, "create-share", 0.5, "share of writes that create a new key")
	f.Float64Var(&o.deleteShare, "delete-share", 0.05, "share of writes that delete a key (the rest overwrite one)")
	f.BoolVar(&o.keepData, "keep-data", false, "keep each run's etcd data directory")
	f.BoolVar(&o.sideBySide, "side-by-side", true, "grow every freelist type's database at the same time, each with --workers writers, so all see the same machine; false runs them one after the other")
	return cmd
}

func (o etcdSizeOptions) validate() (target, minFree int64, err error) {
	if o.out == "" {
		return 0, 0, errors.New("--out is required: the directory for result.json and report.html")
	}
	seen := map[string]bool{}
	for _, fl := range o.freelists {
		if fl != controlplane.FreelistMap && fl != controlplane.FreelistArray {
			return 0, 0, fmt.Errorf("--freelists: unknown type %q (use map, array)", fl)
		}
		if seen[fl] {
			return 0, 0, fmt.Errorf("--freelists: %s given twice", fl)
		}
		seen[fl] = true
	}
	q, err := resource.ParseQuantity(o.dbSize)
	if err != nil || q.Value() < 16<<20 {
		return 0, 0, fmt.Errorf("--db-size must be a size of at least 16Mi (e.g. 4Gi), got %q", o.dbSize)
	}
	f, err := resource.ParseQuantity(o.minFree)
	if err != nil || f.Value() < 0 {
		return 0, 0, fmt.Errorf("--min-free must be a size (e.g. 10Gi), got %q", o.minFree)
	}
	switch {
	case len(o.freelists) == 0:
		return 0, 0, errors.New("--freelists must name at least one type")
	case o.duration < 5*time.Second:
		return 0, 0, fmt.Errorf("--duration must be at least 5s, got %s", o.duration)
	case o.compactEvery < time.Second:
		return 0, 0, fmt.Errorf("--compact-every must be at least 1s, got %s", o.compactEvery)
	case o.defragEvery != 0 && o.defragEvery < 10*time.Second:
		return 0, 0, fmt.Errorf("--defrag-every must be 0 (never) or at least 10s, got %s", o.defragEvery)
	case o.sampleEvery < time.Second:
		return 0, 0, fmt.Errorf("--sample-interval must be at least 1s, got %s", o.sampleEvery)
	case o.createShare < 0 || o.deleteShare < 0 || o.createShare+o.deleteShare > 1:
		return 0, 0, fmt.Errorf("--create-share and --delete-share must be at least 0 and add up to at most 1, got %g and %g", o.createShare, o.deleteShare)
	}
	return q.Value(), f.Value(), inRange("--workers", o.workers, 1, 1024)
}

func runEtcdSize(cmd *cobra.Command, o etcdSizeOptions, target, minFree int64) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	outDir, closeLog, err := prepareOut(o.out)
	if err != nil {
		return err
	}
	defer closeLog()
	for _, fl := range o.freelists {
		if _, err := os.Stat(etcdSizeDir(outDir, fl)); err == nil {
			return fmt.Errorf("%s holds a database from an earlier run; choose another --out or remove it", etcdSizeDir(outDir, fl))
		}
	}
	diskFree := func() (uint64, error) { return freeBytes(outDir) }
	freeStart, _ := diskFree()
	info := lab.NewRunInfo("etcd-size", lab.ThisMachine(controlplane.KubernetesVersion), etcdSizeParameters(o, target, minFree, outDir), time.Now())
	// etcd runs inside the bench process, so its CPU and memory are the
	// bench's.
	self := os.Getpid()
	procs := &lab.ProcSampler{Clock: clock.RealClock{}, Interval: o.sampleEvery, Pids: func() map[string]int { return map[string]int{"bench (etcd in-process)": self} }}
	pctx, stopProcs := context.WithCancel(context.Background())
	procsDone := make(chan struct{})
	go func() { procs.Run(pctx); close(procsDone) }()

	con := lab.NewConsole(out)
	// Side by side, every member sees the same machine; one after the
	// other, a shared machine's changing load can decide the comparison.
	groups := [][]string{o.freelists}
	if !o.sideBySide {
		groups = nil
		for _, fl := range o.freelists {
			groups = append(groups, []string{fl})
		}
	}
	var runs []lab.EtcdSizeRun
	for i, g := range groups {
		if ctx.Err() != nil {
			info.StoppedEarly = fmt.Sprintf("interrupted before the %s run", strings.Join(g, " and "))
			break
		}
		fmt.Fprintf(out, "== run %d/%d: %s freelist, up to %s or %s\n", i+1, len(groups), strings.Join(g, " and "), bytesQ(target), o.duration)
		rs, err := etcdSizeGroup(ctx, o, outDir, g, target, uint64(minFree), diskFree, con)
		con.EndProgress()
		if err != nil {
			info.StoppedEarly = err.Error()
			fmt.Fprintf(out, "stopped: %s\n", lab.OneLine(err.Error(), 300))
			break
		}
		for _, run := range rs {
			fmt.Fprintf(out, "  %s: %s at %s after %s, %d puts (%.0f/s), put p99 %s\n", run.Freelist, run.StopReason, bytesQ(run.DBBytes),
				time.Duration(run.Seconds*float64(time.Second)).Round(time.Second), run.Puts, run.PutsPerSecond, msP(run.Put.P99))
		}
		runs = append(runs, rs...)
	}
	stopProcs()
	<-procsDone
	freeEnd, _ := diskFree()
	info.Finish(time.Now(), procs.Series())
	res := lab.BuildEtcdSizeResult(info, runs, o.sideBySide, freeStart, freeEnd)
	path, err := lab.WriteEtcdSizeReport(outDir, res)
	rows := lab.EtcdSizeRows(res)
	for _, c := range res.Compare {
		if c.ArrayOverMap != nil {
			rows = append(rows, []string{fmt.Sprintf("put p99 array/map at %s – %s", bytesQ(c.FromBytes), bytesQ(c.ToBytes)), fmt.Sprintf("%.2f×", *c.ArrayOverMap)})
		}
	}
	return reportLab(out, outDir, path, err, rows, res.Verdict)
}

func etcdSizeDir(outDir, freelist string) string { return filepath.Join(outDir, "etcd-"+freelist) }

// etcdSizeGroup starts a fresh member per freelist type, grows them all
// at once, stops them all when the first stops, and removes them.
func etcdSizeGroup(ctx context.Context, o etcdSizeOptions, outDir string, freelists []string, target int64, minFree uint64,
	diskFree func() (uint64, error), con *lab.Console) ([]lab.EtcdSizeRun, error) {
	var stores []*embeddedStore
	defer func() {
		for i, s := range stores {
			s.close()
			if !o.keepData {
				_ = os.RemoveAll(etcdSizeDir(outDir, freelists[i]))
			}
		}
	}()
	for _, fl := range freelists {
		s, err := startEmbeddedEtcd(etcdSizeDir(outDir, fl), fl, target)
		if err != nil {
			return nil, fmt.Errorf("%s freelist: %w", fl, err)
		}
		stores = append(stores, s)
	}
	gctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	began := time.Now()
	var mu sync.Mutex
	latest := map[string]lab.EtcdSizeSample{}
	progress := func(fl string, smp lab.EtcdSizeSample) {
		mu.Lock()
		defer mu.Unlock()
		latest[fl] = smp
		el := time.Since(began)
		left := o.duration - el
		var parts []string
		for _, f := range freelists {
			s, ok := latest[f]
			if !ok {
				continue
			}
			if s.DBBytes > 0 && el > 0 {
				// Growth so far predicts when the target is reached.
				left = min(left, time.Duration(float64(target-s.DBBytes)/float64(s.DBBytes)*float64(el)))
			}
			parts = append(parts, fmt.Sprintf("%s %s, %.0f puts/s, p99 %s", f, bytesQ(s.DBBytes), float64(s.Writes)/o.sampleEvery.Seconds(), msP(s.PutP99)))
		}
		con.Progress(fmt.Sprintf("%s | %s | target %s | free disk %s | ETA %s", el.Round(time.Second), strings.Join(parts, " | "),
			bytesQ(target), bytesQ(int64(smp.DiskFree)), max(0, left).Round(time.Second)))
	}
	runs := make([]lab.EtcdSizeRun, len(freelists))
	var wg sync.WaitGroup
	for i, fl := range freelists {
		w := &lab.EtcdSizeWorkload{
			Freelist: fl, Store: stores[i], Workers: o.workers, TargetBytes: target, Duration: o.duration,
			CompactEvery: o.compactEvery, DefragEvery: o.defragEvery, SampleEvery: o.sampleEvery,
			Values: lab.DefaultValueMix, CreateShare: o.createShare, DeleteShare: o.deleteShare,
			BandBytes: bandBytes(target), DiskFree: diskFree, MinFreeBytes: minFree, Seed: 1,
			Progress: func(smp lab.EtcdSizeSample) { progress(fl, smp) },
		}
		wg.Go(func() {
			runs[i] = w.Run(gctx)
			stopAll()
		})
	}
	wg.Wait()
	if len(runs) > 1 && ctx.Err() == nil {
		for i := range runs {
			if runs[i].StopReason == lab.StopCanceled {
				runs[i].StopReason = lab.StopPartner
			}
		}
	}
	return runs, nil
}

// bandBytes splits the way to the target into about eight size bands,
// on round numbers.
func bandBytes(target int64) int64 {
	b := int64(16 << 20)
	for b*8 < target {
		b *= 2
	}
	return b
}

// embeddedStore is an in-process etcd member reached without a network.
type embeddedStore struct {
	e   *embed.Etcd
	cli *clientv3.Client
}

var _ lab.EtcdStore = (*embeddedStore)(nil)

func startEmbeddedEtcd(dir, freelist string, target int64) (*embeddedStore, error) {
	// The member serves TLS with client certificates, as under myriad up,
	// though the bench reaches it in-process.
	pkiRoot := controlplane.DataDir{Root: dir}
	if err := os.MkdirAll(pkiRoot.PKI(), 0o700); err != nil {
		return nil, err
	}
	certs, err := controlplane.EnsureCerts(pkiRoot)
	if err != nil {
		return nil, fmt.Errorf("etcd certificates: %w", err)
	}
	port, err := freePortPair(0)
	if err != nil {
		return nil, err
	}
	cfg, err := controlplane.EtcdConfig(controlplane.EtcdOptions{
		Dir: filepath.Join(dir, "data"), ClientPort: port, PeerPort: port + 1, Certs: certs, FreelistType: freelist,
		// Room past the target: the run measures growth, not the quota.
		QuotaBytes: max(2*target, controlplane.DefaultEtcdQuota),
	})
	if err != nil {
		return nil, err
	}
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(time.Minute):
		e.Close()
		return nil, errors.New("etcd not ready within 1m")
	}
	return &embeddedStore{e: e, cli: v3client.New(e.Server)}, nil
}

func (s *embeddedStore) Put(ctx context.Context, key string, value []byte) (int64, error) {
	resp, err := s.cli.Put(ctx, key, string(value))
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

func (s *embeddedStore) Delete(ctx context.Context, key string) error {
	_, err := s.cli.Delete(ctx, key)
	return err
}

func (s *embeddedStore) Compact(ctx context.Context, rev int64) error {
	_, err := s.cli.Compact(ctx, rev, clientv3.WithCompactPhysical())
	return err
}

func (s *embeddedStore) Defragment(context.Context) error { return s.e.Server.Backend().Defrag() }

func (s *embeddedStore) Size() (int64, int64) {
	b := s.e.Server.Backend()
	return b.Size(), b.SizeInUse()
}

func (s *embeddedStore) close() {
	s.cli.Close()
	s.e.Close()
}

// freeBytes is the space available to an unprivileged writer under dir.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func bytesQ(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	default:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
}

func msP(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fms", *v*1000)
}

func etcdSizeParameters(o etcdSizeOptions, target, minFree int64, outDir string) map[string]string {
	var mix []string
	for _, v := range lab.DefaultValueMix {
		mix = append(mix, fmt.Sprintf("%s %.0f%%", bytesQ(int64(v.Bytes)), v.Weight*100))
	}
	defrag := "never"
	if o.defragEvery > 0 {
		defrag = o.defragEvery.String()
	}
	return map[string]string{
		"freelists":   strings.Join(o.freelists, ", ") + " (one after the other, fresh data directory each)",
		"dbSize":      fmt.Sprintf("%s (stop when the database file reaches it)", bytesQ(target)),
		"duration":    o.duration.String() + " at most",
		"minFree":     bytesQ(minFree) + " free disk under --out",
		"workers":     fmt.Sprintf("%d concurrent writers, closed loop", o.workers),
		"writes":      fmt.Sprintf("%.0f%% new keys, %.0f%% deletes, the rest overwrite a random existing key", o.createShare*100, o.deleteShare*100),
		"values":      strings.Join(mix, ", ") + " (random bytes)",
		"compaction":  "every " + o.compactEvery.String() + " to the revision of the previous one, physical",
		"defrag":      defrag,
		"etcd":        "embedded in the bench process, myriad up's configuration (fsync on, 8 GiB or 2 × --db-size quota), periodic auto-compaction off",
		"sampleEvery": o.sampleEvery.String(),
		"dataDirs":    etcdSizeDir(outDir, "<freelist>") + map[bool]string{true: " (kept)", false: " (deleted after each run)"}[o.keepData],
		"command":     strings.Join(os.Args, " "),
	}
}
