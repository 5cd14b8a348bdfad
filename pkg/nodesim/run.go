package nodesim

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/nodesim/kubeletapi"
	"github.com/myriad-dev/myriad/pkg/nodesim/sandbox"
)

// sim is one process's fleet of simulated nodes.
type sim struct {
	cfg          Config
	client       kubernetes.Interface
	clock        clock.WithTicker
	metrics      *metrics
	leaseSeconds int32
	images       []corev1.ContainerImage // status.images of every node, shared read-only
	imagesBytes  float64                 // their sizes' sum, what they take of every node's disk

	nodes  []*simNode          // by index - StartIndex
	byName map[string]*simNode // read-only after construction: lock-free lookups from informer handlers

	disp        *dispatcher
	queue       workqueue.TypedRateLimitingInterface[string]
	pods        cache.SharedIndexInformer
	claims      cache.SharedIndexInformer // slim PVCs: may a pod's volumes be mounted
	podsStarted atomic.Bool
	// written holds, per pod UID, the resourceVersion of the last status
	// this process wrote (see stale); entries go when the pod does.
	written sync.Map
	// arrivals hold, per pod created bound to one of our nodes and not
	// yet started, when the informer first delivered it (admissionOrder).
	arrivals    sync.Map
	arrivalSeq  atomic.Uint64
	failedCount atomic.Int64
	// files are what commands wrote in containers (kubectl exec), which
	// probes (exec and HTTP) see.
	files  *sandbox.Files
	probes *probes
	// restarts are the in-place restarts waiting for their node's relist.
	restarts restarts
	// events are the kubelets' events (nil: Config.Events is off).
	events *eventRecorders
	// evict is the eviction manager's state (eviction.go).
	evict evictions
	// models are the pods' parsed usage models, which the eviction
	// manager and the OOM killer read.
	models kubeletapi.Models

	fatal chan error // first error that retrying cannot fix
}

func newSim(client kubernetes.Interface, cfg Config) (*sim, error) {
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid nodesim config: %w", err)
	}
	if cfg.KubeletAPI != nil {
		k := *cfg.KubeletAPI // ours to fill in (the bound port)
		cfg.KubeletAPI = &k
	}
	s := &sim{
		cfg:          cfg,
		client:       client,
		clock:        cfg.Clock,
		metrics:      newMetrics(),
		leaseSeconds: int32(cfg.LeaseDuration / time.Second),
		images:       nodeImages(cfg.Images),
		nodes:        make([]*simNode, cfg.Count),
		byName:       make(map[string]*simNode, cfg.Count),
		fatal:        make(chan error, 1),
	}
	for k := range cfg.Count {
		idx := cfg.StartIndex + k
		cidr, err := nodeCIDR(cfg.PodCIDR, idx)
		if err != nil {
			return nil, fmt.Errorf("PodCIDR: %w", err)
		}
		n := &simNode{index: idx, name: fmt.Sprintf("%s%d", cfg.NamePrefix, idx), ip: internalIP(idx), ips: newPodIPs(cidr)}
		s.nodes[k] = n
		s.byName[n.name] = n
	}
	for _, img := range s.images {
		s.imagesBytes += float64(img.SizeBytes)
	}
	s.evict.byNode = make([]nodePressure, cfg.Count)
	s.files = sandbox.NewFiles(0, 0, s.onFilesChanged)
	s.probes = newProbes(s.files, cfg.ImageCatalog, s.clock)
	s.disp = newDispatcher(s.clock, cfg.Count, s.heartbeat)
	s.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		// Per-pod backoff absorbs 429/5xx and conflicts; no global bucket,
		// the client's QPS limit already bounds the write rate.
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodesim-pods", Clock: s.clock})
	s.metrics.nodes.WithLabelValues("total").Set(float64(cfg.Count))
	s.metrics.nodes.WithLabelValues("failed").Set(0)
	if cfg.Registry != nil {
		if err := s.metrics.register(cfg.Registry, func() float64 { return float64(s.queue.Len()) }); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Run registers cfg.Count nodes and keeps them alive until ctx is done. It
// returns an error when the config is invalid or the cluster refuses what no
// retry can fix (e.g. RBAC forbids creating nodes); a nil error means ctx
// ended.
func Run(ctx context.Context, client kubernetes.Interface, cfg Config) error {
	s, err := newSim(client, cfg)
	if err != nil {
		return err
	}
	return s.run(ctx)
}

func (s *sim) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer s.queue.ShutDown()
	logger := klog.FromContext(ctx)

	api, err := s.prepareKubeletAPI(ctx)
	if err != nil {
		return err
	}
	if api != nil {
		defer api.listener.Close() // Serve closes it too; closing twice is harmless
	}
	if s.cfg.Events {
		s.events = newEventRecorders(s.client, s.nodes)
		defer s.events.shutdown()
	}
	if err := s.registerAll(ctx); err != nil {
		return err
	}
	logger.Info("Registered simulated nodes", "count", s.cfg.Count, "first", s.nodes[0].name)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs before wg.Wait

	nodeInf := s.nodeInformer()
	s.pods = s.podInformer()
	s.claims = s.claimInformer()
	for _, inf := range []cache.SharedIndexInformer{nodeInf, s.pods, s.claims} {
		// An informer retries a forbidden list forever; surface it instead.
		_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
			s.fail(err)
			cache.DefaultWatchErrorHandler(ctx, r, err)
		})
		wg.Go(func() { inf.RunWithContext(ctx) })
	}
	synced := make(chan bool, 1)
	wg.Go(func() {
		synced <- cache.WaitForCacheSync(ctx.Done(), nodeInf.HasSynced, s.pods.HasSynced, s.claims.HasSynced)
	})
	select {
	case ok := <-synced:
		if !ok {
			return nil // ctx ended
		}
	case err := <-s.fatal:
		return fmt.Errorf("watch nodes, pods and persistentvolumeclaims: %w", err)
	}
	s.claimPodIPs()
	s.podsStarted.Store(true)
	if api != nil {
		// After the pod cache synced: the API answers from it.
		wg.Go(func() {
			if err := api.server.Serve(ctx, api.listener); err != nil {
				s.failWith(fmt.Errorf("kubelet API: %w", err))
			}
		})
	}

	// Spread first heartbeats over one interval: node k's phase is
	// k*interval/count plus jitter below one slot, so 10^4 nodes at 10s are
	// ~1,000 evenly spaced writes/s instead of a burst every 10s.
	now := s.clock.Now()
	slot := s.cfg.HeartbeatInterval / time.Duration(s.cfg.Count)
	for k, n := range s.nodes {
		if n.failed.Load() {
			continue
		}
		jitter := time.Duration(0)
		if slot >= 2 {
			jitter = time.Duration(mrand.Int64N(int64(slot) / 2))
		}
		s.disp.schedule(k, now.Add(time.Duration(k)*slot+jitter))
	}
	wg.Go(func() { s.disp.loop(ctx, s.cfg.HeartbeatWorkers) })
	wg.Go(func() { s.evictionLoop(ctx) })
	for range s.cfg.PodWorkers {
		wg.Go(func() {
			for s.processPod(ctx) {
			}
		})
	}
	wg.Go(func() {
		<-ctx.Done()
		s.queue.ShutDown()
	})

	select {
	case <-ctx.Done():
		return nil
	case err := <-s.fatal:
		return err
	}
}

// failWith ends Run with err.
func (s *sim) failWith(err error) {
	select {
	case s.fatal <- err:
	default:
	}
}

// fail records err as fatal if no retry can fix it.
func (s *sim) fail(err error) {
	if err == nil || !isFatal(err) {
		return
	}
	select {
	case s.fatal <- err:
	default:
	}
}

func isFatal(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
}

// registerAll lists what an earlier run left, then creates or adopts every
// node with Workers concurrent writers. Transient failures are retried by
// the node's first heartbeat; permission errors end Run.
func (s *sim) registerAll(ctx context.Context) error {
	existing := map[string]*corev1.Node{}
	list, err := s.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: SimulatedLabel + "=true"})
	if err != nil {
		return fmt.Errorf("list existing simulated nodes: %w", err)
	}
	for i := range list.Items {
		if _, ours := s.byName[list.Items[i].Name]; ours {
			existing[list.Items[i].Name] = &list.Items[i]
		}
	}
	leases := map[string]*coordinationv1.Lease{}
	if ll, err := s.client.CoordinationV1().Leases(LeaseNamespace).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range ll.Items {
			if _, ours := s.byName[ll.Items[i].Name]; ours {
				leases[ll.Items[i].Name] = &ll.Items[i]
			}
		}
	} else if isFatal(err) {
		return fmt.Errorf("list node leases in %s: %w", LeaseNamespace, err)
	}

	work := make(chan *simNode)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range s.cfg.Workers {
		wg.Go(func() {
			for n := range work {
				n.lease = leases[n.name]
				err := s.register(ctx, n, existing[n.name])
				if err == nil || !isFatal(err) {
					if err != nil {
						klog.FromContext(ctx).Error(err, "Register node, will retry at its first heartbeat", "node", n.name)
					}
					continue
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for _, n := range s.nodes {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		work <- n
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("register simulated nodes (check the RBAC role of nodesim's identity): %w", firstErr)
	}
	return ctx.Err()
}

// nodeInformer watches only simulated Nodes and keeps only their metadata:
// the failure annotation is all nodesim reads back, and slimming the cache
// saves ~90% of its memory at 10^4 nodes.
func (s *sim) nodeInformer() cache.SharedIndexInformer {
	inf := coreinformers.NewFilteredNodeInformer(s.client, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.LabelSelector = SimulatedLabel + "=true" })
	_ = inf.SetTransform(func(obj any) (any, error) {
		if n, ok := obj.(*corev1.Node); ok {
			return &corev1.Node{ObjectMeta: metav1.ObjectMeta{
				Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion, Annotations: n.Annotations,
			}}, nil
		}
		return obj, nil
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onNode,
		UpdateFunc: func(_, obj any) { s.onNode(obj) },
	})
	return inf
}

func (s *sim) onNode(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	if n := s.byName[node.Name]; n != nil {
		s.setFailed(n, node.Annotations[FailureAnnotation] != "")
	}
}

// setFailed flips a node's failure state. Recovery reports Ready and renews
// the Lease at once and hands the node's pods back to the pod workers.
func (s *sim) setFailed(n *simNode, failed bool) {
	if n.failed.Swap(failed) == failed {
		return
	}
	if failed {
		s.metrics.nodes.WithLabelValues("failed").Set(float64(s.failedCount.Add(1)))
		return // the dispatcher drops the node when it next falls due
	}
	s.metrics.nodes.WithLabelValues("failed").Set(float64(s.failedCount.Add(-1)))
	n.recovered.Store(true)
	s.disp.schedule(n.index-s.cfg.StartIndex, s.clock.Now())
	if s.pods != nil && s.podsStarted.Load() {
		objs, _ := s.pods.GetIndexer().ByIndex(byNodeIndex, n.name)
		for _, o := range objs {
			if key, err := cache.MetaNamespaceKeyFunc(o); err == nil {
				s.queue.Add(key)
			}
		}
	}
}

// SetFailure marks nodes failed (heartbeats stop, their pods are left alone)
// or recovered, by setting or removing FailureAnnotation on their Node
// objects. Any nodesim process running those nodes reacts through its watch.
func SetFailure(ctx context.Context, client kubernetes.Interface, nodeNames []string, failed bool) error {
	patch := []byte(`{"metadata":{"annotations":{"` + FailureAnnotation + `":null}}}`)
	if failed {
		patch = []byte(`{"metadata":{"annotations":{"` + FailureAnnotation + `":"` + FailureHeartbeat + `"}}}`)
	}
	const writers = 16
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	names := make(chan string)
	for range min(writers, len(nodeNames)) {
		wg.Go(func() {
			for name := range names {
				_, err := client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("mark node %s failed=%t: %w", name, failed, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, name := range nodeNames {
		names <- name
	}
	close(names)
	wg.Wait()
	return errors.Join(errs...)
}
