// Package fairqueue is the syncer's work queue: client-go workqueue
// semantics (a pending key is queued once; a key added while it is being
// processed is queued again only after Done; per-key exponential backoff;
// shutdown) with weighted fair sharing between tenants, so that one tenant
// with a hundred thousand queued keys cannot starve another that has ten.
//
// Sharing is stride scheduling (virtual-time round robin): each tenant with
// queued work has a virtual pass; Get serves the tenant of the smallest
// pass and advances it by a stride inversely proportional to the tenant's
// weight. A tenant that becomes busy starts at the current virtual time, so
// idling earns no credit and a newcomer waits at most one item per busy
// tenant (scaled by weight).
//
// The package is pure: no goroutines of its own, the clock injected, and
// memory proportional to the keys pending (a tenant's state is dropped when
// it has nothing queued; a key's failure count when it is forgotten). It
// knows nothing about Kubernetes.
package fairqueue
