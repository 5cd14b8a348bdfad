package cloneset

import (
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// defaultMaxUnavailable is the update strategy's maxUnavailable when unset
// (admission defaults it; this covers CloneSets stored before it did).
var defaultMaxUnavailable = intstr.FromString(v1alpha1.DefaultCloneSetMaxUnavailable)

// resolved is a CloneSet's strategy in pod counts.
type resolved struct {
	replicas, partition, maxUnavailable, maxSurge, scaleMaxUnavailable int
}

// resolve turns numbers-or-percentages into pod counts, rounding as
// OpenKruise does: partition, maxSurge and scaleStrategy.maxUnavailable
// round up; updateStrategy.maxUnavailable rounds up without maxSurge and
// down with it. Both zero would stall a rollout, so maxUnavailable is then
// 1. While paused no surge is used. The admission webhook has already
// rejected malformed values; one that still fails to parse counts as 0.
func resolve(cs *v1alpha1.CloneSet) resolved {
	r := resolved{replicas: 1, scaleMaxUnavailable: -1}
	if cs.Spec.Replicas != nil {
		r.replicas = int(*cs.Spec.Replicas)
	}
	u := cs.Spec.UpdateStrategy
	r.partition = partitionCount(u.Partition, r.replicas)
	if !u.Paused {
		r.maxSurge = scaled(u.MaxSurge, r.replicas, true)
	}
	mu := u.MaxUnavailable
	if mu == nil {
		mu = &defaultMaxUnavailable
	}
	r.maxUnavailable = scaled(mu, r.replicas, r.maxSurge == 0)
	if r.maxUnavailable == 0 && r.maxSurge == 0 {
		r.maxUnavailable = 1
	}
	if s := cs.Spec.ScaleStrategy.MaxUnavailable; s != nil {
		// At least 1, unlike OpenKruise, where 0 would stop scaling up for good.
		r.scaleMaxUnavailable = max(1, scaled(s, r.replicas, true))
	}
	return r
}

// partitionCount is how many of replicas pods a partition keeps at old
// revisions. A percentage rounds up, so any partition above 0% keeps at
// least one pod; but one below 100% of two or more replicas keeps at most
// replicas-1, so that it updates at least one pod (99% of 4 is 3, not 4),
// as OpenKruise resolves it.
func partitionCount(p *intstr.IntOrString, replicas int) int {
	n := min(replicas, scaled(p, replicas, true))
	if p != nil && p.Type == intstr.String && p.StrVal != "100%" && replicas > 1 && n == replicas {
		n = replicas - 1
	}
	return max(0, n)
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
