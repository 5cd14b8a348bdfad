// Package podorder holds the orderings OpenKruise's workloads share for
// choosing which pods an update takes first: the rank of a pod under an
// updateStrategy.priorityStrategy (Ranker), the spreading of pods that carry
// a scatterStrategy label through an order (Scatter), and the comparisons
// upstream's controllers sort pods by (ready time, creation time, phase).
//
// Everything here is pure: it reads pods and returns orders; it never
// writes, lists or keeps state.
package podorder

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Ranker is a priorityStrategy with its selectors parsed once per pass, not
// once per pod.
type Ranker struct {
	strategy *pub.UpdatePriorityStrategy
	weights  []labels.Selector // nil where a selector does not parse
}

// NewRanker parses s; a nil strategy ranks every pod the same.
func NewRanker(s *pub.UpdatePriorityStrategy) Ranker {
	r := Ranker{strategy: s}
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

// Rank is the pod's rank: the summed weights of the matching weight terms,
// or the integer values of the order keys (a missing or non-integer value
// ranks lowest). Higher ranks update first; compare with slices.Compare.
func (r Ranker) Rank(pod *corev1.Pod) []int64 {
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

// Scatter spreads the items whose pod carries term's label evenly over the
// order: with k of n matching, the i-th goes to position about (i+½)·n/k,
// and the rest keep their relative order in the remaining positions.
func Scatter[T any](items []T, pod func(T) *corev1.Pod, term pub.UpdateScatterTerm) []T {
	var hit, miss []T
	for _, it := range items {
		if pod(it).Labels[term.Key] == term.Value {
			hit = append(hit, it)
		} else {
			miss = append(miss, it)
		}
	}
	n, k := len(items), len(hit)
	if k == 0 || k == n {
		return items
	}
	out := make([]T, 0, n)
	h := 0
	for pos := range n {
		// The next matching item's slot is floor((h+½)·n/k).
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

// ReadySince is when the pod's Ready condition last turned True, or nil
// when it is not Ready.
func ReadySince(p *corev1.Pod) *metav1.Time {
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

// NewerFirst orders by creation time, newest first, then by name.
func NewerFirst(a, b *corev1.Pod) int {
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

// TrueFirst orders true before false.
func TrueFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// PhaseRank orders Pending before Unknown before Running before the rest.
func PhaseRank(p corev1.PodPhase) int {
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

// CompareActive is upstream's order of active pods, the one ReplicaSets
// scale down by and OpenKruise's SidecarSet upgrades by: not yet scheduled
// first; Pending before Unknown before Running; not Ready before Ready;
// lower cost first (when cost is given: CloneSet's pod-deletion-cost);
// Ready for less time first; more container restarts first; newer first
// (then by name, so the order is total).
func CompareActive(a, b *corev1.Pod, cost func(*corev1.Pod) int64) int {
	if c := TrueFirst(a.Spec.NodeName == "", b.Spec.NodeName == ""); c != 0 {
		return c
	}
	if c := PhaseRank(a.Status.Phase) - PhaseRank(b.Status.Phase); c != 0 {
		return c
	}
	ra, rb := ReadySince(a), ReadySince(b)
	if c := TrueFirst(ra == nil, rb == nil); c != 0 {
		return c
	}
	if cost != nil {
		if ca, cb := cost(a), cost(b); ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	if ra != nil && rb != nil && !ra.Equal(rb) {
		if ra.After(rb.Time) {
			return -1
		}
		return 1
	}
	if c := Restarts(b) - Restarts(a); c != 0 {
		return int(c)
	}
	return NewerFirst(a, b)
}

// Restarts is the most restarts of any of the pod's containers.
func Restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}
