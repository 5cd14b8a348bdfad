package controlplane

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tenancyv1 "github.com/myriad-dev/myriad/pkg/apis/tenancy/v1alpha1"
)

func TestProvisionedTenantIsNotProvisionedAgainUntilDue(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ready := &tenancyv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "a", UID: "u1", Generation: 2}, Status: tenancyv1.TenantStatus{Phase: tenancyv1.TenantReady}}
	var marks provisionMarks
	if skip, _ := provisionedAgo(provisionMark{}, false, ready, true, now); skip {
		t.Fatal("a tenant never provisioned was skipped")
	}
	marks.record(ready, now)
	mark, ok := marks.get("a")
	if skip, again := provisionedAgo(mark, ok, ready, true, now.Add(time.Minute)); !skip || again != reprovisionEvery-time.Minute {
		t.Errorf("just provisioned: skip %v, again in %v", skip, again)
	}
	for _, c := range []struct {
		what    string
		t       *tenancyv1.Tenant
		running bool
		at      time.Time
	}{
		{"due for drift repair", ready, true, now.Add(reprovisionEvery)},
		{"a process is down", ready, false, now.Add(time.Minute)},
		{"the spec changed", withGeneration(ready, 3), true, now.Add(time.Minute)},
		{"another incarnation of the name", withUID(ready, "u2"), true, now.Add(time.Minute)},
		{"not Ready", withPhase(ready, tenancyv1.TenantFailed), true, now.Add(time.Minute)},
	} {
		if skip, _ := provisionedAgo(mark, ok, c.t, c.running, c.at); skip {
			t.Errorf("%s: skipped", c.what)
		}
	}
	marks.forget("a")
	if _, ok := marks.get("a"); ok {
		t.Error("a forgotten tenant is still marked")
	}
}

func withGeneration(t *tenancyv1.Tenant, g int64) *tenancyv1.Tenant {
	out := t.DeepCopy()
	out.Generation = g
	return out
}

func withUID(t *tenancyv1.Tenant, uid string) *tenancyv1.Tenant {
	out := t.DeepCopy()
	out.UID = types.UID(uid)
	return out
}

func withPhase(t *tenancyv1.Tenant, p tenancyv1.TenantPhase) *tenancyv1.Tenant {
	out := t.DeepCopy()
	out.Status.Phase = p
	return out
}
