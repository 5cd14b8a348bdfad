package controlplane

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	tenancyv1 "github.com/myriad-dev/myriad/pkg/apis/tenancy/v1alpha1"
)

// reprovisionEvery is how often a served tenant is provisioned again with
// no change to its Tenant: the drift repair of its files, etcd grant,
// RBAC and kubeconfig Secret.
const reprovisionEvery = 10 * time.Minute

// provisionMark is what the tenant host last provisioned of a tenant.
type provisionMark struct {
	uid        types.UID
	generation int64
	at         time.Time
}

// provisionMarks remembers, per tenant, the last provisioning that ended
// Ready, so that the Tenant events the host's own status writes cause do
// not provision it again (each provisioning writes to etcd and the API).
type provisionMarks struct {
	mu sync.Mutex
	m  map[string]provisionMark
}

func (p *provisionMarks) record(t *tenancyv1.Tenant, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]provisionMark{}
	}
	p.m[t.Name] = provisionMark{uid: t.UID, generation: t.Generation, at: now}
}

func (p *provisionMarks) forget(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, name)
}

func (p *provisionMarks) get(name string) (provisionMark, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.m[name]
	return m, ok
}

// provisionedAgo says whether a Ready tenant whose processes run needs no
// provisioning yet, and when it will: it was provisioned at this very
// incarnation and generation less than reprovisionEvery ago.
func provisionedAgo(mark provisionMark, ok bool, t *tenancyv1.Tenant, running bool, now time.Time) (skip bool, again time.Duration) {
	if !ok || !running || t.Status.Phase != tenancyv1.TenantReady || mark.uid != t.UID || mark.generation != t.Generation {
		return false, 0
	}
	left := reprovisionEvery - now.Sub(mark.at)
	if left <= 0 {
		return false, 0
	}
	return true, left
}
