// Package watchrestart is `myriad bench watch-restart`: it puts K client-go
// reflectors on a cluster of its own, half of them asking for watch
// bookmarks and half not (in pairs sharing one connection, so both halves
// land on the same API server), restarts an API server under them while
// other ConfigMaps churn, and counts what each watcher is sent afterwards:
// a watch resumed from its last resource version, or 410 Gone and a full
// relist. Its figure is the seed's "relist reduced to ~3%" with bookmarks.
//
// It must never judge the comparison without both halves measured: an arm
// with no watcher disrupted by the restart has no re-sent share, and the
// run fails with "no data" instead of reporting a ratio of nothing. It
// writes only to its own namespaces (wr-*) and never runs on a cluster it
// did not start, since it kills an API server.
package watchrestart

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

const (
	churnNamespace = "wr-churn"
	churnPool      = 100
	// churnLead is how long the churn runs before the watchers list, so
	// every watch cache has moved past the revision it started at.
	churnLead = 5 * time.Second
)

// apiServers is what the scenario does to the cluster's API servers.
type apiServers interface {
	Count() int
	Name(i int) string
	Ready(i int) (func(context.Context) error, error)
	Signal(name string, sig syscall.Signal) (int, error)
	WaitRestarted(ctx context.Context, name string, oldPid int, ready func(context.Context) error) (time.Time, error)
}

// rigServers are the started cluster's API servers.
type rigServers struct{ *rig.Rig }

func (r rigServers) Count() int                                       { return len(r.Cluster.Plan.APIServerPort) }
func (r rigServers) Name(i int) string                                { return r.APIServerName(i) }
func (r rigServers) Ready(i int) (func(context.Context) error, error) { return r.APIServerReady(i) }

// Scenario is one watch-restart run.
type Scenario struct {
	o Options
	// start brings up the cluster; tests replace it with a fake rig.
	start func(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, apiServers, error)
	// watcherClient is a client on a TCP connection of its own, shared by
	// one pair of watchers.
	watcherClient func(r *rig.Rig) (kubernetes.Interface, error)
}

var _ lab.Scenario = (*Scenario)(nil)

// New is the scenario with o (which must be valid) on a cluster it starts.
func New(o Options) *Scenario {
	return &Scenario{o: o, start: startCluster, watcherClient: ownConnection}
}

func startCluster(ctx context.Context, o rig.Options, con *lab.Console) (*rig.Rig, apiServers, error) {
	r, err := rig.Start(ctx, o, con, func(_ lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("starting the cluster (%d API servers) %s", o.APIServers, el.Round(time.Second))
	})
	return r, rigServers{r}, err
}

func ownConnection(r *rig.Rig) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(kubeclient.Apply(r.Config, kubeclient.Options{
		QPS: 1000, Burst: 1000, Protobuf: true, UserAgent: "myriad-bench-watcher", OwnConnection: true}))
}

// Name is the command's name.
func (s *Scenario) Name() string { return "watch-restart" }

// Run starts the cluster, loads the objects, warms the watch caches,
// starts the churn and the watchers, restarts the API server and observes
// the watchers until each disrupted one has its watch back.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	sig, _ := s.o.signal()
	w := &run{s: s, o: s.o, clk: env.Clock, con: env.Console, sig: sig, perNS: s.o.perNamespace()}
	in := Input{Objects: w.perNS * s.o.Watchers / 2}
	in.Info = lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), s.o.parameters(), env.Clock.Now())
	in.Info.StopEarly(w.con, w.steps(ctx, &in))
	in.Watchers = w.stop()
	if !w.churnStart.IsZero() {
		in.ChurnWrites, in.ChurnErrors = int(w.churnOK.Load()), int(w.churnKO.Load())
		in.ChurnSeconds = w.churnEnd.Sub(w.churnStart).Seconds()
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
	apis  apiServers
	sig   syscall.Signal
	perNS int
	pairs []*watcherPair

	cancels              []context.CancelFunc
	wg                   sync.WaitGroup
	churnOK, churnKO     atomic.Int64
	churnStart, churnEnd time.Time
}

// watcherPair is two reflectors on one namespace over one connection.
type watcherPair struct {
	ns       string
	counters [2]*WatchCounter // bookmarks on, off
	stores   [2]cache.Store
	held     [2]int
}

// steps does the scenario's steps in order; an error says which one
// stopped it.
func (w *run) steps(ctx context.Context, in *Input) error {
	ro := w.o.Rig
	ro.Scheduler = "none"
	r, apis, err := w.s.start(ctx, ro, w.con)
	w.rig, w.apis = r, apis
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	in.Restarted = fmt.Sprintf("%s of %d (%s)", apis.Name(w.o.RestartIndex), apis.Count(), signalName(w.sig))
	namespaces, err := w.load(ctx)
	if err != nil {
		return err
	}
	if err := w.warm(ctx); err != nil {
		return err
	}
	// The churn starts before the watchers list, so every API server's
	// cache has moved past the revision it started at: a watcher's first
	// resource version is then inside every cache's history, and only the
	// window moving on (or a restart) can put it outside.
	cctx := w.background()
	w.churnStart = w.clk.Now()
	w.wg.Go(func() { w.churn(cctx); w.churnEnd = w.clk.Now() })
	select {
	case <-ctx.Done():
		return errors.New("interrupted before the watchers started")
	case <-w.clk.After(churnLead):
	}
	if err := w.startWatchers(ctx, namespaces); err != nil {
		return fmt.Errorf("starting the watchers: %w", err)
	}
	if err := w.settle(ctx); err != nil {
		return err
	}
	return w.restartAndObserve(ctx, in)
}

// load creates the watched namespaces with their ConfigMaps, and the
// churn pool.
func (w *run) load(ctx context.Context) ([]string, error) {
	o, con := w.o, w.con
	namespaces := make([]string, o.Watchers/2)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("wr-%04d", i)
	}
	if err := w.rig.Namespaces(ctx, append(namespaces, churnNamespace)...); err != nil {
		return nil, fmt.Errorf("creating namespaces: %w", err)
	}
	began, total := w.clk.Now(), len(namespaces)*w.perNS
	err := w.rig.ConfigMaps(ctx, namespaces, w.perNS, o.ObjectBytes, o.CreateWorkers, func(n int) {
		rate := float64(n) / max(w.clk.Since(began).Seconds(), 0.001)
		con.Progress(fmt.Sprintf("creating objects %d/%d (%.0f/s), ETA %s", n, total, rate, time.Duration(float64(total-n)/max(rate, 1)*float64(time.Second)).Round(time.Second)))
	})
	con.EndProgress()
	if err != nil {
		return nil, fmt.Errorf("creating %d objects: %w", total, err)
	}
	con.Printf("%d ConfigMaps of %d bytes created in %s", total, o.ObjectBytes, w.clk.Since(began).Round(time.Second))
	if err := w.rig.ConfigMaps(ctx, []string{churnNamespace}, churnPool, 64, 8, nil); err != nil {
		return nil, fmt.Errorf("creating the churn ConfigMaps: %w", err)
	}
	return namespaces, nil
}

// warm restarts every API server once. A watch cache holds its history
// until the buffer fills; right after the load that is the load itself,
// which a few writes per second would take many minutes to push out. A
// restart starts each cache at the current revision, as in a cluster that
// has been running a while.
func (w *run) warm(ctx context.Context) error {
	for i := range w.apis.Count() {
		name := w.apis.Name(i)
		w.con.Printf("restarting %s so its watch cache starts from steady state ...", name)
		ready, err := w.apis.Ready(i)
		if err != nil {
			return err
		}
		// SIGKILL: a graceful stop holds open watches for a minute.
		pid, err := w.apis.Signal(name, syscall.SIGKILL)
		if err != nil {
			return fmt.Errorf("restarting %s before the run: %w", name, err)
		}
		rctx, cancel := rig.WithTimeout(ctx, w.clk, 3*time.Minute)
		_, err = w.apis.WaitRestarted(rctx, name, pid, ready)
		cancel()
		if err != nil {
			return fmt.Errorf("restarting %s before the run: %w", name, err)
		}
	}
	return nil
}

// background is a context for what runs until the end (churn, watchers),
// not the caller's: an interrupted run still stops them in order.
func (w *run) background() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancels = append(w.cancels, cancel)
	return ctx
}

// stop freezes the counters, stops the watchers and the churn, and returns
// every watcher's report.
func (w *run) stop() []WatcherReport {
	for _, p := range w.pairs {
		for _, c := range p.counters {
			c.Freeze()
		}
	}
	for _, cancel := range w.cancels {
		cancel()
	}
	w.wg.Wait()
	var out []WatcherReport
	for _, p := range w.pairs {
		for i, c := range p.counters {
			out = append(out, c.Report(p.ns, p.held[i]))
		}
	}
	return out
}

// startWatchers runs a pair of reflectors per namespace and waits until
// each holds its namespace's objects.
func (w *run) startWatchers(ctx context.Context, namespaces []string) error {
	wctx := w.background()
	for _, ns := range namespaces {
		cs, err := w.s.watcherClient(w.rig)
		if err != nil {
			return err
		}
		p := &watcherPair{ns: ns}
		for i, bookmarks := range []bool{true, false} {
			c := &WatchCounter{
				Bookmarks: bookmarks,
				ListFunc: func(ctx context.Context, lo metav1.ListOptions) (runtime.Object, error) {
					return cs.CoreV1().ConfigMaps(ns).List(ctx, lo)
				},
				WatchFunc: func(ctx context.Context, lo metav1.ListOptions) (watch.Interface, error) {
					return cs.CoreV1().ConfigMaps(ns).Watch(ctx, lo)
				},
				Clock: w.clk,
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
	deadline := w.clk.Now().Add(3 * time.Minute)
	for {
		synced := 0
		for _, p := range w.pairs {
			for _, s := range p.stores {
				if len(s.ListKeys()) >= w.perNS {
					synced++
				}
			}
		}
		w.con.Progress(fmt.Sprintf("watchers synced %d/%d", synced, w.o.Watchers))
		if synced == w.o.Watchers {
			w.con.EndProgress()
			return nil
		}
		if w.clk.Now().After(deadline) {
			w.con.EndProgress()
			return fmt.Errorf("only %d of %d watchers synced within 3m", synced, w.o.Watchers)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.clk.After(250 * time.Millisecond):
		}
	}
}

// settle lets the watchers run before the restart, long enough for
// bookmarks to arrive (about one a minute).
func (w *run) settle(ctx context.Context) error {
	o := w.o
	name := w.apis.Name(o.RestartIndex)
	w.con.Printf("%d watchers synced; churn %.0f writes/s; restarting %s in %s", o.Watchers, o.ChurnRate, name, o.Settle)
	end := w.clk.Now().Add(o.Settle)
	for w.clk.Now().Before(end) {
		w.con.Progress(fmt.Sprintf("watching before the restart: %s left (ETA %s) | bookmarks so far %d | churn writes %d",
			end.Sub(w.clk.Now()).Round(time.Second), w.eta(end.Add(o.Observe)), w.bookmarks(), w.churnOK.Load()))
		select {
		case <-ctx.Done():
			return errors.New("interrupted before the restart")
		case <-w.clk.After(time.Second):
		}
	}
	w.con.EndProgress()
	return nil
}

func (w *run) eta(end time.Time) string {
	return max(0, end.Sub(w.clk.Now())).Round(time.Second).String()
}

// churn changes other ConfigMaps of the same resource at a steady rate: a
// busy cluster's writes, which move every API server's watch cache window
// on while the watched namespaces stay quiet.
func (w *run) churn(ctx context.Context) {
	rig.Paced(ctx, w.clk, w.o.ChurnRate, 64, func(ctx context.Context, i int) {
		name := fmt.Sprintf("cm-%06d", i%churnPool)
		patch := fmt.Appendf(nil, `{"data":{"n":"%d"}}`, i)
		_, err := w.rig.Client.CoreV1().ConfigMaps(churnNamespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		switch {
		case err == nil:
			w.churnOK.Add(1)
		case ctx.Err() == nil:
			w.churnKO.Add(1)
		}
	})
}

func (w *run) bookmarks() int {
	n := 0
	for _, p := range w.pairs {
		r := p.counters[0].Report(p.ns, 0)
		n += r.Before.Bookmarks + r.After.Bookmarks
	}
	return n
}

// restartAndObserve signals the API server and waits until every watcher
// it disrupted has re-established its watch (at least 10s, at most
// Observe).
func (w *run) restartAndObserve(ctx context.Context, in *Input) error {
	o, con := w.o, w.con
	for _, p := range w.pairs {
		for i, c := range p.counters {
			p.held[i] = len(p.stores[i].ListKeys())
			c.Mark()
		}
	}
	name := w.apis.Name(o.RestartIndex)
	ready, err := w.apis.Ready(o.RestartIndex)
	if err != nil {
		return err
	}
	at := w.clk.Now()
	pid, err := w.apis.Signal(name, w.sig)
	if err != nil {
		return fmt.Errorf("restarting %s: %w", name, err)
	}
	in.RestartAt = &at
	con.Printf("%s signalled (%s, pid %d); observing the watchers for up to %s", name, signalName(w.sig), pid, o.Observe)
	var readyAt atomic.Pointer[time.Time]
	rctx, cancel := rig.WithTimeout(ctx, w.clk, o.Observe+2*time.Minute)
	defer cancel()
	restarted := make(chan error, 1)
	go func() {
		t, err := w.apis.WaitRestarted(rctx, name, pid, ready)
		if err == nil {
			readyAt.Store(&t)
		}
		restarted <- err
	}()
	end := at.Add(o.Observe)
	// A watch request is known good only once the server has not refused
	// it for a while, so "all re-established" must hold for a few checks.
	stable := 0
	for {
		disrupted, recovered, relisted := w.recovery()
		el := w.clk.Since(at)
		con.Progress(fmt.Sprintf("after the restart %s (ETA %s) | disrupted %d, re-established %d, relisted %d | %s %s",
			el.Round(time.Second), w.eta(end), disrupted, recovered, relisted, name, map[bool]string{true: "ready", false: "restarting"}[readyAt.Load() != nil]))
		if disrupted > 0 && recovered == disrupted && readyAt.Load() != nil {
			stable++
		} else {
			stable = 0
		}
		if (el >= 10*time.Second && stable >= 6) || w.clk.Now().After(end) {
			break
		}
		select {
		case <-ctx.Done():
			con.EndProgress()
			in.RestartReadyAt = readyAt.Load()
			return errors.New("interrupted while observing the watchers after the restart")
		case <-w.clk.After(500 * time.Millisecond):
		}
	}
	con.EndProgress()
	if readyAt.Load() == nil {
		// Every watcher is counted; the restarted server may still come up.
		select {
		case err := <-restarted:
			if err != nil {
				con.Printf("warning: %v", err)
			}
		case <-ctx.Done():
		}
	}
	in.RestartReadyAt = readyAt.Load()
	return nil
}

// recovery counts disrupted watchers, those with their watch back, and
// those that relisted.
func (w *run) recovery() (disrupted, recovered, relisted int) {
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

func signalName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGTERM"
}
