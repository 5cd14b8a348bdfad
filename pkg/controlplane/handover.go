package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// Lease handover: fast failover under `myriad up`.
//
// A leader that crashes does not release its Lease, so every candidate —
// a warm standby or the restarted process — waits until the Lease expires
// (15 s with upstream's timing) before it may lead. The supervisor sees
// a child die the moment it happens, so it can release the Lease on the
// dead leader's behalf, exactly as client-go's ReleaseOnCancel would have,
// and a candidate takes over at its next try.
//
// Releasing is only safe for a Lease the dead process held: releasing a
// live leader's Lease would let a second leader in while the first still
// acts. Upstream components pick a random identity per process
// (hostname_uuid) and publish it nowhere but the Lease, so the handover
// learns it the one moment the process says it holds the Lease: client-go
// logs "Successfully acquired lease" with the lock's name right after its
// write succeeded, and the handover reads the Lease then. It releases the
// Lease only if that identity still holds it when the process has exited
// (an update with the Lease's resourceVersion, so a candidate that took it
// in between wins). When the line is never seen, or the read came too
// late to be trusted, nothing is released and the Lease expires as
// upstream's would.

// acquiredPhrase is what client-go's leader election logs on acquiring.
var acquiredPhrase = []byte("Successfully acquired lease")

// learnWithin bounds how long after the log line the Lease may be read
// and still name this process: well under every renew deadline (10 s
// upstream), after which a leader that failed to renew stops leading and
// another may hold the Lease.
const learnWithin = 5 * time.Second

// LeaseHandover is a supervisor.Observer for one leader-elected component.
// It holds no goroutine between events and never signals the process.
type LeaseHandover struct {
	Leases          coordinationclient.LeasesGetter
	Namespace, Name string
	Clock           clock.PassiveClock
	// Logf reports each release (and failures to release).
	Logf func(format string, args ...any)
	// Announce reports through Logf, too, each time this process is
	// learnt to lead: with several instances, which one leads.
	Announce bool

	off atomic.Bool

	mu          sync.Mutex
	incarnation int    // bumped by each exit; a late read of an old one is dropped
	identity    string // what this incarnation holds the Lease as; "" unknown
	learning    sync.WaitGroup
}

var _ supervisor.Observer = (*LeaseHandover)(nil)

// NewLeaseHandover follows the Lease namespace/name of one component.
func NewLeaseHandover(leases coordinationclient.LeasesGetter, namespace, name string, logf func(string, ...any)) *LeaseHandover {
	return &LeaseHandover{Leases: leases, Namespace: namespace, Name: name, Clock: clock.RealClock{}, Logf: logf}
}

// SetEnabled turns releasing on or off (on by default); off, the dead
// leader's Lease expires as upstream's would. The failover bench measures
// both in one run.
func (h *LeaseHandover) SetEnabled(on bool) { h.off.Store(!on) }

// Identity is what this process holds the Lease as, "" when it is not
// known to lead (it never acquired, or exited since): with several
// instances it tells which one the Lease's holder is.
func (h *LeaseHandover) Identity() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.identity
}

// Lock is the Lease as client-go's leader election names it.
func (h *LeaseHandover) Lock() string { return h.Namespace + "/" + h.Name }

// Line watches for the acquisition of this handover's Lease.
func (h *LeaseHandover) Line(line []byte) {
	if !acquiredLine(line, h.Lock()) {
		return
	}
	seen := h.Clock.Now()
	h.mu.Lock()
	inc := h.incarnation
	h.learning.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.learning.Done()
		ctx, cancel := context.WithTimeout(context.Background(), learnWithin)
		defer cancel()
		lease, err := h.get(ctx)
		if err != nil {
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if id := learned(lease.Spec, inc, h.incarnation, h.Clock.Since(seen)); id != "" {
			h.identity = id
			if h.Announce {
				h.logf("leads (Lease %s, as %s)", h.Lock(), id)
			}
		}
	}()
}

// Exited releases the Lease if the incarnation that just ended still holds
// it. It waits for a read the last Line began, and returns within a few
// seconds whatever the API server does.
func (h *LeaseHandover) Exited() {
	h.learning.Wait()
	h.mu.Lock()
	id := h.identity
	h.identity = ""
	h.incarnation++
	h.mu.Unlock()
	if id == "" || h.off.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for range 2 { // a conflict is retried once: a renewal raced the read
		lease, err := h.get(ctx)
		if err != nil {
			h.logf("could not release Lease %s of the exited leader %s: %v", h.Lock(), id, err)
			return
		}
		spec, ok := released(lease.Spec, id, h.Clock.Now())
		if !ok {
			return // another holds it already
		}
		lease.Spec = spec
		_, err = h.Leases.Leases(h.Namespace).Update(ctx, lease, metav1.UpdateOptions{})
		if err == nil {
			h.logf("released Lease %s of the exited leader %s", h.Lock(), id)
			return
		}
		if !apierrors.IsConflict(err) {
			h.logf("could not release Lease %s of the exited leader %s: %v", h.Lock(), id, err)
			return
		}
	}
}

// get reads the Lease, again every 100 ms while the API server cannot
// answer until ctx ends: the connection `up` holds may have gone to an
// API server that just died (one of several under --ha), and the first
// request on it fails though the others serve.
func (h *LeaseHandover) get(ctx context.Context) (*coordinationv1.Lease, error) {
	for {
		lease, err := h.Leases.Leases(h.Namespace).Get(ctx, h.Name, metav1.GetOptions{})
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return lease, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (h *LeaseHandover) logf(format string, args ...any) {
	if h.Logf != nil {
		h.Logf(format, args...)
	}
}

// acquiredLine reports whether line is client-go's log of acquiring lock
// ("namespace/name"): klog's text form, `"Successfully acquired lease"
// lock="kube-system/kube-scheduler"`, or its JSON form, `"lock":"..."`.
func acquiredLine(line []byte, lock string) bool {
	i := bytes.Index(line, acquiredPhrase)
	if i < 0 {
		return false
	}
	rest := line[i+len(acquiredPhrase):]
	return bytes.Contains(rest, []byte(`lock="`+lock+`"`)) || bytes.Contains(rest, []byte(`"lock":"`+lock+`"`))
}

// learned is the identity a read of the Lease names for the incarnation
// that logged the acquisition, or "" when the read cannot be trusted: the
// incarnation ended before it (a later holder would be named), or it came
// so late that the process might have lost the Lease since.
func learned(spec coordinationv1.LeaseSpec, readFor, current int, after time.Duration) string {
	if readFor != current || after > learnWithin {
		return ""
	}
	return ptr.Deref(spec.HolderIdentity, "")
}

// released is the Lease spec after releasing it on behalf of identity, as
// client-go's own release writes it (no holder, a one-second duration, the
// transitions kept), or false when identity no longer holds it.
func released(spec coordinationv1.LeaseSpec, identity string, now time.Time) (coordinationv1.LeaseSpec, bool) {
	if identity == "" || ptr.Deref(spec.HolderIdentity, "") != identity {
		return spec, false
	}
	t := metav1.NewMicroTime(now)
	spec.HolderIdentity = ptr.To("")
	spec.LeaseDurationSeconds = ptr.To(int32(1))
	spec.AcquireTime, spec.RenewTime = &t, &t
	return spec, true
}

// handoverRetryPeriod is how often Myriad's own components, run by
// `myriad up`, try to take a free Lease (upstream's 2 s elsewhere):
// client-go waits between one and 2.2 retry periods between tries, so with
// a handed-over Lease the wait after a leader's death is what a candidate
// still sleeps, and 500 ms keeps it under a second. The leader renews as
// often: two small writes a second per component.
const handoverRetryPeriod = "--leader-elect-retry-period=500ms"

// leaderLeases are the Leases in kube-system that the leader-elected
// components `myriad up` runs compete for: upstream's names for upstream's
// components, and Myriad's own.
var leaderLeases = map[string]string{
	"kube-controller-manager": "kube-controller-manager",
	"kube-scheduler":          "kube-scheduler",
	"myriad-scheduler":        "myriad-scheduler",
	"myriad-manager":          "myriad-manager",
	"myriad-storage":          "myriad-storage",
	"myriad-syncer":           "myriad-syncer",
}

// NewHandover is a handover for process, an instance of component (nil
// when the component elects no leader), reporting among the cluster's
// events. A second instance of one component (a standby) needs its own.
func (c *Cluster) NewHandover(leases coordinationclient.LeasesGetter, component, process string) *LeaseHandover {
	name, ok := leaderLeases[component]
	if !ok {
		return nil
	}
	return NewLeaseHandover(leases, "kube-system", name, func(format string, args ...any) {
		c.events <- supervisor.Event{Process: process, Message: fmt.Sprintf(format, args...)}
	})
}
