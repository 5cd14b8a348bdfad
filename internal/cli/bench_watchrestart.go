package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

const (
	watchRestartChurnNS   = "wr-churn"
	watchRestartChurnPool = 100
)

type watchRestartOptions struct {
	cluster       soakOptions
	objects       int
	watchers      int
	objectBytes   int
	createWorkers int
	churnRate     float64
	settle        time.Duration
	observe       time.Duration
	signal        string
	restartIndex  int
}

func newBenchWatchRestartCommand() *cobra.Command {
	var o watchRestartOptions
	cmd := &cobra.Command{
		Use:   "watch-restart",
		Short: "Restart an API server under K watchers and count what is re-sent, with watch bookmarks on vs off",
		Long: `Start a cluster (by default two API servers behind the balancer, no nodes),
create --objects ConfigMaps spread over --watchers/2 namespaces, restart the
API servers once so their watch caches hold steady-state history, then start
--watchers client-go reflectors: for every namespace a pair sharing one
HTTP/2 connection, one asking for watch bookmarks and one not. While other
ConfigMaps change at --churn-rate, wait --settle, then restart one API
server (--signal KILL: a crash, TERM: graceful; the supervisor starts it
again) and watch for up to --observe what every watcher whose stream broke
is sent: a watch resumed from its resource version, or 410 Gone and a full
relist. Writes result.json and report.html to --out and exits non-zero if
the run did not complete (no restart, no watcher disrupted, or a watcher
that never re-established its watch).`,
		Example: `  myriad bench watch-restart --objects 20000 --watchers 200 --out /tmp/wr
  myriad bench watch-restart --apiservers 1 --out /tmp/wr-single
  myriad bench watch-restart --objects 200 --watchers 10 --settle 10s --out /tmp/wr-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			return runWatchRestart(cmd, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.objects, "objects", 20000, "ConfigMaps the watchers hold, spread evenly over their namespaces")
	f.IntVar(&o.watchers, "watchers", 200, "client-go reflectors, half with bookmarks (an even number)")
	f.IntVar(&o.objectBytes, "object-bytes", 1024, "data bytes per ConfigMap")
	f.IntVar(&o.createWorkers, "create-workers", 32, "concurrent creates while loading the objects")
	f.Float64Var(&o.churnRate, "churn-rate", 20, "writes per second to other ConfigMaps while watching (what moves the watch cache on)")
	f.DurationVar(&o.settle, "settle", 2*time.Minute, "how long the watchers run before the restart (bookmarks come about once a minute)")
	f.DurationVar(&o.observe, "observe", 2*time.Minute, "longest wait after the restart for every disrupted watcher to re-establish its watch")
	f.StringVar(&o.signal, "signal", "KILL", "how the API server is stopped: KILL (a crash: streams break at once) or TERM (graceful: upstream keeps watches open up to 60s)")
	f.IntVar(&o.restartIndex, "restart", 0, "which API server to restart (0-based)")
	addLabClusterFlags(cmd, &o.cluster, 0, "simulated nodes (none are needed: the objects are ConfigMaps)")
	// Two API servers by default: bookmarks matter when a broken watch
	// reconnects to a server whose watch cache has been running.
	o.cluster.apiservers = 2
	f.Lookup("apiservers").DefValue = "2"
	return cmd
}

func (o watchRestartOptions) validate() error {
	if err := validateClusterFlags(o.cluster); err != nil {
		return err
	}
	switch {
	case o.watchers < 2 || o.watchers%2 != 0 || o.watchers > 2000:
		return fmt.Errorf("--watchers must be an even number between 2 and 2000, got %d", o.watchers)
	case o.objects < o.watchers/2:
		return fmt.Errorf("--objects must be at least one per watcher pair (%d), got %d", o.watchers/2, o.objects)
	case o.objectBytes < 0 || o.objectBytes > 512<<10:
		return fmt.Errorf("--object-bytes must be between 0 and 524288, got %d", o.objectBytes)
	case o.churnRate < 0 || o.churnRate > 5000:
		return fmt.Errorf("--churn-rate must be between 0 and 5000 writes/s, got %g", o.churnRate)
	case o.settle <= 0:
		return fmt.Errorf("--settle must be positive, got %s", o.settle)
	case o.observe < 10*time.Second:
		return fmt.Errorf("--observe must be at least 10s, got %s", o.observe)
	case o.restartIndex < 0 || o.restartIndex >= o.cluster.apiservers:
		return fmt.Errorf("--restart must name one of the %d API servers (0 to %d), got %d", o.cluster.apiservers, o.cluster.apiservers-1, o.restartIndex)
	}
	if err := errors.Join(inRange("--create-workers", o.createWorkers, 1, 1024), inRange("--nodes", o.cluster.nodes, 0, 100000)); err != nil {
		return err
	}
	_, err := parseSignal("--signal", o.signal)
	return err
}

// watchRestart is one run of the scenario.
type watchRestart struct {
	o       watchRestartOptions
	con     *lab.Console
	lc      *labCluster
	sig     syscall.Signal
	perNS   int
	pairs   []*watcherPair
	stopW   context.CancelFunc
	wg      sync.WaitGroup
	churnOK atomic.Int64
	churnKO atomic.Int64
}

// watcherPair is two reflectors on one namespace over one connection.
type watcherPair struct {
	ns       string
	counters [2]*lab.WatchCounter // bookmarks on, off
	stores   [2]cache.Store
	held     [2]int
}

func runWatchRestart(cmd *cobra.Command, o watchRestartOptions) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	outDir, dataDir, closeLog, err := labOutput(o.cluster.out, o.cluster.dataDir)
	if err != nil {
		return err
	}
	defer closeLog()
	sig, _ := parseSignal("--signal", o.signal)
	w := &watchRestart{o: o, con: lab.NewConsole(out), sig: sig, perNS: o.objects / (o.watchers / 2)}
	in := lab.WatchRestartInput{Objects: w.perNS * o.watchers / 2}
	in.Info = lab.NewRunInfo("watch-restart", lab.ThisMachine(controlplane.KubernetesVersion), watchRestartParameters(o, dataDir, w.perNS), time.Now())
	stoppedEarly(out, w.con, &in.Info, w.run(ctx, dataDir, &in))
	for _, p := range w.pairs {
		for _, c := range p.counters {
			c.Freeze()
		}
	}
	if w.stopW != nil {
		w.stopW()
		w.wg.Wait()
	}
	for _, p := range w.pairs {
		for i, c := range p.counters {
			in.Watchers = append(in.Watchers, c.Report(p.ns, p.held[i]))
		}
	}
	endLab(out, &in.Info, w.lc)
	res := lab.BuildWatchRestartResult(in)
	path, err := lab.WriteWatchRestartReport(outDir, res)
	rows := lab.WatchRestartRows(res)
	if res.RelistRatio != nil {
		rows = append(rows, []string{"relist with bookmarks / without (the seed: ~3%)", fmt.Sprintf("%.1f%%", *res.RelistRatio*100), ""})
	}
	return reportLab(out, outDir, path, err, rows, res.Verdict)
}

// run does the scenario's steps in order; an error says which one stopped
// it.
func (w *watchRestart) run(ctx context.Context, dataDir string, in *lab.WatchRestartInput) error {
	o, con := w.o, w.con
	lc, err := startLabCluster(ctx, o.cluster, dataDir, con, func(up *controlplane.Options) { up.Scheduler = "none" })
	w.lc = lc
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	in.Restarted = fmt.Sprintf("%s of %d (%s)", lc.apiServerName(o.restartIndex), len(lc.Plan.APIServerPort), signalName(w.sig))
	namespaces := make([]string, o.watchers/2)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("wr-%04d", i)
	}
	if err := ensureNamespaces(ctx, lc.cs, append(namespaces, watchRestartChurnNS)...); err != nil {
		return fmt.Errorf("creating namespaces: %w", err)
	}
	began, total := time.Now(), len(namespaces)*w.perNS
	err = createConfigMaps(ctx, lc.cs, namespaces, w.perNS, o.objectBytes, o.createWorkers, func(n int) {
		rate := float64(n) / max(time.Since(began).Seconds(), 0.001)
		con.Progress(fmt.Sprintf("creating objects %d/%d (%.0f/s), ETA %s", n, total, rate, time.Duration(float64(total-n)/max(rate, 1)*float64(time.Second)).Round(time.Second)))
	})
	con.EndProgress()
	if err != nil {
		return fmt.Errorf("creating %d objects: %w", total, err)
	}
	fmt.Fprintf(con, "%d ConfigMaps of %d bytes created in %s\n", total, o.objectBytes, time.Since(began).Round(time.Second))
	if err := createConfigMaps(ctx, lc.cs, []string{watchRestartChurnNS}, watchRestartChurnPool, 64, 8, func(int) {}); err != nil {
		return fmt.Errorf("creating the churn ConfigMaps: %w", err)
	}
	// A watch cache holds its history until the buffer fills; right after
	// the load that is the load itself, which a few writes per second
	// would take many minutes to push out. A restart starts each cache at
	// the current revision, as in a cluster that has been running a while.
	for i := range lc.Plan.APIServerPort {
		fmt.Fprintf(con, "restarting %s so its watch cache starts from steady state ...\n", lc.apiServerName(i))
		ready, err := lc.apiServerReady(i)
		if err != nil {
			return err
		}
		// SIGKILL: a graceful stop holds open watches for a minute.
		if err := lc.restart(ctx, lc.apiServerName(i), syscall.SIGKILL, ready, 3*time.Minute); err != nil {
			return fmt.Errorf("restarting %s before the run: %w", lc.apiServerName(i), err)
		}
	}
	// The churn starts before the watchers list, so every API server's
	// cache has moved past the revision it started at: a watcher's first
	// resource version is then inside every cache's history, and only the
	// window moving on (or a restart) can put it outside.
	wctx := w.watchCtx()
	churnStart := time.Now()
	w.wg.Go(func() { w.churn(wctx) })
	defer func() {
		in.ChurnWrites, in.ChurnErrors, in.ChurnSeconds = int(w.churnOK.Load()), int(w.churnKO.Load()), time.Since(churnStart).Seconds()
	}()
	select {
	case <-ctx.Done():
		return errors.New("interrupted before the watchers started")
	case <-time.After(5 * time.Second):
	}
	if err := w.startWatchers(ctx, namespaces); err != nil {
		return fmt.Errorf("starting the watchers: %w", err)
	}
	fmt.Fprintf(con, "%d watchers synced; churn %.0f writes/s; restarting %s in %s\n", o.watchers, o.churnRate, lc.apiServerName(o.restartIndex), o.settle)
	end := time.Now().Add(o.settle)
	for time.Now().Before(end) {
		con.Progress(fmt.Sprintf("watching before the restart: %s left (ETA %s) | bookmarks so far %d | churn writes %d",
			time.Until(end).Round(time.Second), eta(end.Add(o.observe)), w.bookmarks(), w.churnOK.Load()))
		select {
		case <-ctx.Done():
			return errors.New("interrupted before the restart")
		case <-time.After(time.Second):
		}
	}
	con.EndProgress()
	return w.restartAndObserve(ctx, in)
}

func (w *watchRestart) watchCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	prev := w.stopW
	w.stopW = func() {
		cancel()
		if prev != nil {
			prev()
		}
	}
	return ctx
}

// startWatchers runs a pair of reflectors per namespace and waits until
// each holds its namespace's objects.
func (w *watchRestart) startWatchers(ctx context.Context, namespaces []string) error {
	kubeconfig := w.lc.Plan.Dir.AdminKubeconfig()
	wctx := w.watchCtx()
	for _, ns := range namespaces {
		rc, err := ownConnectionConfig(kubeconfig, "myriad-bench-watcher")
		if err != nil {
			return err
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return err
		}
		p := &watcherPair{ns: ns}
		for i, bookmarks := range []bool{true, false} {
			c := &lab.WatchCounter{
				Bookmarks: bookmarks,
				ListFunc: func(ctx context.Context, lo metav1.ListOptions) (runtime.Object, error) {
					return cs.CoreV1().ConfigMaps(ns).List(ctx, lo)
				},
				WatchFunc: func(ctx context.Context, lo metav1.ListOptions) (watch.Interface, error) {
					return cs.CoreV1().ConfigMaps(ns).Watch(ctx, lo)
				},
				Clock: clock.RealClock{},
			}
			store := cache.NewStore(cache.MetaNamespaceKeyFunc)
			// Watches that time out on their own would blur the count; an
			// hour outlasts any run.
			r := cache.NewReflectorWithOptions(c, &corev1.ConfigMap{}, store, cache.ReflectorOptions{
				Name: ns + map[bool]string{true: "/bookmarks", false: "/no-bookmarks"}[bookmarks], MinWatchTimeout: time.Hour})
			p.counters[i], p.stores[i] = c, store
			w.wg.Go(func() { r.RunWithContext(wctx) })
		}
		w.pairs = append(w.pairs, p)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		synced := 0
		for _, p := range w.pairs {
			for _, s := range p.stores {
				if len(s.ListKeys()) >= w.perNS {
					synced++
				}
			}
		}
		w.con.Progress(fmt.Sprintf("watchers synced %d/%d", synced, w.o.watchers))
		if synced == w.o.watchers {
			w.con.EndProgress()
			return nil
		}
		if time.Now().After(deadline) {
			w.con.EndProgress()
			return fmt.Errorf("only %d of %d watchers synced within 3m", synced, w.o.watchers)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// churn changes other ConfigMaps of the same resource at a steady rate: a
// busy cluster's writes, which move every API server's watch cache window
// on while the watched namespaces stay quiet.
func (w *watchRestart) churn(ctx context.Context) {
	paced(ctx, w.o.churnRate, 64, func(ctx context.Context, i int) {
		name := fmt.Sprintf("cm-%06d", i%watchRestartChurnPool)
		patch := fmt.Appendf(nil, `{"data":{"n":"%d"}}`, i)
		_, err := w.lc.cs.CoreV1().ConfigMaps(watchRestartChurnNS).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		switch {
		case err == nil:
			w.churnOK.Add(1)
		case ctx.Err() == nil:
			w.churnKO.Add(1)
		}
	})
}

func (w *watchRestart) bookmarks() int {
	n := 0
	for _, p := range w.pairs {
		r := p.counters[0].Report(p.ns, 0)
		n += r.Before.Bookmarks + r.After.Bookmarks
	}
	return n
}

// restartAndObserve signals the API server and waits until every watcher
// it disrupted has re-established its watch (at least 10s, at most
// --observe).
func (w *watchRestart) restartAndObserve(ctx context.Context, in *lab.WatchRestartInput) error {
	o, lc, con := w.o, w.lc, w.con
	for _, p := range w.pairs {
		for i, c := range p.counters {
			p.held[i] = len(p.stores[i].ListKeys())
			c.Mark()
		}
	}
	name := lc.apiServerName(o.restartIndex)
	ready, err := lc.apiServerReady(o.restartIndex)
	if err != nil {
		return err
	}
	at := time.Now()
	pid, err := lc.signal(name, w.sig)
	if err != nil {
		return fmt.Errorf("restarting %s: %w", name, err)
	}
	in.RestartAt = &at
	fmt.Fprintf(con, "%s signalled (%s, pid %d); observing the watchers for up to %s\n", name, signalName(w.sig), pid, o.observe)
	var readyAt atomic.Pointer[time.Time]
	rctx, cancel := context.WithTimeout(ctx, o.observe+2*time.Minute)
	defer cancel()
	restarted := make(chan error, 1)
	go func() {
		t, err := lc.waitRestarted(rctx, name, pid, ready)
		if err == nil {
			readyAt.Store(&t)
		}
		restarted <- err
	}()
	end := at.Add(o.observe)
	// A watch request is known good only once the server has not refused
	// it for a while, so "all re-established" must hold for a few checks.
	stable := 0
	for {
		disrupted, recovered, relisted := w.recovery()
		el := time.Since(at)
		con.Progress(fmt.Sprintf("after the restart %s (ETA %s) | disrupted %d, re-established %d, relisted %d | %s %s",
			el.Round(time.Second), eta(end), disrupted, recovered, relisted, name, map[bool]string{true: "ready", false: "restarting"}[readyAt.Load() != nil]))
		if disrupted > 0 && recovered == disrupted && readyAt.Load() != nil {
			stable++
		} else {
			stable = 0
		}
		if el >= 10*time.Second && stable >= 6 {
			break
		}
		if time.Now().After(end) {
			break
		}
		select {
		case <-ctx.Done():
			con.EndProgress()
			in.RestartReadyAt = readyAt.Load()
			return errors.New("interrupted while observing the watchers after the restart")
		case <-time.After(500 * time.Millisecond):
		}
	}
	con.EndProgress()
	if readyAt.Load() == nil {
		// Every watcher is counted; the restarted server may still come up.
		select {
		case err := <-restarted:
			if err != nil {
				fmt.Fprintf(con, "warning: %v\n", err)
			}
		case <-ctx.Done():
		}
	}
	in.RestartReadyAt = readyAt.Load()
	return nil
}

// recovery counts disrupted watchers, those with their watch back, and
// those that relisted.
func (w *watchRestart) recovery() (disrupted, recovered, relisted int) {
	for _, p := range w.pairs {
		for _, c := range p.counters {
			r := c.Report(p.ns, 0)
			if r.Disrupted {
				disrupted++
				if r.RecoverySeconds != nil {
					recovered++
				}
			}
			if r.Relisted {
				relisted++
			}
		}
	}
	return disrupted, recovered, relisted
}

func watchRestartParameters(o watchRestartOptions, dataDir string, perNS int) map[string]string {
	return clusterParameters(map[string]string{
		"objects":     fmt.Sprintf("%d ConfigMaps (%d per namespace, %d namespaces)", perNS*o.watchers/2, perNS, o.watchers/2),
		"objectBytes": strconv.Itoa(o.objectBytes),
		"watchers":    fmt.Sprintf("%d client-go reflectors: per namespace one with allowWatchBookmarks and one without, sharing one connection", o.watchers),
		"watchMode":   "LIST then WATCH (WatchList streaming off for both halves), watch timeout 1h",
		"churn":       fmt.Sprintf("%.0f merge patches/s over %d ConfigMaps in %s", o.churnRate, watchRestartChurnPool, watchRestartChurnNS),
		"settle":      o.settle.String(),
		"observe":     o.observe.String() + " at most",
		"restart":     fmt.Sprintf("API server %d of %d, %s; the supervisor starts it again after 1s", o.restartIndex, o.cluster.apiservers, strings.ToUpper(o.signal)),
		"warmRestart": "every API server killed and restarted once after loading the objects (watch caches from steady state)",
	}, o.cluster, dataDir)
}
