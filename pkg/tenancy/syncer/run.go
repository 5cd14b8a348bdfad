package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/tenancy/fairqueue"
)

// LeaderElection configures the Lease that picks the active instance.
type LeaderElection struct {
	Enabled                                   bool
	Namespace, Name                           string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// DefaultLeaderElection is upstream's timing, as for `myriad storage`.
func DefaultLeaderElection() LeaderElection {
	return LeaderElection{Enabled: true, Namespace: "kube-system", Name: "myriad-syncer",
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
}

// TenantClientFunc makes a client of a tenant's API server from the
// syncer kubeconfig the tenant host wrote for it.
type TenantClientFunc func(tenant string, kubeconfig []byte) (kubernetes.Interface, error)

// TenantClients builds tenant clients with o (rate limits, wire format);
// each gets a connection of its own, as the tenants' API servers differ.
func TenantClients(o kubeclient.Options) TenantClientFunc {
	return func(tenant string, kubeconfig []byte) (kubernetes.Interface, error) {
		rc, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: syncer kubeconfig: %w", tenant, err)
		}
		return kubernetes.NewForConfig(kubeclient.Apply(rc, o))
	}
}

// Options configure a Syncer.
type Options struct {
	// Super is the super cluster; Dynamic reads its Tenants.
	Super   kubernetes.Interface
	Dynamic dynamic.Interface
	// TenantClient connects to a tenant; required.
	TenantClient TenantClientFunc
	// Workers drain the fair queue.
	Workers int
	// MaxInFlightPerTenant caps the workers one tenant's keys hold at
	// once; 0 means a quarter of Workers (at least 1).
	MaxInFlightPerTenant int
	// Resync is how often every object is checked again on both sides
	// and orphans are removed; 0 means 5 minutes.
	Resync time.Duration
	// NodeGC is how often unused virtual nodes are removed; 0 means one
	// minute.
	NodeGC         time.Duration
	LeaderElection LeaderElection
	// KubeletProxy serves the tenants' logs, exec, attach and
	// port-forward (kubeletproxy.go); nil leaves them unserved.
	KubeletProxy *KubeletProxy
	Registry     prometheus.Registerer // nil: no metrics registered
	Clock        clock.WithTicker      // nil: the real clock
}

// Syncer keeps tenants' pods running on the super cluster.
type Syncer struct {
	o       Options
	m       *metrics
	queue   *fairqueue.Queue[key]
	super   *superCache
	ready   atomic.Bool
	leading atomic.Bool
	proxy   *kubeletProxy // nil: virtual nodes report the super nodes' kubelet endpoints

	mu      sync.RWMutex
	tenants map[string]*tenantCluster
}

// New checks o and returns a Syncer to Run.
func New(o Options) (*Syncer, error) {
	switch {
	case o.Super == nil || o.Dynamic == nil:
		return nil, fmt.Errorf("syncer: no super-cluster client")
	case o.TenantClient == nil:
		return nil, fmt.Errorf("syncer: no tenant client factory")
	case o.Workers < 1:
		return nil, fmt.Errorf("syncer: workers must be positive, got %d", o.Workers)
	}
	if o.Resync <= 0 {
		o.Resync = 5 * time.Minute
	}
	if o.MaxInFlightPerTenant <= 0 {
		o.MaxInFlightPerTenant = max(1, o.Workers/4)
	}
	if o.NodeGC <= 0 {
		o.NodeGC = time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	q := fairqueue.New(fairqueue.Options[key]{TenantOf: tenantOf, Clock: o.Clock,
		BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Minute, MaxInFlight: o.MaxInFlightPerTenant, Observer: m})
	s := &Syncer{o: o, m: m, queue: q, tenants: map[string]*tenantCluster{}}
	if o.KubeletProxy != nil {
		if s.proxy, err = newKubeletProxy(s, *o.KubeletProxy); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Ready reports whether the super-cluster caches have synced (leader or
// warm standby).
func (s *Syncer) Ready() bool { return s.ready.Load() }

// Run watches the super cluster and every Ready tenant from the start, so
// a standby takes over with warm caches, and syncs while it holds the
// Lease. It returns nil when ctx ends and an error if leadership is lost,
// so the supervisor restarts it clean.
func (s *Syncer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := klog.FromContext(ctx)

	s.super = newSuperCache(s)
	tw := newTenantWatcher(s)
	s.super.start(ctx)
	tw.factory.Start(ctx.Done())
	defer tw.factory.Shutdown()
	defer s.super.shutdown()
	if err := s.super.waitForSync(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for typ, ok := range tw.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("syncer: cache of %v did not sync", typ)
		}
	}
	s.ready.Store(true)
	logger.Info("Caches synced", "tenants", len(tw.informer.GetStore().ListKeys()))

	var wg sync.WaitGroup
	defer s.stopAllTenants() // after the watcher, which starts them, is gone
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { tw.run(ctx) })

	le := s.o.LeaderElection
	if !le.Enabled {
		s.lead(ctx)
		return nil
	}
	host, _ := os.Hostname()
	id := host + "_" + string(uuid.NewUUID())
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, le.Namespace, le.Name,
		s.o.Super.CoreV1(), s.o.Super.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	var lost atomic.Bool
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, Name: le.Name, ReleaseOnCancel: true,
		LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				logger.Info("Became leader, syncing", "lease", le.Namespace+"/"+le.Name, "identity", id)
				s.lead(ctx)
			},
			OnStoppedLeading: func() {
				if s.leading.Load() && ctx.Err() == nil {
					lost.Store(true)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	elector.Run(ctx)
	if lost.Load() {
		return fmt.Errorf("lost leadership of lease %s/%s", le.Namespace, le.Name)
	}
	return nil
}

// lead does the writing: it queues every object of every served tenant
// (events seen on standby were not queued) and drains the queue until ctx
// ends.
func (s *Syncer) lead(ctx context.Context) {
	s.leading.Store(true)
	var wg sync.WaitGroup
	for _, tc := range s.servedTenants() {
		s.resyncTenant(tc)
	}
	for range s.o.Workers {
		wg.Go(func() {
			for s.processNext(ctx) {
			}
		})
	}
	wg.Go(func() { s.every(ctx, s.o.Resync, s.resyncAll) })
	wg.Go(func() { s.every(ctx, s.o.NodeGC, s.collectVirtualNodes) })
	wg.Go(func() { s.every(ctx, s.o.NodeGC, s.collectMirroredVolumes) })
	if s.proxy != nil {
		wg.Go(func() { s.proxy.serve(ctx) })
	}
	<-ctx.Done()
	s.queue.ShutDown()
	wg.Wait()
}

func (s *Syncer) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := s.o.Clock.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			f(ctx)
		}
	}
}

// enqueue queues a key on the leader; a standby only keeps caches warm.
func (s *Syncer) enqueue(k key) {
	if s.leading.Load() {
		s.queue.Add(k)
	}
}

// syncTimeout bounds one key's sync. A tenant's API server that hangs
// (stopped, overloaded, partitioned) would otherwise hold a worker for as
// long as the connection lives, and enough of its keys would hold them
// all, stalling every other tenant; its keys fail and back off instead.
const syncTimeout = 30 * time.Second

// errNotYet asks for a retry without it being a failure worth an event.
var errNotYet = errors.New("not yet")

func (s *Syncer) processNext(ctx context.Context) bool {
	k, ok := s.queue.Get()
	if !ok {
		return false
	}
	defer s.queue.Done(k)
	tc := s.tenant(k.Tenant)
	if tc == nil {
		s.queue.Forget(k)
		return true
	}
	if !tc.synced.Load() {
		// Nothing is decided on a half-filled cache; the tenant's full
		// resync when it syncs covers this key too.
		s.queue.Forget(k)
		return true
	}
	start := s.o.Clock.Now()
	sctx, cancel := context.WithTimeout(ctx, syncTimeout)
	err := s.sync(sctx, tc, k)
	cancel()
	s.m.syncTime.WithLabelValues(k.Tenant, k.Kind.direction(), k.Kind.String()).Observe(s.o.Clock.Since(start).Seconds())
	if err == nil {
		s.queue.Forget(k)
		return true
	}
	if apierrors.IsConflict(err) {
		s.m.conflicts.WithLabelValues(k.Tenant).Inc()
	}
	if !errors.Is(err, errNotYet) && !apierrors.IsConflict(err) {
		klog.FromContext(ctx).V(2).Info("Sync failed, retrying", "tenant", k.Tenant, "kind", k.Kind.String(),
			"direction", k.Kind.direction(), "namespace", k.Namespace, "name", k.Name, "err", err)
	}
	s.queue.AddRateLimited(k)
	return true
}

// sync dispatches one key.
func (s *Syncer) sync(ctx context.Context, tc *tenantCluster, k key) error {
	switch k.Kind {
	case kindNamespace:
		return s.syncNamespace(ctx, tc, k.Name)
	case kindPod:
		return s.syncPod(ctx, tc, k.Namespace, k.Name)
	case kindService:
		return s.syncService(ctx, tc, k.Namespace, k.Name)
	case kindConfigMap:
		return s.syncConfigMap(ctx, tc, k.Namespace, k.Name)
	case kindSecret:
		return s.syncSecret(ctx, tc, k.Namespace, k.Name)
	case kindPVC:
		return s.syncPVC(ctx, tc, k.Namespace, k.Name)
	case kindPodStatus:
		return s.syncPodUp(ctx, tc, k.Namespace, k.Name)
	case kindEvent:
		return s.syncEvent(ctx, tc, k.Namespace, k.Name)
	case kindNode:
		return s.refreshVirtualNode(ctx, tc, k.Name)
	}
	return nil
}

func (s *Syncer) synced(tenant string, k kind) {
	s.m.synced.WithLabelValues(tenant, k.direction(), k.String()).Inc()
}
