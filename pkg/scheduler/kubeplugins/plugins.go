package kubeplugins

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	versionutil "k8s.io/apimachinery/pkg/util/version"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/version"
	ndf "k8s.io/component-helpers/nodedeclaredfeatures"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/dynamic-resource-allocation/deviceclass/extendedresourcecache"
	resourceslicetracker "k8s.io/dynamic-resource-allocation/resourceslice/tracker"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/features"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/latest"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkplugins "k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/dynamicresources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodevolumelimits"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"
	schedutil "k8s.io/kubernetes/pkg/scheduler/util"
	"k8s.io/kubernetes/pkg/scheduler/util/assumecache"

	"github.com/myriad-dev/myriad/pkg/scheduler"
	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// decisive are the plugins of kube-scheduler's default profile that Myriad's
// core leaves to them, in the profile's order. PrioritySort and
// DefaultBinder are there only because kube's framework refuses a profile
// without a queue sort and a binder; Myriad's queue and binders run instead.
var decisive = []string{names.VolumeRestrictions, names.NodeVolumeLimits, names.VolumeBinding, names.VolumeZone, names.NodeDeclaredFeatures}

// Plugins is scheduler.Plugins over kube-scheduler's framework.
type Plugins struct {
	fw     framework.Framework
	lister *lister
	// nodeInfos caches kube's NodeInfo per node by the core's generation:
	// a run of pods with claims visits the same nodes, unchanged.
	nodeInfos map[string]cachedNode
	dra       bool
	// resolver maps extended resource names to the DeviceClasses that
	// serve them (nil without DRA).
	resolver fwk.DeviceClassResolver
	// synced are the plugins' own handler registrations.
	synced []cache.InformerSynced
	// features infers what node-declared features a pod needs, as the
	// NodeDeclaredFeatures plugin does (nil when its gate is off).
	features *ndf.Framework
	version  *versionutil.Version
}

type cachedNode struct {
	gen uint64
	ni  *framework.NodeInfo
}

// maxCachedNodes bounds nodeInfos: past it the cache starts again, so a
// cluster of 10^4 nodes never holds a second copy of every node for pods
// that are rare.
const maxCachedNodes = 4096

// New builds the framework with kube-scheduler's default arguments for
// these plugins (DynamicResources too when its feature gate is on, as it is
// by default), on deps' informers.
func New(ctx context.Context, deps scheduler.PluginDeps) (scheduler.Plugins, error) {
	logger := klog.FromContext(ctx)
	// The framework counts plugin evaluations in kube-scheduler's metrics
	// (its own registry, which Myriad does not serve); they must exist.
	schedmetrics.Register()
	defaults, err := latest.Default()
	if err != nil {
		return nil, fmt.Errorf("kube-scheduler defaults: %w", err)
	}
	want := slices.Clone(decisive)
	dra := utilfeature.DefaultFeatureGate.Enabled(features.DynamicResourceAllocation)
	var resolver fwk.DeviceClassResolver
	var synced []cache.InformerSynced
	if dra {
		want = append(want, names.DynamicResources)
	}
	profile := &config.KubeSchedulerProfile{SchedulerName: deps.SchedulerName, Plugins: &config.Plugins{}}
	// Kube's default weights (DynamicResources 2, VolumeBinding 1), as its
	// default profile has them.
	for _, pl := range defaults.Profiles[0].Plugins.MultiPoint.Enabled {
		if slices.Contains(want, pl.Name) || pl.Name == names.PrioritySort || pl.Name == names.DefaultBinder {
			profile.Plugins.MultiPoint.Enabled = append(profile.Plugins.MultiPoint.Enabled, pl)
		}
	}
	for _, pc := range defaults.Profiles[0].PluginConfig {
		if slices.Contains(want, pc.Name) {
			profile.PluginConfig = append(profile.PluginConfig, pc)
		}
	}

	podInformer := deps.Factory.Core().V1().Pods().Informer()
	if err := podInformer.AddIndexers(cache.Indexers{claimIndex: boundClaims}); err != nil {
		return nil, fmt.Errorf("pod claim index: %w", err)
	}
	l := newLister(podInformer.GetIndexer())
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		// A reserved pod's claims count as used until the informer shows
		// it bound (or gone); the index covers it from then on.
		UpdateFunc: func(_, obj any) {
			if p := obj.(*v1.Pod); p.Spec.NodeName != "" {
				l.release(p.UID)
			}
		},
		DeleteFunc: func(obj any) {
			if p, ok := obj.(*v1.Pod); ok {
				l.release(p.UID)
			} else if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				if p, ok := t.Obj.(*v1.Pod); ok {
					l.release(p.UID)
				}
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("pod handler: %w", err)
	}

	opts := []frameworkruntime.Option{
		frameworkruntime.WithClientSet(deps.Client),
		frameworkruntime.WithInformerFactory(deps.Factory),
		frameworkruntime.WithSnapshotSharedLister(l),
		frameworkruntime.WithEventRecorder(deps.Recorder),
		frameworkruntime.WithSharedCSIManager(nodevolumelimits.NewCSIManager(deps.Factory.Storage().V1().CSINodes().Lister())),
		frameworkruntime.WithParallelism(1),
		frameworkruntime.WithLogger(logger),
	}
	if dra {
		claims := deps.Factory.Resource().V1().ResourceClaims().Informer()
		claimCache := assumecache.NewAssumeCache(logger, claims, "ResourceClaim", "", nil)
		tracker, err := resourceslicetracker.StartTracker(ctx, resourceslicetracker.Options{
			EnableDeviceTaintRules:   utilfeature.DefaultFeatureGate.Enabled(features.DRADeviceTaintRules),
			EnableConsumableCapacity: utilfeature.DefaultFeatureGate.Enabled(features.DRAConsumableCapacity),
			SliceInformer:            deps.Factory.Resource().V1().ResourceSlices(),
			TaintInformer:            deps.Factory.Resource().V1().DeviceTaintRules(),
			KubeClient:               deps.Client,
		})
		if err != nil {
			return nil, fmt.Errorf("resource slice tracker: %w", err)
		}
		// With device taint rules on, the tracker keeps its own view of the
		// slices, filled by its own handlers after the informer syncs: a
		// decision before it has caught up sees no DRA devices at all.
		synced = append(synced, tracker.HasSynced)
		mgr := dynamicresources.NewDRAManager(ctx, claimCache, tracker, deps.Factory)
		opts = append(opts, frameworkruntime.WithSharedDRAManager(mgr))
		if err := notify(deps.Changed, claims, deps.Factory.Resource().V1().ResourceSlices().Informer()); err != nil {
			return nil, err
		}
		var reg cache.ResourceEventHandlerRegistration
		if resolver, reg, err = watchDeviceClasses(mgr, deps); err != nil {
			return nil, err
		}
		synced = append(synced, reg.HasSynced)
	}
	fw, err := frameworkruntime.NewFramework(ctx, frameworkplugins.NewInTreeRegistry(), profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("kube-scheduler framework: %w", err)
	}
	st := deps.Factory.Storage().V1()
	cv1 := deps.Factory.Core().V1()
	if err := notify(deps.Changed, cv1.PersistentVolumeClaims().Informer(), cv1.PersistentVolumes().Informer(),
		st.StorageClasses().Informer(), st.CSINodes().Informer(), st.CSIDrivers().Informer(), st.CSIStorageCapacities().Informer()); err != nil {
		return nil, err
	}
	p := &Plugins{fw: fw, lister: l, nodeInfos: map[string]cachedNode{}, dra: dra, resolver: resolver, synced: synced}
	if utilfeature.DefaultFeatureGate.Enabled(features.NodeDeclaredFeatures) {
		if p.version, err = versionutil.Parse(version.Get().String()); err != nil {
			return nil, fmt.Errorf("node-declared features: version: %w", err)
		}
		p.features = ndf.DefaultFramework
	}
	return p, nil
}

// watchDeviceClasses feeds DeviceClass events to the DRA manager's extended
// resource cache, as kube-scheduler does, then tells the queue: a class may
// have changed which extended resources DRA serves, so any parked pod may
// fit now, not only those the plugins decided on. It returns the cache.
func watchDeviceClasses(mgr *dynamicresources.DefaultDRAManager, deps scheduler.PluginDeps) (fwk.DeviceClassResolver, cache.ResourceEventHandlerRegistration, error) {
	inf := deps.Factory.Resource().V1().DeviceClasses().Informer()
	changed := func() {
		if deps.Changed != nil {
			deps.Changed()
		}
		if deps.ResourcesChanged != nil {
			deps.ResourcesChanged()
		}
	}
	h := onAnyChange(changed)
	resolver := mgr.DeviceClassResolver()
	erc, ok := resolver.(*extendedresourcecache.ExtendedResourceCache)
	if !ok || erc == nil { // DRAExtendedResource off: classes still matter to claims
		reg, err := inf.AddEventHandler(h)
		return nil, reg, err
	}
	// The cache first, so that the queue's retry sees the new mapping.
	erc.AddEventHandler(h)
	reg, err := inf.AddEventHandler(erc)
	if err != nil {
		return nil, nil, fmt.Errorf("device class handler: %w", err)
	}
	return resolver, reg, nil
}

// HasSynced reports whether the plugins' own handlers have seen their
// informers' initial lists.
func (p *Plugins) HasSynced() bool {
	for _, s := range p.synced {
		if !s() {
			return false
		}
	}
	return true
}

// Delegated reports whether name is an extended resource a DeviceClass
// serves: kube's NodeResourcesFit leaves it to DynamicResources on nodes
// with none of it in allocatable.
func (p *Plugins) Delegated(name v1.ResourceName) bool {
	return p.resolver != nil && schedutil.IsDRAExtendedResourceName(name) && p.resolver.GetDeviceClass(name) != nil
}

// wantsDevicesFor: pod requests an extended resource a DeviceClass serves.
// Most pods ask for no extended resource at all and return at the first
// loop, without computing their requests.
func (p *Plugins) wantsDevicesFor(pod *v1.Pod) bool {
	if p.resolver == nil || !anyExtended(pod) {
		return false
	}
	for name, q := range resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}) {
		if !q.IsZero() && p.Delegated(name) {
			return true
		}
	}
	return false
}

func anyExtended(pod *v1.Pod) bool {
	has := func(rl v1.ResourceList) bool {
		for name := range rl {
			if strings.Contains(string(name), "/") {
				return true
			}
		}
		return false
	}
	for _, cs := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if has(cs[i].Resources.Requests) || has(cs[i].Resources.Limits) {
				return true
			}
		}
	}
	return pod.Spec.Resources != nil && (has(pod.Spec.Resources.Requests) || has(pod.Spec.Resources.Limits))
}

// notify calls changed on every add, update and delete of the informers'
// objects; the queue coalesces them.
func notify(changed func(), infs ...cache.SharedIndexInformer) error {
	if changed == nil {
		return nil
	}
	h := onAnyChange(changed)
	for _, inf := range infs {
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("event handler: %w", err)
		}
	}
	return nil
}

// onAnyChange calls changed on every add, update and delete.
func onAnyChange(changed func()) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { changed() },
		UpdateFunc: func(any, any) { changed() },
		DeleteFunc: func(any) { changed() },
	}
}

// Wants reports whether pod mounts a claim (or an ephemeral one, or a
// volume with attach limits or per-node conflicts), asks for resource
// claims or for an extended resource a DeviceClass serves, or needs a
// feature nodes must declare: what the plugins decide on. Every other pod
// skips them in kube too (their PreFilters return Skip).
func (p *Plugins) Wants(pod *v1.Pod) bool {
	if len(pod.Spec.ResourceClaims) > 0 && p.dra || p.wantsDevicesFor(pod) {
		return true
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i].VolumeSource
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil || v.CSI != nil || v.ISCSI != nil || v.RBD != nil ||
			v.GCEPersistentDisk != nil || v.AWSElasticBlockStore != nil || v.AzureDisk != nil || v.Cinder != nil {
			return true
		}
	}
	if p.features != nil {
		reqs, err := p.features.InferForPodScheduling(&ndf.PodInfo{Spec: &pod.Spec}, p.version)
		return err != nil || !reqs.IsEmpty() // an error is the plugin's to report
	}
	return false
}

// nodeInfo returns kube's NodeInfo for n, rebuilt only when n changed.
func (p *Plugins) nodeInfo(n *core.NodeInfo) *framework.NodeInfo {
	name := n.Node.Name
	if c, ok := p.nodeInfos[name]; ok && c.gen == n.Generation {
		return c.ni
	}
	if len(p.nodeInfos) >= maxCachedNodes {
		clear(p.nodeInfos)
	}
	ni := kubeNodeInfo(n)
	p.nodeInfos[name] = cachedNode{gen: n.Generation, ni: ni}
	return ni
}

var _ fwk.SharedLister = (*lister)(nil)
