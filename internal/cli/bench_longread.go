package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

const (
	longReadWritesNS = "lr-writes"
	// etcdConfigMapPrefix is where kube-apiserver keeps ConfigMaps in etcd
	// (its default --etcd-prefix, /registry).
	etcdConfigMapPrefix = "/registry/configmaps/"
)

type longReadOptions struct {
	cluster       soakOptions
	objects       int
	objectBytes   int
	namespaces    int
	writeRate     float64
	writePool     int
	readers       int
	phaseDuration time.Duration
	phases        []string
	createWorkers int
}

func newBenchLongReadCommand() *cobra.Command {
	var o longReadOptions
	cmd := &cobra.Command{
		Use:   "long-read",
		Short: "Write latency while large LISTs run: writes alone vs with long reads from the watch cache or etcd",
		Long: `Start a cluster (one API server, no nodes), create --objects ConfigMaps of
--object-bytes, then run --phases of --phase-duration each. In every phase a
writer merge-patches ConfigMaps at --write-rate on a fixed schedule and
times each write; in the read phases --readers readers, each on a
connection of its own, loop over one read of every ConfigMap:

  baseline         no reads
  list-cache       LIST with resourceVersion=0 (the watch cache, may be stale)
  list-consistent  LIST without resourceVersion (consistent, from the watch cache)
  etcd-range       a range read of /registry/configmaps/ on etcd itself

Reports write p50/p99 per phase and their ratio to the baseline, read
latency, the API server's and etcd's own latencies, and CPU per process.
Writes result.json and report.html to --out; exits non-zero if a phase did
not run or write p99 broke the 1 s mutating-call SLO (list p99: 30 s).`,
		Example: `  myriad bench long-read --objects 20000 --object-bytes 2048 --out /tmp/lr
  myriad bench long-read --objects 500 --phase-duration 10s --out /tmp/lr-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			return runLongRead(cmd, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.objects, "objects", 20000, "ConfigMaps every long read returns")
	f.IntVar(&o.objectBytes, "object-bytes", 2048, "data bytes per ConfigMap")
	f.IntVar(&o.namespaces, "namespaces", 10, "namespaces the objects are spread over")
	f.Float64Var(&o.writeRate, "write-rate", 50, "writes per second (merge patches of ConfigMaps), on a fixed schedule")
	f.IntVar(&o.writePool, "write-pool", 100, "ConfigMaps the writer patches in turn")
	f.IntVar(&o.readers, "readers", 2, "concurrent long readers in the read phases")
	f.DurationVar(&o.phaseDuration, "phase-duration", time.Minute, "length of each phase")
	f.StringSliceVar(&o.phases, "phases", []string{lab.LongReadBaseline, lab.LongReadCache, lab.LongReadConsistent, lab.LongReadEtcd, lab.LongReadBaseline},
		"phases in order: baseline, list-cache, list-consistent, etcd-range")
	f.IntVar(&o.createWorkers, "create-workers", 32, "concurrent creates while loading the objects")
	addLabClusterFlags(cmd, &o.cluster, 0, "simulated nodes (none are needed: the objects are ConfigMaps)")
	return cmd
}

func (o longReadOptions) validate() error {
	if err := validateClusterFlags(o.cluster); err != nil {
		return err
	}
	switch {
	case o.objects < 1:
		return fmt.Errorf("--objects must be at least 1, got %d", o.objects)
	case o.objectBytes < 0 || o.objectBytes > 512<<10:
		return fmt.Errorf("--object-bytes must be between 0 and 524288, got %d", o.objectBytes)
	case o.namespaces < 1 || o.namespaces > o.objects:
		return fmt.Errorf("--namespaces must be between 1 and --objects (%d), got %d", o.objects, o.namespaces)
	case o.writeRate <= 0 || o.writeRate > 5000:
		return fmt.Errorf("--write-rate must be above 0 and at most 5000 writes/s, got %g", o.writeRate)
	case o.phaseDuration < 5*time.Second:
		return fmt.Errorf("--phase-duration must be at least 5s, got %s", o.phaseDuration)
	case len(o.phases) == 0:
		return errors.New("--phases must name at least one phase")
	}
	if err := errors.Join(inRange("--create-workers", o.createWorkers, 1, 1024), inRange("--nodes", o.cluster.nodes, 0, 100000),
		inRange("--write-pool", o.writePool, 1, 10000), inRange("--readers", o.readers, 1, 64)); err != nil {
		return err
	}
	for _, p := range o.phases {
		if _, ok := lab.LongReadKinds[p]; !ok {
			return fmt.Errorf("--phases: unknown phase %q (use baseline, list-cache, list-consistent, etcd-range)", p)
		}
	}
	return nil
}

// longRead is one run of the scenario.
type longRead struct {
	o        longReadOptions
	con      *lab.Console
	lc       *labCluster
	writer   kubernetes.Interface
	readers  []kubernetes.Interface
	etcd     []*clientv3.Client
	scrapers lab.Targets
}

func runLongRead(cmd *cobra.Command, o longReadOptions) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	outDir, dataDir, closeLog, err := labOutput(o.cluster.out, o.cluster.dataDir)
	if err != nil {
		return err
	}
	defer closeLog()
	lr := &longRead{o: o, con: lab.NewConsole(out)}
	perNS := o.objects / o.namespaces
	in := lab.LongReadInput{Objects: perNS * o.namespaces, ObjectBytes: o.objectBytes, WriteRate: o.writeRate, Readers: o.readers}
	in.Info = lab.NewRunInfo("long-read", lab.ThisMachine(controlplane.KubernetesVersion), longReadParameters(o, dataDir, perNS), time.Now())
	stoppedEarly(out, lr.con, &in.Info, lr.run(ctx, dataDir, perNS, &in))
	for _, c := range lr.etcd {
		c.Close()
	}
	endLab(out, &in.Info, lr.lc)
	res := lab.BuildLongReadResult(in)
	path, err := lab.WriteLongReadReport(outDir, res)
	return reportLab(out, outDir, path, err, lab.LongReadRows(res), res.Verdict)
}

func (lr *longRead) run(ctx context.Context, dataDir string, perNS int, in *lab.LongReadInput) error {
	o, con := lr.o, lr.con
	lc, err := startLabCluster(ctx, o.cluster, dataDir, con, func(up *controlplane.Options) { up.Scheduler = "none" })
	lr.lc = lc
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	if err := lr.clients(); err != nil {
		return err
	}
	namespaces := make([]string, o.namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("lr-data-%03d", i)
	}
	if err := ensureNamespaces(ctx, lc.cs, append(namespaces, longReadWritesNS)...); err != nil {
		return fmt.Errorf("creating namespaces: %w", err)
	}
	began, total := time.Now(), perNS*o.namespaces
	err = createConfigMaps(ctx, lc.cs, namespaces, perNS, o.objectBytes, o.createWorkers, func(n int) {
		rate := float64(n) / max(time.Since(began).Seconds(), 0.001)
		con.Progress(fmt.Sprintf("creating objects %d/%d (%.0f/s), ETA %s", n, total, rate, time.Duration(float64(total-n)/max(rate, 1)*float64(time.Second)).Round(time.Second)))
	})
	con.EndProgress()
	if err != nil {
		return fmt.Errorf("creating %d objects: %w", total, err)
	}
	if err := createConfigMaps(ctx, lc.cs, []string{longReadWritesNS}, o.writePool, 256, 8, func(int) {}); err != nil {
		return fmt.Errorf("creating the written ConfigMaps: %w", err)
	}
	fmt.Fprintf(con, "%d ConfigMaps of %d bytes created in %s; %d phases of %s follow\n", total, o.objectBytes, time.Since(began).Round(time.Second), len(o.phases), o.phaseDuration)
	// A few seconds of writes first: connections, caches and the
	// writer's first requests would otherwise land in the first phase.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	lr.write(wctx, &[]lab.TimedOp{}, &sync.Mutex{})
	cancel()
	end := time.Now().Add(time.Duration(len(o.phases)) * o.phaseDuration)
	names := phaseNames(o.phases)
	for i, kind := range o.phases {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted before phase %d (%s)", i+1, names[i])
		}
		p := lr.phase(ctx, i, names[i], kind, end)
		in.Phases = append(in.Phases, p)
		con.EndProgress()
		fmt.Fprintf(con, "phase %d/%d %s: %d writes, %d reads\n", i+1, len(o.phases), names[i], len(p.Writes), len(p.Reads))
	}
	if ctx.Err() != nil {
		return errors.New("interrupted during the last phase")
	}
	return nil
}

// clients makes the writer's and each reader's connections (API server
// and etcd), and the metrics scrapers.
func (lr *longRead) clients() error {
	kubeconfig := lr.lc.Plan.Dir.AdminKubeconfig()
	conn := func(agent string) (kubernetes.Interface, error) {
		rc, err := ownConnectionConfig(kubeconfig, agent)
		if err != nil {
			return nil, err
		}
		// A LIST of tens of MB on a loaded machine takes seconds.
		rc.Timeout = 2 * time.Minute
		return kubernetes.NewForConfig(rc)
	}
	var err error
	if lr.writer, err = conn("myriad-bench-writer"); err != nil {
		return err
	}
	certs := lr.lc.Plan.Certs
	tlsCfg, err := transport.TLSInfo{CertFile: certs.EtcdClientCert, KeyFile: certs.EtcdClientKey, TrustedCAFile: certs.CA}.ClientConfig()
	if err != nil {
		return fmt.Errorf("etcd client TLS: %w", err)
	}
	for range lr.o.readers {
		cs, err := conn("myriad-bench-reader")
		if err != nil {
			return err
		}
		lr.readers = append(lr.readers, cs)
		ec, err := clientv3.New(clientv3.Config{Endpoints: []string{fmt.Sprintf("https://127.0.0.1:%d", lr.lc.Plan.EtcdPort)}, TLS: tlsCfg,
			DialTimeout: 10 * time.Second, MaxCallRecvMsgSize: 1 << 30, Logger: zap.NewNop()})
		if err != nil {
			return fmt.Errorf("etcd client: %w", err)
		}
		lr.etcd = append(lr.etcd, ec)
	}
	lr.scrapers, err = soakTargets(lr.lc.Plan, 0)
	if err != nil {
		fmt.Fprintf(lr.con, "warning: %v; server-side figures will be absent\n", err)
	}
	return nil
}

// phaseNames makes repeated phases distinct: baseline, …, baseline-2.
func phaseNames(kinds []string) []string {
	seen := map[string]int{}
	out := make([]string, len(kinds))
	for i, k := range kinds {
		seen[k]++
		out[i] = k
		if seen[k] > 1 {
			out[i] = fmt.Sprintf("%s-%d", k, seen[k])
		}
	}
	return out
}

// phase runs writes (and reads) for one phase and scrapes the servers'
// histograms at both ends.
func (lr *longRead) phase(ctx context.Context, i int, name, kind string, runEnd time.Time) lab.LongReadPhaseInput {
	p := lab.LongReadPhaseInput{Name: name, Kind: kind}
	before := lr.scrape(ctx)
	pctx, cancel := context.WithTimeout(ctx, lr.o.phaseDuration)
	defer cancel()
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		readBytes atomic.Int64
		readObjs  atomic.Int64
	)
	p.From = time.Now()
	wg.Go(func() { p.SkippedWrites = lr.write(pctx, &p.Writes, &mu) })
	if kind != lab.LongReadBaseline {
		for r := range lr.o.readers {
			wg.Go(func() { lr.read(pctx, r, kind, &p.Reads, &mu, &readBytes, &readObjs) })
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-pctx.Done():
			done = true
		case <-tick.C:
			mu.Lock()
			nw, nr := len(p.Writes), len(p.Reads)
			mu.Unlock()
			lr.con.Progress(fmt.Sprintf("phase %d/%d %s: %s left, ETA %s | writes %d | long reads %d",
				i+1, len(lr.o.phases), name, time.Until(p.From.Add(lr.o.phaseDuration)).Round(time.Second), eta(runEnd), nw, nr))
		}
	}
	wg.Wait()
	p.To = time.Now()
	p.ReadBytes, p.ReadObjects = readBytes.Load(), readObjs.Load()
	after := lr.scrape(ctx)
	p.APIWrite = histDelta(before, after, "api", "apiserver_request_duration_seconds", map[string]string{"verb": "PATCH", "resource": "configmaps"})
	p.APIList = histDelta(before, after, "api", "apiserver_request_duration_seconds", map[string]string{"verb": "LIST", "resource": "configmaps"})
	p.EtcdCommit = histDelta(before, after, "etcd", "etcd_disk_backend_commit_duration_seconds", nil)
	p.EtcdFsync = histDelta(before, after, "etcd", "etcd_disk_wal_fsync_duration_seconds", nil)
	return p
}

// write patches the pool's ConfigMaps at the write rate until ctx ends and
// appends each timing; a write still running at the end completes and
// counts.
func (lr *longRead) write(ctx context.Context, ops *[]lab.TimedOp, mu *sync.Mutex) (skipped int) {
	return paced(ctx, lr.o.writeRate, 256, func(pctx context.Context, i int) {
		name := fmt.Sprintf("cm-%06d", i%lr.o.writePool)
		patch := fmt.Appendf(nil, `{"data":{"n":"%d"}}`, i)
		// Not the phase's context: cutting the last writes short would
		// record cancellations as latencies.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(pctx), 30*time.Second)
		defer cancel()
		start := time.Now()
		_, err := lr.writer.CoreV1().ConfigMaps(longReadWritesNS).Patch(wctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		op := lab.TimedOp{At: start, Seconds: time.Since(start).Seconds(), Err: err != nil}
		mu.Lock()
		*ops = append(*ops, op)
		mu.Unlock()
	})
}

// read loops one reader's long reads until ctx ends; a read cut off by
// the end of the phase is not counted.
func (lr *longRead) read(ctx context.Context, r int, kind string, ops *[]lab.TimedOp, mu *sync.Mutex, bytes, objects *atomic.Int64) {
	for ctx.Err() == nil {
		start := time.Now()
		n, objs, err := lr.readOnce(ctx, r, kind)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			bytes.Add(n)
			objects.Add(objs)
		}
		mu.Lock()
		*ops = append(*ops, lab.TimedOp{At: start, Seconds: time.Since(start).Seconds(), Err: err != nil})
		mu.Unlock()
		if err != nil {
			// Do not spin on a failing server.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// readOnce is one long read; it returns the bytes received and, where
// known, the objects.
func (lr *longRead) readOnce(ctx context.Context, r int, kind string) (int64, int64, error) {
	if kind == lab.LongReadEtcd {
		resp, err := lr.etcd[r].Get(ctx, etcdConfigMapPrefix, clientv3.WithPrefix())
		if err != nil {
			return 0, 0, err
		}
		var n int64
		for _, kv := range resp.Kvs {
			n += int64(len(kv.Key) + len(kv.Value))
		}
		return n, int64(len(resp.Kvs)), nil
	}
	req := lr.readers[r].CoreV1().RESTClient().Get().Resource("configmaps")
	if kind == lab.LongReadCache {
		req = req.Param("resourceVersion", "0")
	}
	// The body is counted, not decoded: decoding tens of MB would spend
	// the bench's CPU on the same two cores the servers use.
	body, err := req.Stream(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer body.Close()
	n, err := io.Copy(io.Discard, body)
	return n, 0, err
}

// serverScrape is one scrape of every API server ("api", summed) and etcd.
type serverScrape map[string]lab.Families

func (lr *longRead) scrape(ctx context.Context) serverScrape {
	out := serverScrape{}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if len(lr.scrapers.APIServers) > 0 {
		if f, err := lr.scrapers.APIServers[0].Scrape(sctx); err == nil {
			out["api"] = f
		}
	}
	if lr.scrapers.Etcd != nil {
		if f, err := lr.scrapers.Etcd.Scrape(sctx); err == nil {
			out["etcd"] = f
		}
	}
	return out
}

func histDelta(before, after serverScrape, who, name string, match map[string]string) *lab.Histogram {
	a, ok := after[who].Histogram(name, match)
	if !ok {
		return nil
	}
	if _, scraped := before[who]; !scraped {
		return nil
	}
	// A series first seen after the phase began counted from zero.
	if b, ok := before[who].Histogram(name, match); ok {
		a = a.Sub(b)
	}
	return &a
}

func longReadParameters(o longReadOptions, dataDir string, perNS int) map[string]string {
	return clusterParameters(map[string]string{
		"objects":       fmt.Sprintf("%d ConfigMaps in %d namespaces", perNS*o.namespaces, o.namespaces),
		"objectBytes":   strconv.Itoa(o.objectBytes),
		"writes":        fmt.Sprintf("%.0f merge patches/s over %d ConfigMaps in %s, fixed schedule, up to 256 in flight", o.writeRate, o.writePool, longReadWritesNS),
		"readers":       fmt.Sprintf("%d, each on its own connection; API server LISTs in protobuf, body counted not decoded", o.readers),
		"phases":        strings.Join(phaseNames(o.phases), ", "),
		"phaseDuration": o.phaseDuration.String(),
	}, o.cluster, dataDir)
}
