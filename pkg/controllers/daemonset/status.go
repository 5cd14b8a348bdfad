package daemonset

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/status"
)

// ConditionRolloutSelector is True while nodes outside
// updateStrategy.rollingUpdate.selector run (or are moving to) the update
// revision: they left the selector during the rollout, or joined the
// cluster after it started and got the newest pod as every new node does.
// Their operation is finished, never left half-way; the condition says so
// instead of leaving it silent.
const ConditionRolloutSelector appsv1.DaemonSetConditionType = "RolloutSelectorExcluded"

// maxNamedNodes bounds the node names a condition message lists.
const maxNamedNodes = 10

// counts are the status numbers, as OpenKruise and apps/v1 define them,
// derived from the plan input alone.
func counts(in planInput) v1beta1.DaemonSetStatus {
	var s v1beta1.DaemonSetStatus
	for _, n := range in.nodes {
		live, _ := livePods(n)
		if !n.shouldRun {
			if len(n.pods) > 0 {
				s.NumberMisscheduled++
			}
			continue
		}
		s.DesiredNumberScheduled++
		if len(n.pods) > 0 {
			s.CurrentNumberScheduled++
		}
		var ready, available, updated bool
		for _, d := range live {
			ready = ready || d.ready
			available = available || d.available
			updated = updated || d.updated
		}
		if ready {
			s.NumberReady++
		}
		if available {
			s.NumberAvailable++
		}
		if updated {
			s.UpdatedNumberScheduled++
		}
	}
	s.NumberUnavailable = s.DesiredNumberScheduled - s.NumberAvailable
	return s
}

// reportLeftSelector sets the RolloutSelectorExcluded condition (and an
// event when it first turns True) for the nodes the plan names.
func (ps *pass) reportLeftSelector(nodes []string) {
	cond := appsv1.DaemonSetCondition{Type: ConditionRolloutSelector, Status: corev1.ConditionFalse, Reason: "AllInSelector"}
	if len(nodes) > 0 {
		named := nodes[:min(len(nodes), maxNamedNodes)]
		more := ""
		if len(nodes) > len(named) {
			more = fmt.Sprintf(" and %d more", len(nodes)-len(named))
		}
		cond.Status, cond.Reason = corev1.ConditionTrue, "NodesOutsideSelector"
		cond.Message = fmt.Sprintf("%d node(s) outside updateStrategy.rollingUpdate.selector run the update revision "+
			"(they left the selector, or joined the cluster, during the rollout): %s%s", len(nodes), strings.Join(named, ", "), more)
	}
	if ps.ds.Spec.UpdateStrategy.RollingUpdate == nil || ps.ds.Spec.UpdateStrategy.RollingUpdate.Selector == nil {
		cond = appsv1.DaemonSetCondition{}
	}
	prev := findCondition(ps.ds.Status.Conditions, ConditionRolloutSelector)
	if cond.Status == corev1.ConditionTrue && (prev == nil || prev.Status != corev1.ConditionTrue) {
		ps.r.events.Eventf(ps.ds, nil, corev1.EventTypeWarning, cond.Reason, "Rollout", "%s", cond.Message)
	}
	ps.selectorCondition = cond
}

func findCondition(cs []appsv1.DaemonSetCondition, t appsv1.DaemonSetConditionType) *appsv1.DaemonSetCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// syncStatus writes the status when it changed. daemonSetHash (v1alpha1's
// name) and updateRevision (v1beta1's) carry the same hash.
func (r *Reconciler) syncStatus(ctx context.Context, ps *pass) error {
	s := counts(ps.in)
	s.ObservedGeneration = ps.ds.Generation
	s.CollisionCount = ps.ds.Status.CollisionCount
	s.UpdateRevision = ps.revs.update
	s.DaemonSetHash = ps.revs.update
	for _, c := range ps.ds.Status.Conditions {
		if c.Type != ConditionRolloutSelector {
			s.Conditions = append(s.Conditions, c)
		}
	}
	if c := ps.selectorCondition; c.Type != "" {
		c.LastTransitionTime = metav1.NewTime(ps.now)
		if prev := findCondition(ps.ds.Status.Conditions, c.Type); prev != nil && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
		}
		s.Conditions = append(s.Conditions, c)
	}
	nodesUnavailable.WithLabelValues(ps.ds.Namespace, ps.ds.Name).Set(float64(s.NumberUnavailable))
	if apiequality.Semantic.DeepEqual(s, ps.ds.Status) {
		return nil
	}
	next := ps.ds.DeepCopy()
	next.Status = s
	// Replaced whole, without the cached resourceVersion (see package
	// status): an update conflicted on about a third of writes in rollouts.
	if err := status.Replace(ctx, r.client, next, s); err != nil {
		return fmt.Errorf("update status of %s/%s: %w", ps.ds.Namespace, ps.ds.Name, err)
	}
	return nil
}
