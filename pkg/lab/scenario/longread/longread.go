// Package longread is `myriad bench long-read`: it writes at a fixed rate
// through the API server and times every write, first alone, then while
// readers run large LISTs (from the watch cache, stale or consistent) or
// range reads on etcd itself, then alone again. The seed's claim is etcd
// 3.4's: with fully concurrent reads, write p99 under long reads fell by
// 90%. Its figures are each phase's write latency and its ratio to the
// writes-alone baseline.
//
// It must never judge a phase it did not measure: a phase without a timed
// write (or a read phase without a finished read) is "no data" and fails
// the run, as does a planned phase that never ran. It writes only to its
// own namespaces (lr-*), and runs only on a cluster it started, whose etcd
// it reads directly.
package longread

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

const (
	writesNamespace = "lr-writes"
	// etcdConfigMapPrefix is where kube-apiserver keeps ConfigMaps in etcd
	// (its default --etcd-prefix, /registry).
	etcdConfigMapPrefix = "/registry/configmaps/"
	// warmUp is writes before the first phase: connections, caches and
	// the writer's first requests would otherwise land in it.
	warmUp = 5 * time.Second
)

// conns are the run's clients beside the rig's: the writer's, the
// readers' (each on a connection of its own) and the metrics scrapers.
type conns struct {
	writer kubernetes.Interface
	// read is one long read of kind by reader r: the bytes received and,
	// where known, the objects.
	read func(ctx context.Context, r int, kind string) (bytes, objects int64, err error)
	// scrape is one scrape of the API server ("api") and etcd.
	scrape func(ctx context.Context) serverScrape
	close  func()
}

// serverScrape is one scrape per server: "api" and "etcd".
type serverScrape map[string]lab.Families

// Scenario is one long-read run.
type Scenario struct {
	o Options
	// start and connect bring up the cluster and the clients; tests
	// replace them with a fake rig and fake readers.
	start   func(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error)
	connect func(r *rig.Rig, readers int, con *lab.Console) (*conns, error)
}

var _ lab.Scenario = (*Scenario)(nil)

// New is the scenario with o (which must be valid) on a cluster it starts.
func New(o Options) *Scenario { return &Scenario{o: o, start: startCluster, connect: connect} }

func startCluster(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, error) {
	return rig.Start(ctx, o, con, func(_ lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("starting the cluster %s", el.Round(time.Second))
	})
}

// Name is the command's name.
func (s *Scenario) Name() string { return "long-read" }

// Run starts the cluster, loads the objects and runs the phases in order.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o := s.o
	perNS := o.perNamespace()
	w := &run{s: s, o: o, clk: env.Clock, con: env.Console, names: PhaseNames(o.Phases)}
	in := Input{Objects: perNS * o.Namespaces, ObjectBytes: o.ObjectBytes, WriteRate: o.WriteRate, Readers: o.Readers, Planned: w.names}
	in.Info = lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), o.parameters(), env.Clock.Now())
	in.Info.StopEarly(w.con, w.steps(ctx, &in))
	if w.c != nil {
		w.c.close()
	}
	w.rig.Stop()
	in.Info.Finish(env.Clock.Now(), w.rig.Processes())
	return BuildResult(in)
}

// run is one run in progress.
type run struct {
	s     *Scenario
	o     Options
	clk   clock.WithTicker
	con   *lab.Console
	rig   *rig.Rig
	c     *conns
	names []string
}

func (w *run) steps(ctx context.Context, in *Input) error {
	o, con := w.o, w.con
	ro := o.Rig
	ro.Scheduler = "none"
	r, err := w.s.start(ctx, ro, con)
	w.rig = r
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	if w.c, err = w.s.connect(r, o.Readers, con); err != nil {
		return fmt.Errorf("connecting the writer and readers: %w", err)
	}
	if err := w.load(ctx); err != nil {
		return err
	}
	wctx, cancel := rig.WithTimeout(ctx, w.clk, warmUp)
	w.write(wctx, &[]lab.TimedOp{}, &sync.Mutex{})
	cancel()
	end := w.clk.Now().Add(time.Duration(len(o.Phases)) * o.PhaseDuration)
	for i, kind := range o.Phases {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted before phase %d (%s)", i+1, w.names[i])
		}
		p := w.phase(ctx, i, kind, end)
		in.Phases = append(in.Phases, p)
		con.EndProgress()
		con.Printf("phase %d/%d %s: %d writes, %d reads", i+1, len(o.Phases), w.names[i], len(p.Writes), len(p.Reads))
	}
	if ctx.Err() != nil {
		return errors.New("interrupted during the last phase")
	}
	return nil
}

// load creates the namespaces, the objects every long read returns and
// the writer's pool.
func (w *run) load(ctx context.Context) error {
	o, con := w.o, w.con
	perNS := o.perNamespace()
	namespaces := make([]string, o.Namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("lr-data-%03d", i)
	}
	if err := w.rig.Namespaces(ctx, append(namespaces, writesNamespace)...); err != nil {
		return fmt.Errorf("creating namespaces: %w", err)
	}
	began, total := w.clk.Now(), perNS*o.Namespaces
	err := w.rig.ConfigMaps(ctx, namespaces, perNS, o.ObjectBytes, o.CreateWorkers, func(n int) {
		rate := float64(n) / max(w.clk.Since(began).Seconds(), 0.001)
		con.Progress(fmt.Sprintf("creating objects %d/%d (%.0f/s), ETA %s", n, total, rate, time.Duration(float64(total-n)/max(rate, 1)*float64(time.Second)).Round(time.Second)))
	})
	con.EndProgress()
	if err != nil {
		return fmt.Errorf("creating %d objects: %w", total, err)
	}
	if err := w.rig.ConfigMaps(ctx, []string{writesNamespace}, o.WritePool, 256, 8, nil); err != nil {
		return fmt.Errorf("creating the written ConfigMaps: %w", err)
	}
	con.Printf("%d ConfigMaps of %d bytes created in %s; %d phases of %s follow", total, o.ObjectBytes, w.clk.Since(began).Round(time.Second), len(o.Phases), o.PhaseDuration)
	return nil
}

// phase runs writes (and reads) for one phase and scrapes the servers'
// histograms at both ends.
func (w *run) phase(ctx context.Context, i int, kind string, runEnd time.Time) PhaseInput {
	name := w.names[i]
	p := PhaseInput{Name: name, Kind: kind}
	before := w.c.scrape(ctx)
	pctx, cancel := rig.WithTimeout(ctx, w.clk, w.o.PhaseDuration)
	defer cancel()
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		readBytes atomic.Int64
		readObjs  atomic.Int64
	)
	p.From = w.clk.Now()
	wg.Go(func() { p.SkippedWrites = w.write(pctx, &p.Writes, &mu) })
	if kind != Baseline {
		for r := range w.o.Readers {
			wg.Go(func() { w.read(pctx, r, kind, &p.Reads, &mu, &readBytes, &readObjs) })
		}
	}
	tick := w.clk.NewTicker(time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-pctx.Done():
			done = true
		case <-tick.C():
			mu.Lock()
			nw, nr := len(p.Writes), len(p.Reads)
			mu.Unlock()
			w.con.Progress(fmt.Sprintf("phase %d/%d %s: %s left, ETA %s | writes %d | long reads %d", i+1, len(w.o.Phases), name,
				p.From.Add(w.o.PhaseDuration).Sub(w.clk.Now()).Round(time.Second), max(0, runEnd.Sub(w.clk.Now())).Round(time.Second), nw, nr))
		}
	}
	wg.Wait()
	p.To = w.clk.Now()
	p.ReadBytes, p.ReadObjects = readBytes.Load(), readObjs.Load()
	after := w.c.scrape(ctx)
	p.APIWrite = histDelta(before, after, "api", "apiserver_request_duration_seconds", map[string]string{"verb": "PATCH", "resource": "configmaps"})
	p.APIList = histDelta(before, after, "api", "apiserver_request_duration_seconds", map[string]string{"verb": "LIST", "resource": "configmaps"})
	p.EtcdCommit = histDelta(before, after, "etcd", "etcd_disk_backend_commit_duration_seconds", nil)
	p.EtcdFsync = histDelta(before, after, "etcd", "etcd_disk_wal_fsync_duration_seconds", nil)
	return p
}

// write patches the pool's ConfigMaps at the write rate until ctx ends and
// appends each timing; a write still running at the end completes and
// counts.
func (w *run) write(ctx context.Context, ops *[]lab.TimedOp, mu *sync.Mutex) (skipped int) {
	return rig.Paced(ctx, w.clk, w.o.WriteRate, 256, func(pctx context.Context, i int) {
		name := fmt.Sprintf("cm-%06d", i%w.o.WritePool)
		patch := fmt.Appendf(nil, `{"data":{"n":"%d"}}`, i)
		// Not the phase's context: cutting the last writes short would
		// record cancellations as latencies. The writer's client has a
		// timeout of its own.
		start := w.clk.Now()
		_, err := w.c.writer.CoreV1().ConfigMaps(writesNamespace).Patch(context.WithoutCancel(pctx), name, types.MergePatchType, patch, metav1.PatchOptions{})
		op := lab.TimedOp{At: start, Seconds: w.clk.Since(start).Seconds(), Err: err != nil}
		mu.Lock()
		*ops = append(*ops, op)
		mu.Unlock()
	})
}

// read loops one reader's long reads until ctx ends; a read cut off by
// the end of the phase is not counted.
func (w *run) read(ctx context.Context, r int, kind string, ops *[]lab.TimedOp, mu *sync.Mutex, bytes, objects *atomic.Int64) {
	for ctx.Err() == nil {
		start := w.clk.Now()
		n, objs, err := w.c.read(ctx, r, kind)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			bytes.Add(n)
			objects.Add(objs)
		}
		mu.Lock()
		*ops = append(*ops, lab.TimedOp{At: start, Seconds: w.clk.Since(start).Seconds(), Err: err != nil})
		mu.Unlock()
		if err != nil {
			// Do not spin on a failing server.
			select {
			case <-ctx.Done():
			case <-w.clk.After(time.Second):
			}
		}
	}
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

// connect makes the writer's and each reader's connections (API server
// and etcd) and the scrapers of the started cluster.
func connect(r *rig.Rig, readers int, con *lab.Console) (*conns, error) {
	client := func(agent string, timeout time.Duration) (kubernetes.Interface, error) {
		return kubernetes.NewForConfig(kubeclient.Apply(r.Config, kubeclient.Options{
			QPS: 1000, Burst: 1000, Protobuf: true, UserAgent: agent, Timeout: timeout, OwnConnection: true}))
	}
	c := &conns{}
	var err error
	if c.writer, err = client("myriad-bench-writer", 30*time.Second); err != nil {
		return nil, err
	}
	certs := r.Cluster.Plan.Certs
	tlsCfg, err := transport.TLSInfo{CertFile: certs.EtcdClientCert, KeyFile: certs.EtcdClientKey, TrustedCAFile: certs.EtcdCA}.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd client TLS: %w", err)
	}
	var lists []kubernetes.Interface
	var etcds []*clientv3.Client
	c.close = func() {
		for _, e := range etcds {
			e.Close()
		}
	}
	for range readers {
		// A LIST of tens of MB on a loaded machine takes seconds.
		cs, err := client("myriad-bench-reader", 2*time.Minute)
		if err != nil {
			c.close()
			return nil, err
		}
		lists = append(lists, cs)
		ec, err := clientv3.New(clientv3.Config{Endpoints: []string{fmt.Sprintf("https://127.0.0.1:%d", r.Cluster.Plan.EtcdPort)}, TLS: tlsCfg,
			DialTimeout: 10 * time.Second, MaxCallRecvMsgSize: 1 << 30, Logger: zap.NewNop()})
		if err != nil {
			c.close()
			return nil, fmt.Errorf("etcd client: %w", err)
		}
		etcds = append(etcds, ec)
	}
	c.read = func(ctx context.Context, i int, kind string) (int64, int64, error) {
		if kind == EtcdRange {
			resp, err := etcds[i].Get(ctx, etcdConfigMapPrefix, clientv3.WithPrefix())
			if err != nil {
				return 0, 0, err
			}
			var n int64
			for _, kv := range resp.Kvs {
				n += int64(len(kv.Key) + len(kv.Value))
			}
			return n, int64(len(resp.Kvs)), nil
		}
		req := lists[i].CoreV1().RESTClient().Get().Resource("configmaps")
		if kind == Cache {
			req = req.Param("resourceVersion", "0")
		}
		// The body is counted, not decoded: decoding tens of MB would
		// spend the bench's CPU on the same two cores the servers use.
		body, err := req.Stream(ctx)
		if err != nil {
			return 0, 0, err
		}
		defer body.Close()
		n, err := io.Copy(io.Discard, body)
		return n, 0, err
	}
	targets, err := r.Scrapers()
	if err != nil {
		con.Printf("warning: %v; server-side figures will be absent", err)
	}
	c.scrape = func(ctx context.Context) serverScrape {
		// Each scrape has the scraper's own timeout (20s).
		out := serverScrape{}
		if len(targets.APIServers) > 0 {
			if f, err := targets.APIServers[0].Scrape(ctx); err == nil {
				out["api"] = f
			}
		}
		if targets.Etcd != nil {
			if f, err := targets.Etcd.Scrape(ctx); err == nil {
				out["etcd"] = f
			}
		}
		return out
	}
	return c, nil
}
