package syncer

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// superCache is the one set of super-cluster informers all tenants share:
// the syncer's own objects (selected by LabelTenant), all nodes (virtual
// nodes copy them) and pod events (replayed to tenants).
type superCache struct {
	owned, nodeF, eventF informers.SharedInformerFactory

	namespaces corelisters.NamespaceLister
	pods       corelisters.PodLister
	services   corelisters.ServiceLister
	configMaps corelisters.ConfigMapLister
	secrets    corelisters.SecretLister
	claims     corelisters.PersistentVolumeClaimLister
	nodes      corelisters.NodeLister
	volumes    corelisters.PersistentVolumeLister
	events     corelisters.EventLister
}

func newSuperCache(s *Syncer) *superCache {
	owned := informers.NewSharedInformerFactoryWithOptions(s.o.Super, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = tenancy.LabelTenant
	}))
	nodeF := informers.NewSharedInformerFactory(s.o.Super, 0)
	// Only pod events are replayed; the field selector keeps the rest of
	// a busy cluster's events off the wire.
	eventF := informers.NewSharedInformerFactoryWithOptions(s.o.Super, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("involvedObject.kind", "Pod").String()
	}))
	core := owned.Core().V1()
	c := &superCache{
		owned: owned, nodeF: nodeF, eventF: eventF,
		namespaces: core.Namespaces().Lister(),
		pods:       core.Pods().Lister(),
		services:   core.Services().Lister(),
		configMaps: core.ConfigMaps().Lister(),
		secrets:    core.Secrets().Lister(),
		claims:     core.PersistentVolumeClaims().Lister(),
		nodes:      nodeF.Core().V1().Nodes().Lister(),
		volumes:    nodeF.Core().V1().PersistentVolumes().Lister(),
		events:     eventF.Core().V1().Events().Lister(),
	}

	// A change to a super copy (edited, deleted, status) is a reason to
	// look at its tenant object again: drift is repaired at once, not at
	// the next resync.
	onOwned := func(inf cache.SharedIndexInformer, kinds ...kind) {
		h := func(obj any, added bool) {
			m := metaOf(obj)
			if m == nil {
				return
			}
			tenant, ns, ok := s.tenantNamespaceOf(m.GetNamespace())
			if !ok || m.GetLabels()[tenancy.LabelTenant] != tenant {
				return
			}
			name := m.GetAnnotations()[tenancy.AnnotationName]
			if name == "" {
				name = m.GetName()
			}
			ks := kinds
			if m.GetLabels()[LabelRole] == RolePodToken {
				if added {
					// The syncer made it a moment before it creates the
					// pod, whose own watch may not have caught up: a sync
					// now would create the pod twice. Its pod's events
					// and the resync cover it.
					return
				}
				ks = []kind{kindPod}
			}
			for _, k := range ks {
				s.enqueue(key{Tenant: tenant, Kind: k, Namespace: ns, Name: name})
			}
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { h(o, true) },
			UpdateFunc: func(_, o any) { h(o, false) },
			DeleteFunc: func(o any) { h(o, false) },
		})
	}
	_, _ = core.Namespaces().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if m := metaOf(obj); m != nil {
				if tenant, ns := m.GetLabels()[tenancy.LabelTenant], m.GetAnnotations()[tenancy.AnnotationNamespace]; tenant != "" && ns != "" {
					s.enqueue(key{Tenant: tenant, Kind: kindNamespace, Name: ns})
				}
			}
		},
	})
	onOwned(core.Pods().Informer(), kindPodStatus, kindPod)
	onOwned(core.Services().Informer(), kindService)
	onOwned(core.ConfigMaps().Informer(), kindConfigMap)
	onOwned(core.Secrets().Informer(), kindSecret)
	onOwned(core.PersistentVolumeClaims().Informer(), kindPVC)

	_, _ = nodeF.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.Node), cur.(*corev1.Node)
			// Heartbeats change a node every few seconds; a tenant sees a
			// new copy only when readiness flips.
			if nodeReady(o) == nodeReady(n) {
				return
			}
			s.nodeChanged(n.Name)
		},
	})
	// A volume bound to (or grown for) a tenant claim's copy: that claim's
	// tenant side is looked at again (volumes.go).
	onVolume := func(obj any) {
		pv, ok := obj.(*corev1.PersistentVolume)
		if !ok || pv.Spec.ClaimRef == nil {
			return
		}
		if tenant, ns, ok := s.tenantNamespaceOf(pv.Spec.ClaimRef.Namespace); ok {
			s.enqueue(key{Tenant: tenant, Kind: kindPVC, Namespace: ns, Name: pv.Spec.ClaimRef.Name})
		}
	}
	_, _ = nodeF.Core().V1().PersistentVolumes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onVolume, UpdateFunc: func(_, obj any) { onVolume(obj) },
	})
	_, _ = eventF.Core().V1().Events().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.superEvent(obj) },
		UpdateFunc: func(_, obj any) { s.superEvent(obj) },
	})
	return c
}

func (c *superCache) start(ctx context.Context) {
	c.owned.Start(ctx.Done())
	c.nodeF.Start(ctx.Done())
	c.eventF.Start(ctx.Done())
}

func (c *superCache) shutdown() {
	c.owned.Shutdown()
	c.nodeF.Shutdown()
	c.eventF.Shutdown()
}

func (c *superCache) waitForSync(ctx context.Context) error {
	for _, f := range []informers.SharedInformerFactory{c.owned, c.nodeF, c.eventF} {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return fmt.Errorf("syncer: super-cluster cache of %v did not sync", typ)
			}
		}
	}
	return nil
}

// nodeChanged queues a refresh of the node's copy in each tenant that has
// one.
func (s *Syncer) nodeChanged(node string) {
	for _, tc := range s.servedTenants() {
		if !tc.synced.Load() {
			continue
		}
		if _, err := tc.nodes.Get(node); err == nil {
			s.enqueue(key{Tenant: tc.name, Kind: kindNode, Name: node})
		}
	}
}

// superEvent queues the replay of an event about a tenant's super pod.
func (s *Syncer) superEvent(obj any) {
	ev, ok := obj.(*corev1.Event)
	if !ok || ev.InvolvedObject.Kind != "Pod" {
		return
	}
	tenant, ns, ok := s.tenantNamespaceOf(ev.Namespace)
	if !ok {
		return
	}
	s.enqueue(key{Tenant: tenant, Kind: kindEvent, Namespace: ns, Name: ev.Name})
}

func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func metaOf(obj any) metav1.Object {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, _ := obj.(metav1.Object)
	return m
}
