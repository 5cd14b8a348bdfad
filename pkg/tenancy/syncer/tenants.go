package syncer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/myriad-dev/myriad/pkg/apis/tenancy/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// TenantsResource is the Tenant resource on the super cluster.
var TenantsResource = schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "tenants"}

// podsByNode indexes a tenant's pods by the node they are bound to;
// mirrorsByClaim its mirrored volumes by the claim (namespace/name) they
// are bound to.
const (
	podsByNode     = "node"
	mirrorsByClaim = "claim"
)

// tenantCluster is one served tenant: its client, its informers and what
// the syncer needs to write events there.
type tenantCluster struct {
	name       string
	kubeconfig [32]byte // hash of the kubeconfig it was started with
	// clientCAs verify the tenant API server's kubelet client
	// certificate (kubeletproxy.go): the tenant's CA, which signs its
	// API server's serving certificate (what the syncer's kubeconfig
	// trusts) and its clients' certificates alike.
	clientCAs *x509.CertPool
	client    kubernetes.Interface
	recorder  record.EventRecorder

	namespaces  corelisters.NamespaceLister
	pods        corelisters.PodLister
	podIndex    cache.Indexer
	services    corelisters.ServiceLister
	configMaps  corelisters.ConfigMapLister
	secrets     corelisters.SecretLister
	accounts    corelisters.ServiceAccountLister
	claims      corelisters.PersistentVolumeClaimLister
	nodes       corelisters.NodeLister
	volumes     corelisters.PersistentVolumeLister // mirrors of bound claims' volumes (volumes.go)
	volumeIndex cache.Indexer

	synced atomic.Bool
	stop   context.CancelFunc
	done   chan struct{}
}

// tenantWatcher starts and stops tenantClusters as Tenants become Ready or
// stop being so. It runs on standbys too (it only reads), so their tenant
// caches are warm at takeover.
type tenantWatcher struct {
	s        *Syncer
	factory  dynamicinformer.DynamicSharedInformerFactory
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
}

func newTenantWatcher(s *Syncer) *tenantWatcher {
	f := dynamicinformer.NewDynamicSharedInformerFactory(s.o.Dynamic, 0)
	inf := f.ForResource(TenantsResource).Informer()
	q := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 2*time.Minute),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "myriad-syncer-tenants"})
	add := func(obj any) {
		if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			q.Add(k)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: add, UpdateFunc: func(_, obj any) { add(obj) }, DeleteFunc: add,
	})
	return &tenantWatcher{s: s, factory: f, informer: inf, queue: q}
}

func (w *tenantWatcher) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		w.queue.ShutDown()
	}()
	// A rotated kubeconfig Secret is noticed at the next resync.
	go w.s.every(ctx, w.s.o.Resync, func(context.Context) {
		for _, k := range w.informer.GetStore().ListKeys() {
			w.queue.Add(k)
		}
	})
	for {
		name, shutdown := w.queue.Get()
		if shutdown {
			return
		}
		if err := w.reconcile(ctx, name); err != nil {
			klog.FromContext(ctx).Error(err, "Tenant not served, retrying", "tenant", name)
			w.queue.AddRateLimited(name)
		} else {
			w.queue.Forget(name)
		}
		w.queue.Done(name)
	}
}

// reconcile serves a Ready tenant and stops serving any other.
func (w *tenantWatcher) reconcile(ctx context.Context, name string) error {
	s := w.s
	obj, exists, err := w.informer.GetStore().GetByKey(name)
	if err != nil {
		return err
	}
	var t v1alpha1.Tenant
	if exists {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return fmt.Errorf("tenant %s: unexpected %T", name, obj)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t); err != nil {
			return fmt.Errorf("tenant %s: %w", name, err)
		}
	}
	if !exists || t.DeletionTimestamp != nil || t.Status.Phase != v1alpha1.TenantReady {
		s.stopTenant(name)
		return nil
	}
	weight := int(t.Spec.Weight)
	s.queue.SetWeight(name, weight)

	secretName := t.Status.KubeconfigSecret
	if secretName == "" {
		secretName = tenancy.KubeconfigSecret(name)
	}
	sec, err := s.o.Super.CoreV1().Secrets(tenancy.SystemNamespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("tenant %s is Ready but Secret %s/%s is missing", name, tenancy.SystemNamespace, secretName)
		}
		return fmt.Errorf("tenant %s: read Secret %s/%s: %w", name, tenancy.SystemNamespace, secretName, err)
	}
	kc := sec.Data[tenancy.SyncerKubeconfigKey]
	if len(kc) == 0 {
		return fmt.Errorf("tenant %s: Secret %s/%s has no %s", name, tenancy.SystemNamespace, secretName, tenancy.SyncerKubeconfigKey)
	}
	sum := sha256.Sum256(kc)
	if tc := s.tenant(name); tc != nil {
		if tc.kubeconfig == sum {
			return nil
		}
		s.stopTenant(name) // credentials or endpoint changed: start over
	}
	client, err := s.o.TenantClient(name, kc)
	if err != nil {
		return err
	}
	// Without its CA the tenant is still served, but not its logs and
	// exec: the kubelet proxy cannot tell its API server from others.
	cas, err := kubeconfigCAs(kc)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Tenant's logs and exec will be refused", "tenant", name)
	}
	s.startTenant(ctx, name, sum, client, cas)
	return nil
}

// startTenant starts a tenant's informers; when they have synced, every
// object of the tenant is queued.
func (s *Syncer) startTenant(ctx context.Context, name string, sum [32]byte, client kubernetes.Interface, cas *x509.CertPool) {
	ctx, cancel := context.WithCancel(ctx)
	f := informers.NewSharedInformerFactory(client, 0)
	core := f.Core().V1()
	tc := &tenantCluster{
		name: name, kubeconfig: sum, client: client, clientCAs: cas,
		namespaces:  core.Namespaces().Lister(),
		pods:        core.Pods().Lister(),
		podIndex:    core.Pods().Informer().GetIndexer(),
		services:    core.Services().Lister(),
		configMaps:  core.ConfigMaps().Lister(),
		secrets:     core.Secrets().Lister(),
		accounts:    core.ServiceAccounts().Lister(),
		claims:      core.PersistentVolumeClaims().Lister(),
		nodes:       core.Nodes().Lister(),
		volumes:     core.PersistentVolumes().Lister(),
		volumeIndex: core.PersistentVolumes().Informer().GetIndexer(),
		stop:        cancel,
		done:        make(chan struct{}),
	}
	_ = core.Pods().Informer().AddIndexers(cache.Indexers{podsByNode: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	_ = core.PersistentVolumes().Informer().AddIndexers(cache.Indexers{mirrorsByClaim: func(obj any) ([]string, error) {
		if pv, ok := obj.(*corev1.PersistentVolume); ok && pv.Labels[LabelMirroredVolume] == "true" && pv.Spec.ClaimRef != nil {
			return []string{pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name}, nil
		}
		return nil, nil
	}})
	on := func(inf cache.SharedIndexInformer, k kind) {
		h := func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if m, ok := obj.(interface {
				GetNamespace() string
				GetName() string
			}); ok {
				s.enqueue(key{Tenant: name, Kind: k, Namespace: m.GetNamespace(), Name: m.GetName()})
			}
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: h, UpdateFunc: func(_, o any) { h(o) }, DeleteFunc: h})
	}
	on(core.Namespaces().Informer(), kindNamespace)
	on(core.Pods().Informer(), kindPod)
	on(core.Services().Informer(), kindService)
	on(core.ConfigMaps().Informer(), kindConfigMap)
	on(core.Secrets().Informer(), kindSecret)
	on(core.PersistentVolumeClaims().Informer(), kindPVC)
	core.ServiceAccounts().Informer()
	core.Nodes().Informer()

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	tc.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "myriad-syncer"})

	s.mu.Lock()
	s.tenants[name] = tc
	n := len(s.tenants)
	s.mu.Unlock()
	s.m.tenants.Set(float64(n))
	logger := klog.FromContext(ctx).WithValues("tenant", name)
	logger.Info("Serving tenant")

	f.Start(ctx.Done())
	go func() {
		defer close(tc.done)
		defer broadcaster.Shutdown()
		defer f.Shutdown()
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				logger.Info("Tenant caches did not sync", "type", typ)
				<-ctx.Done()
				return
			}
		}
		tc.synced.Store(true)
		logger.Info("Tenant caches synced")
		s.resyncTenant(tc)
		<-ctx.Done()
	}()
}

// stopTenant stops serving a tenant and forgets its queued work and
// metrics. Its super objects stay: removing them is the tenant host's, for
// a tenant being deleted, and a tenant that comes back finds them in place.
func (s *Syncer) stopTenant(name string) {
	s.mu.Lock()
	tc := s.tenants[name]
	delete(s.tenants, name)
	n := len(s.tenants)
	s.mu.Unlock()
	if tc == nil {
		return
	}
	tc.stop()
	<-tc.done
	s.queue.RemoveTenant(name)
	s.m.forget(name)
	s.m.tenants.Set(float64(n))
}

func (s *Syncer) stopAllTenants() {
	for _, tc := range s.servedTenants() {
		s.stopTenant(tc.name)
	}
}

func (s *Syncer) tenant(name string) *tenantCluster {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tenants[name]
}

func (s *Syncer) servedTenants() []*tenantCluster {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*tenantCluster, 0, len(s.tenants))
	for _, tc := range s.tenants {
		out = append(out, tc)
	}
	return out
}

// tenantNamespaceOf maps a super namespace back to the tenant and
// namespace it stands for, through the origin the syncer recorded on it.
func (s *Syncer) tenantNamespaceOf(superNamespace string) (tenant, ns string, ok bool) {
	n, err := s.super.namespaces.Get(superNamespace)
	if err != nil {
		return "", "", false
	}
	tenant, ns = n.Labels[tenancy.LabelTenant], n.Annotations[tenancy.AnnotationNamespace]
	if tenant == "" || ns == "" || tenancy.SuperNamespace(tenant, ns) != superNamespace {
		return "", "", false
	}
	return tenant, ns, true
}

// kubeconfigCAs are the CA certificates a tenant kubeconfig trusts for its
// API server: nil when it names none (the kubelet proxy then serves the
// tenant nothing).
func kubeconfigCAs(kubeconfig []byte) (*x509.CertPool, error) {
	rc, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("syncer kubeconfig: %w", err)
	}
	data := rc.CAData
	if len(data) == 0 && rc.CAFile != "" {
		if data, err = os.ReadFile(rc.CAFile); err != nil {
			return nil, fmt.Errorf("syncer kubeconfig CA: %w", err)
		}
	}
	if len(data) == 0 {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("syncer kubeconfig: its certificate authority holds no PEM certificate")
	}
	return pool, nil
}
