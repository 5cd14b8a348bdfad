package cloneset

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/controllers/podorder"
)

// podDeletionCostAnnotation is upstream's hint for which pods of a
// ReplicaSet to delete first; CloneSet honours it the same way.
const podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// deletionOrder sorts pods cheapest-to-lose first, the order users can steer
// and the one upstream's ReplicaSet uses:
//
//  1. not yet scheduled before scheduled;
//  2. Pending before Unknown before Running;
//  3. not Ready before Ready;
//  4. lower controller.kubernetes.io/pod-deletion-cost first;
//  5. Ready for less time first;
//  6. more container restarts first;
//  7. newer first (then by name, so the order is total).
//
// podsToDelete and the specified-delete label come before all of these;
// makePlan handles them.
func deletionOrder(ms []*member) []*member {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b *member) int { return podorder.CompareActive(a.pod, b.pod, deletionCost) })
	return out
}

// updateOrder sorts old pods in the order an update takes them:
//
//  1. unavailable pods first: updating them costs no availability;
//  2. higher priorityStrategy rank first (member.priority);
//  3. not Ready before Ready, then older first (then by name);
//
// and then spreads the pods matching each scatterStrategy term evenly
// through that order.
func updateOrder(ms []*member, scatter pub.UpdateScatterStrategy) []*member {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b *member) int {
		if c := podorder.TrueFirst(!a.available, !b.available); c != 0 {
			return c
		}
		if c := slices.Compare(b.priority, a.priority); c != 0 {
			return c
		}
		if c := podorder.TrueFirst(podorder.ReadySince(a.pod) == nil, podorder.ReadySince(b.pod) == nil); c != 0 {
			return c
		}
		return -podorder.NewerFirst(a.pod, b.pod)
	})
	for _, term := range scatter {
		out = podorder.Scatter(out, func(m *member) *corev1.Pod { return m.pod }, term)
	}
	return out
}

// deletionCost parses the annotation; absent or invalid counts as 0, as
// upstream does.
func deletionCost(p *corev1.Pod) int64 {
	v, err := strconv.ParseInt(p.Annotations[podDeletionCostAnnotation], 10, 32)
	if err != nil {
		return 0
	}
	return v
}
