package cloneset

import (
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// defaultMaxUnavailable is the update strategy's maxUnavailable when unset,
// as in OpenKruise.
var defaultMaxUnavailable = intstr.FromString("20%")

// resolved is a CloneSet's strategy in pod counts.
type resolved struct {
	replicas, partition, maxUnavailable, maxSurge, scaleMaxUnavailable int
}

// resolve turns numbers-or-percentages into pod counts. Percentages of
// partition and maxSurge round up, of maxUnavailable down, as OpenKruise
// and Deployments do; both zero would stall a rollout, so maxUnavailable is
// then 1. The admission webhook has already rejected malformed values; one
// that still fails to parse counts as 0.
func resolve(cs *v1alpha1.CloneSet) resolved {
	r := resolved{replicas: 1, scaleMaxUnavailable: -1}
	if cs.Spec.Replicas != nil {
		r.replicas = int(*cs.Spec.Replicas)
	}
	u := cs.Spec.UpdateStrategy
	r.partition = min(r.replicas, scaled(u.Partition, r.replicas, true))
	mu := u.MaxUnavailable
	if mu == nil {
		mu = &defaultMaxUnavailable
	}
	r.maxUnavailable = scaled(mu, r.replicas, false)
	r.maxSurge = scaled(u.MaxSurge, r.replicas, true)
	if r.maxUnavailable == 0 && r.maxSurge == 0 {
		r.maxUnavailable = 1
	}
	if s := cs.Spec.ScaleStrategy.MaxUnavailable; s != nil {
		r.scaleMaxUnavailable = max(1, scaled(s, r.replicas, false))
	}
	return r
}

func scaled(v *intstr.IntOrString, total int, roundUp bool) int {
	if v == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, roundUp)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
