package cloneset

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
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
	slices.SortStableFunc(out, func(a, b *member) int {
		pa, pb := a.pod, b.pod
		if c := boolFirst(pa.Spec.NodeName == "", pb.Spec.NodeName == ""); c != 0 {
			return c
		}
		if c := phaseRank(pa.Status.Phase) - phaseRank(pb.Status.Phase); c != 0 {
			return c
		}
		ra, rb := readySince(pa), readySince(pb)
		if c := boolFirst(ra == nil, rb == nil); c != 0 {
			return c
		}
		if c := cmpInt64(deletionCost(pa), deletionCost(pb)); c != 0 {
			return c
		}
		if ra != nil && rb != nil && !ra.Equal(rb) {
			if ra.After(rb.Time) {
				return -1
			}
			return 1
		}
		if c := cmpInt64(int64(restarts(pb)), int64(restarts(pa))); c != 0 {
			return c
		}
		return newerFirst(pa, pb)
	})
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
		if c := boolFirst(!a.available, !b.available); c != 0 {
			return c
		}
		if c := slices.Compare(b.priority, a.priority); c != 0 {
			return c
		}
		if c := boolFirst(readySince(a.pod) == nil, readySince(b.pod) == nil); c != 0 {
			return c
		}
		return -newerFirst(a.pod, b.pod)
	})
	for _, term := range scatter {
		out = scatterTerm(out, term)
	}
	return out
}

// scatterTerm spreads the pods carrying term's label evenly over the order:
// with k of n pods matching, the i-th goes to position about (i+½)·n/k, and
// the rest keep their relative order in the remaining positions.
func scatterTerm(ms []*member, term pub.UpdateScatterTerm) []*member {
	var hit, miss []*member
	for _, m := range ms {
		if m.pod.Labels[term.Key] == term.Value {
			hit = append(hit, m)
		} else {
			miss = append(miss, m)
		}
	}
	n, k := len(ms), len(hit)
	if k == 0 || k == n {
		return ms
	}
	out := make([]*member, 0, n)
	h := 0
	for pos := range n {
		// The next matching pod's slot is floor((h+½)·n/k).
		if h < k && pos == (2*h+1)*n/(2*k) {
			out = append(out, hit[h])
			h++
			continue
		}
		if len(miss) > 0 {
			out = append(out, miss[0])
			miss = miss[1:]
		} else {
			out = append(out, hit[h])
			h++
		}
	}
	return out
}

// updatePriority ranks a pod under a priorityStrategy: the summed weights of
// the matching weight terms, or the integer values of the order keys (a
// missing or non-integer value ranks lowest). Higher ranks update first.
func updatePriority(s *pub.UpdatePriorityStrategy, pod *corev1.Pod) []int64 {
	return newRanker(s).rank(pod)
}

// ranker is a priorityStrategy with its selectors parsed once per pass, not
// once per pod.
type ranker struct {
	strategy *pub.UpdatePriorityStrategy
	weights  []labels.Selector // nil where a selector does not parse
}

func newRanker(s *pub.UpdatePriorityStrategy) ranker {
	r := ranker{strategy: s}
	if s != nil {
		for _, t := range s.WeightPriority {
			sel, err := metav1.LabelSelectorAsSelector(&t.MatchSelector)
			if err != nil {
				sel = nil
			}
			r.weights = append(r.weights, sel)
		}
	}
	return r
}

func (r ranker) rank(pod *corev1.Pod) []int64 {
	s := r.strategy
	if s == nil {
		return nil
	}
	if len(s.WeightPriority) > 0 {
		var sum int64
		for i, t := range s.WeightPriority {
			if sel := r.weights[i]; sel != nil && sel.Matches(labels.Set(pod.Labels)) {
				sum += int64(t.Weight)
			}
		}
		return []int64{sum}
	}
	out := make([]int64, len(s.OrderPriority))
	for i, t := range s.OrderPriority {
		v, err := strconv.ParseInt(pod.Labels[t.OrderedKey], 10, 64)
		if err != nil {
			v = -1 << 63
		}
		out[i] = v
	}
	return out
}

func boolFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func phaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending:
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	}
	return 3
}

// readySince is when the pod's Ready condition last turned True, or nil
// when it is not Ready.
func readySince(p *corev1.Pod) *metav1.Time {
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		if c.Type == corev1.PodReady {
			if c.Status == corev1.ConditionTrue {
				return &c.LastTransitionTime
			}
			return nil
		}
	}
	return nil
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

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}

// newerFirst orders by creation time, newest first, then by name.
func newerFirst(a, b *corev1.Pod) int {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		if a.CreationTimestamp.After(b.CreationTimestamp.Time) {
			return -1
		}
		return 1
	}
	switch {
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}
