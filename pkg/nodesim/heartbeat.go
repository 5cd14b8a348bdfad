package nodesim

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
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
	justRegistered := !n.registered
	if !n.registered {
		if err := s.register(ctx, n, nil); err != nil {
			s.fail(err)
			logger.Error(err, "Register node", "node", n.name)
			return now.Add(interval), true
		}
	}
	s.metrics.heartbeatLag.Observe(now.Sub(due).Seconds())
	recovered := n.recovered.Swap(false)
	if recovered {
		n.readySince = metav1.NewTime(now) // Ready went Unknown while we were silent
		// A node that stopped heartbeating and came back was down: it
		// reports a new boot, as a crashed and rebooted machine does.
		n.bootID = newBootID()
		s.events.node(n.name, true, "Rebooted", fmt.Sprintf("Node %s has been rebooted, boot id: %s", n.name, n.bootID))
		s.events.node(n.name, false, "NodeReady", fmt.Sprintf("Node %s status is now: NodeReady", n.name))
	}
	// Lease mode: renew the Lease, full NodeStatus only when due or after a
	// recovery. Status mode is the kubelet before NodeLease: every heartbeat
	// is a NodeStatus patch against the node's previous status (the full
	// status after a recovery) and there is no Lease.
	statusDue, full := recovered || !now.Before(n.nextStatus), recovered
	// A pull that ended changes status.images, which the kubelet reports
	// at its next status update rather than at the periodic one, so that
	// kube-scheduler's ImageLocality sees it.
	if n.images.mark(now) != n.imagesReported {
		statusDue, full = true, true
	}
	// So does a change of the eviction manager's pressure conditions.
	if n.pressureBits() != n.pressureReported {
		statusDue = true
	}
	if s.cfg.HeartbeatMode == HeartbeatStatus {
		// Registering wrote the whole status a moment ago; a patch of
		// the same second would be empty.
		statusDue = recovered || !justRegistered
	} else if err := s.renewLease(ctx, n, now); err != nil {
		s.metrics.leaseErrors.Inc()
		s.fail(err)
		logger.Error(err, "Renew lease", "node", n.name)
	}
	if statusDue {
		if err := s.patchStatus(ctx, n, now, full); err != nil {
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
	var sent int // request body bytes, all attempts
	defer func() {
		took := s.clock.Since(start)
		s.metrics.leaseLatency.Observe(took.Seconds())
		s.metrics.heartbeatWrite(writeLease, sent, took)
	}()
	if n.lease != nil {
		l := s.renewed(n, n.lease, now)
		sent += leaseWireSize(l)
		l, err := leases.Update(ctx, l, metav1.UpdateOptions{})
		switch {
		case err == nil:
			n.lease = l
			return nil
		case apierrors.IsConflict(err):
			cur, gerr := leases.Get(ctx, n.name, metav1.GetOptions{})
			if gerr == nil {
				l = s.renewed(n, cur, now)
				sent += leaseWireSize(l)
				l, err = leases.Update(ctx, l, metav1.UpdateOptions{})
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
	l := s.renewed(n, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: n.name, Namespace: LeaseNamespace},
	}, now)
	sent += leaseWireSize(l)
	l, err := leases.Create(ctx, l, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := leases.Get(ctx, n.name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("adopt lease %s: %w", n.name, gerr)
		}
		l = s.renewed(n, cur, now)
		sent += leaseWireSize(l)
		l, err = leases.Update(ctx, l, metav1.UpdateOptions{})
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

// leaseEncoder encodes a Lease exactly as the simulator's client sends it
// (protobuf, coordination.k8s.io/v1, with the k8s envelope).
var leaseEncoder = scheme.Codecs.EncoderForVersion(
	protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), coordinationv1.SchemeGroupVersion)

// leaseWireSize is the size of the request body that writes l. Measured by
// encoding rather than at the transport, so it is the heartbeat's own cost:
// ~0.3 KB against a NodeStatus patch's kilobytes. It encodes the Lease a
// second time, which is cheap next to the request itself.
func leaseWireSize(l *coordinationv1.Lease) int {
	var w countingWriter
	if err := leaseEncoder.Encode(l, &w); err != nil {
		return 0 // only fails for types the scheme lacks; the Update reports it
	}
	return int(w)
}

type countingWriter int

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}
