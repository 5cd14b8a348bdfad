package sidecarset

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/podorder"
)

// upgradePlan is what one pass does to the SidecarSet's pods.
type upgradePlan struct {
	// flip are hot-upgraded pods whose new container works: the old one of
	// each pair goes back to the empty image.
	flip []*corev1.Pod
	// upgrade get the latest revision's sidecar images, in this order.
	upgrade []*corev1.Pod
	// notUpgradable run a revision that differs from the latest in more
	// than images: in place only images change (as in OpenKruise), so
	// these pods keep their revision until they are recreated.
	notUpgradable []*corev1.Pod
	// unavailable counts the pods upgraded and not yet consistent and
	// ready, before this pass.
	unavailable int
	// rolling: the update strategy lets the pass move pods (neither
	// NotUpdate nor paused).
	rolling bool
}

// planUpgrade chooses the pass's work from the injected pods, following
// OpenKruise's rolling update of sidecars:
//
//   - nothing moves while updateStrategy.type is NotUpdate or paused;
//   - hot-upgrade pairs whose new container is consistent and ready are
//     flipped first, and then the pass ends, so a flip and an upgrade never
//     share a pass;
//   - the candidates are the pods not on the latest revision that
//     updateStrategy.selector picks, whose revision differs in images only
//     and that have no sidecar upgrade in flight (a changed sidecar still
//     running, ready, its old image; one that is not ready, e.g. its
//     image does not pull, does not hold the pod back);
//   - they are taken not-yet-scheduled first, Pending before Running, not
//     Ready before Ready, Ready for less time first, more restarts first,
//     newer first; then by priorityStrategy; then spread by
//     scatterStrategy;
//   - partition (a count or a share of the injected pods) of the
//     candidates stay behind;
//   - of the rest, those not ready are taken freely (they cost no
//     availability) and ready ones only while the pods upgraded but not
//     yet consistent and ready stay under maxUnavailable (default 1).
func planUpgrade(ss *v1beta1.SidecarSet, pods []podView) upgradePlan {
	var p upgradePlan
	strategy := ss.Spec.UpdateStrategy
	for _, v := range pods {
		if v.updated && (!v.consistent || !v.ready) {
			p.unavailable++
		}
		if !v.updated && v.selected && !v.upgradable {
			p.notUpgradable = append(p.notUpgradable, v.pod)
		}
	}
	if strategy.Type == v1beta1.NotUpdateSidecarSetStrategyType || strategy.Paused {
		return p
	}
	p.rolling = true
	for _, v := range pods {
		if v.hotUpgrading && v.consistent && v.hotReady {
			p.flip = append(p.flip, v.pod)
		}
	}
	if len(p.flip) > 0 {
		return p
	}
	var waiting []podView
	for _, v := range pods {
		if !v.updated && v.selected && v.upgradable && !v.upgrading {
			waiting = append(waiting, v)
		}
	}
	waiting = upgradeOrder(ss, waiting)
	partition := scaled(strategy.Partition, len(pods), false, 0)
	if len(waiting) <= partition {
		return p
	}
	waiting = waiting[:len(waiting)-partition]
	maxUnavailable := scaled(strategy.MaxUnavailable, len(pods), true, 1)
	unavailable := p.unavailable
	for _, v := range waiting {
		if !v.ready {
			p.upgrade = append(p.upgrade, v.pod)
			continue
		}
		if unavailable >= maxUnavailable {
			break
		}
		unavailable++
		p.upgrade = append(p.upgrade, v.pod)
	}
	return p
}

// upgradeOrder sorts candidates in the order an upgrade takes them; see
// planUpgrade.
func upgradeOrder(ss *v1beta1.SidecarSet, vs []podView) []podView {
	out := slices.Clone(vs)
	slices.SortStableFunc(out, func(a, b podView) int { return podorder.CompareActive(a.pod, b.pod, nil) })
	strategy := ss.Spec.UpdateStrategy
	if strategy.PriorityStrategy != nil {
		r := podorder.NewRanker(strategy.PriorityStrategy)
		ranks := make(map[*corev1.Pod][]int64, len(out))
		for _, v := range out {
			ranks[v.pod] = r.Rank(v.pod)
		}
		slices.SortStableFunc(out, func(a, b podView) int { return slices.Compare(ranks[b.pod], ranks[a.pod]) })
	}
	for _, term := range expandScatter(strategy.ScatterStrategy, out) {
		out = podorder.Scatter(out, func(v podView) *corev1.Pod { return v.pod }, term)
	}
	return out
}

// expandScatter turns a term whose value is "*" into one term per value
// the pods carry for its key, as OpenKruise does for SidecarSets.
func expandScatter(terms []pub.UpdateScatterTerm, vs []podView) []pub.UpdateScatterTerm {
	var out []pub.UpdateScatterTerm
	add := func(t pub.UpdateScatterTerm) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, t := range terms {
		if t.Value != "*" {
			add(t)
			continue
		}
		for _, v := range vs {
			if val, ok := v.pod.Labels[t.Key]; ok {
				add(pub.UpdateScatterTerm{Key: t.Key, Value: val})
			}
		}
	}
	return out
}

// scaled resolves a count-or-percent against total; unset (or invalid:
// admission names the field) gives def.
func scaled(v *intstr.IntOrString, total int, roundUp bool, def int) int {
	if v == nil {
		return def
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, roundUp)
	if err != nil || n < 0 {
		return def
	}
	return n
}
