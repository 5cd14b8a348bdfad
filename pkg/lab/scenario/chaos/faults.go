package chaos

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// FaultInput is one fault as injected and observed; times are absolute,
// nil when the step was not seen.
type FaultInput struct {
	Process string
	Kind    string
	Leader  bool
	// Instances is how many processes of the kind ran: with one, the
	// fault hit a single point of failure.
	Instances int
	Signal    string
	At        time.Time
	// Pause is how long a SIGSTOP lasted; ResumedAt when SIGCONT was
	// sent.
	Pause     time.Duration
	ResumedAt *time.Time
	// BackAt is when the hit process (or its replacement) served again:
	// its readiness check answered.
	BackAt *time.Time
	// LeaderAt is, for a kind that leads through a Lease, when a live
	// instance held the Lease and renewed it after the fault; for the
	// simulator, when a node's Lease was renewed again. An API server's
	// or etcd's service is judged from the probes' outages instead.
	LeaderAt *time.Time
	Err      string
}

// pollEvery is how often recovery is checked.
const pollEvery = 100 * time.Millisecond

// inject hits f.Target, resumes a paused process after f.Pause, and waits
// until it has recovered or RecoveryTimeout has passed.
func (x *Run) inject(ctx context.Context, f Injection, instances int) FaultInput {
	clk := x.env.Clock
	fi := FaultInput{Process: f.Target.Process, Kind: f.Target.Kind, Leader: f.Target.Leader, Instances: instances, Signal: sigName(f.Signal)}
	heldAs := ""
	if h := x.r.Cluster.Handovers[f.Target.Process]; h != nil && f.Target.Leader {
		heldAs = h.Identity()
	}
	fi.At = clk.Now()
	pid, err := x.r.Signal(f.Target.Process, f.Signal)
	if err != nil {
		fi.Err = err.Error()
		return fi
	}
	resume := func() {
		if _, err := x.r.Signal(f.Target.Process, syscall.SIGCONT); err != nil && fi.Err == "" {
			fi.Err = "resume: " + err.Error()
		}
		fi.ResumedAt = ptr.To(clk.Now())
	}
	paused := f.Signal == syscall.SIGSTOP
	if paused {
		fi.Pause = f.Pause
		// Resumed whatever happens below: the run never leaves a process
		// paused.
		defer func() {
			if fi.ResumedAt == nil {
				resume()
			}
		}()
	}
	// Recovery is watched during a pause too: a standby may take over
	// before the paused leader is resumed.
	deadline := fi.At.Add(f.Pause + x.o.RecoveryTimeout)
	tick := clk.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		now := clk.Now()
		if paused && fi.ResumedAt == nil && !now.Before(fi.At.Add(f.Pause)) {
			resume()
		}
		stopped := paused && fi.ResumedAt == nil
		if !stopped && fi.BackAt == nil && x.back(ctx, f, pid) {
			fi.BackAt = ptr.To(clk.Now())
		}
		if fi.LeaderAt == nil {
			if at, ok := x.served(ctx, fi, heldAs); ok {
				fi.LeaderAt = ptr.To(at)
			}
		}
		if fi.BackAt != nil && (fi.LeaderAt != nil || !leads(fi.Kind)) {
			return fi
		}
		if now.After(deadline) {
			fi.Err = fmt.Sprintf("%s had not recovered %s after the fault", fi.Process, x.o.RecoveryTimeout)
			return fi
		}
		select {
		case <-ctx.Done():
			fi.Err = "interrupted while " + fi.Process + " recovered"
			return fi
		case <-tick.C():
		}
	}
}

// leads says the kind's service is a leader's (or the simulator's
// heartbeats), measured while the fault heals.
func leads(kind string) bool { return kind == "nodes" || slices.Contains(elected, kind) }

// back says the hit process serves again: a killed one has been replaced
// by a new process that passes its readiness check, a paused one passes
// it after the resume.
func (x *Run) back(ctx context.Context, f Injection, oldPid int) bool {
	sup := x.r.Cluster.Supervisor
	if f.Signal == syscall.SIGKILL {
		if pid := sup.Pids()[f.Target.Process]; pid == 0 || pid == oldPid {
			return false
		}
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return sup.Probe(cctx, f.Target.Process) == nil
}

// served says when the kind's service was seen working again after the
// fault: a Lease of kube-system renewed after it by a holder that is not
// the hit leader (or is it, resumed), or a node's Lease renewed after the
// simulator was back. A fault on an instance that did not lead took no
// leader away and is served at once.
func (x *Run) served(ctx context.Context, fi FaultInput, heldAs string) (time.Time, bool) {
	switch {
	case fi.Kind == "nodes":
		since := fi.BackAt
		if fi.ResumedAt != nil {
			since = fi.ResumedAt
		}
		if since == nil {
			return time.Time{}, false
		}
		return x.nodeLeaseRenewedAfter(ctx, *since)
	case !slices.Contains(elected, fi.Kind):
		return time.Time{}, false
	case !fi.Leader || heldAs == "":
		return fi.At, true
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	l, err := x.r.Client.CoordinationV1().Leases("kube-system").Get(cctx, fi.Kind, metav1.GetOptions{})
	if err != nil || l.Spec.RenewTime == nil {
		return time.Time{}, false
	}
	holder, renewed := ptr.Deref(l.Spec.HolderIdentity, ""), l.Spec.RenewTime.Time
	switch {
	case holder == "" || !renewed.After(fi.At):
		return time.Time{}, false
	case holder != heldAs:
		// Another instance took over: it leads from its acquisition.
		if a := l.Spec.AcquireTime; a != nil && a.After(fi.At) {
			return a.Time, true
		}
		return renewed, true
	case fi.ResumedAt == nil:
		return time.Time{}, false // the hit leader, still paused
	}
	return renewed, true // the hit leader, resumed, renewed in time
}

// nodeLeaseRenewedAfter looks at up to 100 node Leases for a renewal after
// t, and says when the first was.
func (x *Run) nodeLeaseRenewedAfter(ctx context.Context, t time.Time) (time.Time, bool) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	leases, err := x.r.Client.CoordinationV1().Leases("kube-node-lease").List(cctx, metav1.ListOptions{Limit: 100})
	if err != nil {
		return time.Time{}, false
	}
	var first time.Time
	for _, l := range leases.Items {
		if r := l.Spec.RenewTime; r != nil && r.After(t) && (first.IsZero() || r.Before(&metav1.MicroTime{Time: first})) {
			first = r.Time
		}
	}
	return first, !first.IsZero()
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGSTOP:
		return "STOP"
	}
	return s.String()
}
