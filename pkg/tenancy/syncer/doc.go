// Package syncer runs the pods of every tenant (virtual cluster) on the
// shared super cluster, the part of a virtual cluster that a kubelet and a
// scheduler would otherwise play.
//
// Down (tenant → super) it copies each Ready tenant's namespaces, pods,
// services, configmaps, secrets and claims into super namespaces named by
// tenancy.SuperNamespace, translating each object with a pure function
// (translate_*.go): origin labels and annotations set, any key a tenant
// wrote under tenancy.Prefix stripped first, a pod's service-account token
// replaced by one the syncer requests from the tenant. Up (super → tenant)
// it reports pod status, binds a tenant pod to a virtual node copied from
// the super node its super pod landed on, replays super pod events, and
// deletes a bound tenant pod whose super pod is gone, as a lost node would.
//
// Everything a tenant's keys cost goes through one fairqueue, weighted by
// Tenant.Spec.Weight, drained by a fixed pool of workers on the leader
// only; informers are shared (one set for the super cluster, filtered by
// tenancy.LabelTenant, and one per tenant) and no goroutine runs per
// object.
//
// The package owns the super objects that carry tenancy.LabelTenant and
// the tenants' virtual nodes (labelled LabelVirtualNode). It must never
// touch a super object without LabelTenant, never write a tenant object
// other than pod status, pod bindings, pod deletion, virtual nodes,
// persistent volumes and events, and never delete anything before both
// sides' caches have synced, so a restart neither duplicates nor loses
// work. It uses client-go only and must not import k8s.io/kubernetes.
package syncer
