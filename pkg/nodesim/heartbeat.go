package nodesim

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// LeaseNamespace holds node Leases, as for kubelets.
const LeaseNamespace = "kube-node-lease"

// heartbeat is the dispatcher's job for one node: register if needed, renew
// the Lease, and report NodeStatus when due or after a recovery. It returns
// when the node is next due; failed nodes drop out until recovered.
func (s *sim) heartbeat(ctx context.Context, i int, due time.Time) (time.Time, bool) {
	n := s.nodes[i]
	if n.failed.Load() {
		return time.Time{}, false
	}
	logger := klog.FromContext(ctx)
	now := s.clock.Now()
	interval := s.cfg.HeartbeatInterval
	if !n.registered {
		if err := s.register(ctx, n, nil); err != nil {
			s.fail(err)
			logger.Error(err, "Register node", "node", n.name)
			return now.Add(interval), true
		}
	}
	s.metrics.heartbeatLag.Observe(now.Sub(due).Seconds())
	recovered := n.recovered.Swap(false)
	if err := s.renewLease(ctx, n, now); err != nil {
		s.metrics.leaseErrors.Inc()
		s.fail(err)
		logger.Error(err, "Renew lease", "node", n.name)
	}
	if recovered {
		n.readySince = metav1.NewTime(now) // Ready went Unknown while we were silent
	}
	if recovered || !now.Before(n.nextStatus) {
		if err := s.patchStatus(ctx, n, now, recovered); err != nil {
			if recovered {
				n.recovered.Store(true) // try the full report again next time
			}
			if apierrors.IsNotFound(err) {
				// Someone deleted the Node; a kubelet that keeps running
				// would be restarted by its supervisor and register again.
				n.registered, n.lease = false, nil
			}
			s.fail(err)
			logger.Error(err, "Report node status", "node", n.name)
		}
	}
	// Keep the node's phase: the next slot after now on its own grid, so a
	// slow server makes renewals late, never bunched together.
	next := due.Add(interval)
	if !next.After(now) {
		next = next.Add(((now.Sub(next) / interval) + 1) * interval)
	}
	return next, true
}

// renewLease writes the Lease with a single PUT built from the Lease the
// server returned last time; no GET, as the kubelet's lease controller does
// since NodeLease. Only a Conflict or NotFound costs a GET or a create.
func (s *sim) renewLease(ctx context.Context, n *simNode, now time.Time) error {
	leases := s.client.CoordinationV1().Leases(LeaseNamespace)
	start := s.clock.Now()
	defer func() { s.metrics.leaseLatency.Observe(s.clock.Since(start).Seconds()) }()
	if n.lease != nil {
		l, err := leases.Update(ctx, s.renewed(n, n.lease, now), metav1.UpdateOptions{})
		switch {
		case err == nil:
			n.lease = l
			return nil
		case apierrors.IsConflict(err):
			cur, gerr := leases.Get(ctx, n.name, metav1.GetOptions{})
			if gerr == nil {
				l, err = leases.Update(ctx, s.renewed(n, cur, now), metav1.UpdateOptions{})
				if err == nil {
					n.lease = l
					return nil
				}
			} else {
				err = gerr
			}
			if !apierrors.IsNotFound(err) {
				n.lease = nil
				return fmt.Errorf("renew lease %s: %w", n.name, err)
			}
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("renew lease %s: %w", n.name, err)
		}
	}
	l, err := leases.Create(ctx, s.renewed(n, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: n.name, Namespace: LeaseNamespace},
	}, now), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := leases.Get(ctx, n.name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("adopt lease %s: %w", n.name, gerr)
		}
		l, err = leases.Update(ctx, s.renewed(n, cur, now), metav1.UpdateOptions{})
	}
	if err != nil {
		n.lease = nil
		return fmt.Errorf("create lease %s: %w", n.name, err)
	}
	n.lease = l
	return nil
}

// renewed returns a copy of l renewed at now. Only RenewTime changes on the
// hot path; the owner reference is repaired if the Node was re-created.
func (s *sim) renewed(n *simNode, l *coordinationv1.Lease, now time.Time) *coordinationv1.Lease {
	c := *l // shallow: nothing shared is mutated
	c.Spec.HolderIdentity = &n.name
	c.Spec.LeaseDurationSeconds = &s.leaseSeconds
	c.Spec.RenewTime = &metav1.MicroTime{Time: now}
	if n.uid != "" && (len(c.OwnerReferences) != 1 || c.OwnerReferences[0].UID != n.uid) {
		c.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: n.name, UID: n.uid,
		}}
	}
	return &c
}
