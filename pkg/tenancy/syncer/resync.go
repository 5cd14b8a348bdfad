package syncer

import (
	"context"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// resyncAll is the periodic drift repair.
func (s *Syncer) resyncAll(context.Context) {
	for _, tc := range s.servedTenants() {
		s.resyncTenant(tc)
	}
}

// resyncTenant queues every object of a tenant on both sides: each tenant
// object, so drift in its super copy is repaired, and each super object of
// the tenant, so one whose tenant object is gone is deleted (the
// downward sync deletes a copy without an origin). It does nothing until
// the tenant's caches have synced; the super caches synced before any
// tenant was served. Without both, an object not yet seen would look gone.
func (s *Syncer) resyncTenant(tc *tenantCluster) {
	if !tc.synced.Load() || !s.leading.Load() {
		return
	}
	add := func(k kind, ns, name string) { s.enqueue(key{Tenant: tc.name, Kind: k, Namespace: ns, Name: name}) }
	if nss, err := tc.namespaces.List(labels.Everything()); err == nil {
		for _, o := range nss {
			add(kindNamespace, "", o.Name)
		}
	}
	if pods, err := tc.pods.List(labels.Everything()); err == nil {
		for _, o := range pods {
			add(kindPod, o.Namespace, o.Name)
			add(kindPodStatus, o.Namespace, o.Name)
		}
	}
	if l, err := tc.services.List(labels.Everything()); err == nil {
		for _, o := range l {
			add(kindService, o.Namespace, o.Name)
		}
	}
	if l, err := tc.configMaps.List(labels.Everything()); err == nil {
		for _, o := range l {
			add(kindConfigMap, o.Namespace, o.Name)
		}
	}
	if l, err := tc.secrets.List(labels.Everything()); err == nil {
		for _, o := range l {
			add(kindSecret, o.Namespace, o.Name)
		}
	}
	if l, err := tc.claims.List(labels.Everything()); err == nil {
		for _, o := range l {
			add(kindPVC, o.Namespace, o.Name)
		}
	}
	// Virtual nodes follow their super node's readiness at once; the
	// rest (labels, capacity, the kubelet endpoint after an upgrade turned
	// the kubelet proxy on) is repaired here.
	if l, err := tc.nodes.List(labels.SelectorFromSet(labels.Set{LabelVirtualNode: "true"})); err == nil {
		for _, o := range l {
			add(kindNode, "", o.Name)
		}
	}

	// The super side: what is labelled for this tenant, mapped back to
	// the tenant coordinates it claims.
	sel := labels.SelectorFromSet(labels.Set{tenancy.LabelTenant: tc.name})
	if l, err := s.super.namespaces.List(sel); err == nil {
		for _, o := range l {
			if ns := o.Annotations[tenancy.AnnotationNamespace]; ns != "" {
				add(kindNamespace, "", ns)
			}
		}
	}
	back := func(k kind, superNs string, annotations map[string]string, name string) {
		tenant, ns, ok := s.tenantNamespaceOf(superNs)
		if !ok || tenant != tc.name {
			return
		}
		if n := annotations[tenancy.AnnotationName]; n != "" {
			name = n
		}
		add(k, ns, name)
	}
	if l, err := s.super.pods.List(sel); err == nil {
		for _, o := range l {
			back(kindPod, o.Namespace, o.Annotations, o.Name)
		}
	}
	if l, err := s.super.services.List(sel); err == nil {
		for _, o := range l {
			back(kindService, o.Namespace, o.Annotations, o.Name)
		}
	}
	if l, err := s.super.configMaps.List(sel); err == nil {
		for _, o := range l {
			back(kindConfigMap, o.Namespace, o.Annotations, o.Name)
		}
	}
	if l, err := s.super.secrets.List(sel); err == nil {
		for _, o := range l {
			k := kindSecret
			if o.Labels[LabelRole] == RolePodToken {
				k = kindPod // a token goes with its pod
			}
			back(k, o.Namespace, o.Annotations, o.Name)
		}
	}
	if l, err := s.super.claims.List(sel); err == nil {
		for _, o := range l {
			back(kindPVC, o.Namespace, o.Annotations, o.Name)
		}
	}
}
