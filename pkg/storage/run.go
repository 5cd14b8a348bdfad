package storage

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller/metrics"
)

// LeaderElection configures the Lease that picks the active instance.
type LeaderElection struct {
	Enabled                                   bool
	Namespace, Name                           string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// DefaultLeaderElection is upstream's timing, as for `myriad manager`.
func DefaultLeaderElection() LeaderElection {
	return LeaderElection{Enabled: true, Namespace: "kube-system", Name: "myriad-storage",
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
}

// Options configure Run.
type Options struct {
	Client         kubernetes.Interface
	LeaderElection LeaderElection
	// Workers is how many claims are provisioned, and how many resized,
	// at once.
	Workers  int
	Registry prometheus.Registerer // nil: no metrics
	Clock    clock.WithTicker      // nil: the real clock
}

// Controller runs the provisioner and the resizer.
type Controller struct {
	o       Options
	ready   atomic.Bool
	leading atomic.Bool
}

// New checks o and returns a Controller to Run.
func New(o Options) (*Controller, error) {
	if o.Client == nil {
		return nil, fmt.Errorf("storage: no client")
	}
	if o.Workers < 1 {
		return nil, fmt.Errorf("storage: workers must be positive, got %d", o.Workers)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return &Controller{o: o}, nil
}

// Ready reports whether the caches have synced (leader or warm standby).
func (c *Controller) Ready() bool { return c.ready.Load() }

// Run watches claims, volumes and classes from the start, so a standby
// takes over with a warm cache, and provisions and resizes while it holds
// the Lease. It returns nil when ctx ends and an error if leadership is
// lost, so the supervisor restarts it clean.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := klog.FromContext(ctx)
	kube := c.o.Client

	factory := informers.NewSharedInformerFactory(kube, 0)
	claims := factory.Core().V1().PersistentVolumeClaims()
	volumes := factory.Core().V1().PersistentVolumes()
	classes := factory.Storage().V1().StorageClasses()

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "myriad-storage"})

	m := metrics.New("myriad_storage")
	if c.o.Registry != nil {
		for _, col := range []prometheus.Collector{m.PersistentVolumeClaimProvisionTotal, m.PersistentVolumeClaimProvisionFailedTotal,
			m.PersistentVolumeClaimProvisionDurationSeconds, m.PersistentVolumeDeleteTotal, m.PersistentVolumeDeleteFailedTotal,
			m.PersistentVolumeDeleteDurationSeconds} {
			if err := c.o.Registry.Register(col); err != nil {
				return fmt.Errorf("register storage metrics: %w", err)
			}
		}
	}
	// The library's queues retry a failed claim after 15 s at first; a
	// claim of a simulated node fails only on a passing API error, so
	// retry sooner.
	limiter := workqueue.NewTypedItemExponentialFailureRateLimiter[string](500*time.Millisecond, 5*time.Minute)
	pc := controller.NewProvisionController(ctx, kube, ProvisionerName, &provisioner{client: kube},
		controller.LeaderElection(false), // the Lease below covers the resizer too
		controller.ClaimsInformer(claims.Informer()),
		controller.VolumesInformer(volumes.Informer()),
		controller.ClassesInformer(classes.Informer()),
		controller.Threadiness(c.o.Workers),
		controller.RateLimiter(limiter),
		controller.MetricsInstance(m),
		controller.ResyncPeriod(0),
	)
	rz := newResizer(kube, claims, volumes, recorder, c.o.Clock)

	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("storage: cache of %v did not sync", typ)
		}
	}
	c.ready.Store(true)
	logger.Info("Caches synced", "claims", len(claims.Informer().GetStore().ListKeys()), "provisioner", ProvisionerName)

	work := func(ctx context.Context) {
		c.leading.Store(true)
		var wg sync.WaitGroup
		wg.Go(func() { pc.Run(ctx) })
		wg.Go(func() { rz.run(ctx, c.o.Workers) })
		wg.Wait()
	}
	le := c.o.LeaderElection
	if !le.Enabled {
		work(ctx)
		return nil
	}
	host, _ := os.Hostname()
	id := host + "_" + string(uuid.NewUUID())
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, le.Namespace, le.Name,
		kube.CoreV1(), kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	var lost atomic.Bool
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, Name: le.Name, ReleaseOnCancel: true,
		LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				logger.Info("Became leader, provisioning", "lease", le.Namespace+"/"+le.Name, "identity", id)
				work(ctx)
			},
			OnStoppedLeading: func() {
				if c.leading.Load() && ctx.Err() == nil {
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
