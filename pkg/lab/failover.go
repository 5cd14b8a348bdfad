package lab

import (
	"fmt"
	"time"
)

// The failover scenario (`myriad bench failover`) kills the leader of a
// leader-elected component in a running cluster, asks for work right
// after (a Deployment scaled up), and times every step until the work is
// done: the supervisor's restart, the new leader taking the Lease, the
// component's first action, the pods Running. A control round without a
// kill gives the same steps' times on a healthy cluster. The seed's claim
// is "controller failover: minutes → seconds" (hot standbys with warm
// caches); this is upstream's baseline, single instance restarted, which
// later work on standbys is measured against.

// FailoverRoundInput is one round as observed. Times are absolute; nil
// means the step was not seen before the round ended.
type FailoverRoundInput struct {
	Round  int
	Killed bool
	// Start is the kill (or, in the control round, the scale-up).
	Start     time.Time
	ScaledAt  time.Time
	OldHolder string
	NewHolder string
	// Restarted is when the supervisor's new process was seen.
	Restarted *time.Time
	// LeaseTaken is when the bench saw another holder in the Lease;
	// LeaseAcquireTime is that holder's own acquireTime in the Lease.
	LeaseTaken, LeaseAcquireTime *time.Time
	// FirstWork is the component's first visible action: the ReplicaSet
	// scaled (controller manager) or the first pod bound (scheduler).
	FirstWork  *time.Time
	FirstPod   *time.Time
	FirstBound *time.Time
	AllRunning *time.Time
	Replicas   int
	Err        string
}

// FailoverRound is one round's figures, in seconds after Start.
type FailoverRound struct {
	Round      int      `json:"round"`
	Killed     bool     `json:"killed"`
	OldHolder  string   `json:"oldHolder,omitempty"`
	NewHolder  string   `json:"newHolder,omitempty"`
	Scaled     *float64 `json:"scaledSeconds,omitempty"`
	Restarted  *float64 `json:"restartedSeconds,omitempty"`
	LeaseTaken *float64 `json:"leaseTakenSeconds,omitempty"`
	// LeaseAcquire is from the Lease's acquireTime (whole microseconds,
	// the new leader's clock: the same machine here).
	LeaseAcquire *float64 `json:"leaseAcquireSeconds,omitempty"`
	FirstWork    *float64 `json:"firstWorkSeconds,omitempty"`
	FirstPod     *float64 `json:"firstPodSeconds,omitempty"`
	FirstBound   *float64 `json:"firstBoundSeconds,omitempty"`
	AllRunning   *float64 `json:"allRunningSeconds,omitempty"`
	Replicas     int      `json:"replicas"`
	Err          string   `json:"error,omitempty"`
}

// FailoverInput is everything the result is built from.
type FailoverInput struct {
	Info      RunInfo
	Component string
	Lease     string
	// LeaseDurationSeconds is the Lease's own leaseDurationSeconds.
	LeaseDurationSeconds *float64
	Rounds               []FailoverRoundInput
}

// FailoverResult is result.json of the failover scenario.
type FailoverResult struct {
	RunInfo
	Component            string          `json:"component"`
	Lease                string          `json:"lease"`
	LeaseDurationSeconds *float64        `json:"leaseDurationSeconds,omitempty"`
	Control              *FailoverRound  `json:"control,omitempty"`
	Rounds               []FailoverRound `json:"rounds"`
	// Over the killed rounds: kill → new leader, kill → first work, kill
	// → all pods Running.
	LeaseTaken Latencies `json:"leaseTaken"`
	FirstWork  Latencies `json:"firstWork"`
	AllRunning Latencies `json:"allRunning"`
	// ExtraSeconds is the mean of the killed rounds' all-Running time
	// minus the control round's: what the failover cost the user.
	ExtraSeconds *float64 `json:"extraSeconds,omitempty"`
}

// BuildFailoverResult reduces the rounds and judges the run: it passes if
// every round's work was done.
func BuildFailoverResult(in FailoverInput) *FailoverResult {
	r := &FailoverResult{RunInfo: in.Info, Component: in.Component, Lease: in.Lease, LeaseDurationSeconds: in.LeaseDurationSeconds}
	var taken, work, running []float64
	var reasons []string
	for _, ri := range in.Rounds {
		fr := failoverRound(ri)
		if !ri.Killed {
			c := fr
			r.Control = &c
		} else {
			r.Rounds = append(r.Rounds, fr)
			for _, p := range []struct {
				v   *float64
				out *[]float64
			}{{fr.LeaseTaken, &taken}, {fr.FirstWork, &work}, {fr.AllRunning, &running}} {
				if p.v != nil {
					*p.out = append(*p.out, *p.v)
				}
			}
		}
		if fr.Err != "" {
			reasons = append(reasons, fmt.Sprintf("round %d: %s", fr.Round, fr.Err))
		} else if fr.AllRunning == nil {
			reasons = append(reasons, fmt.Sprintf("round %d: the pods were not all Running", fr.Round))
		}
	}
	r.LeaseTaken, r.FirstWork, r.AllRunning = SummarizeLatencies(taken), SummarizeLatencies(work), SummarizeLatencies(running)
	if r.Control != nil && r.Control.AllRunning != nil && r.AllRunning.Mean != nil {
		r.ExtraSeconds = Some(*r.AllRunning.Mean - *r.Control.AllRunning)
	}
	if len(r.Rounds) == 0 && r.StoppedEarly == "" {
		reasons = append(reasons, "no round killed the component")
	}
	r.Judge(reasons, nil)
	return r
}

func failoverRound(in FailoverRoundInput) FailoverRound {
	since := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		return Some(t.Sub(in.Start).Seconds())
	}
	scaled := in.ScaledAt
	r := FailoverRound{Round: in.Round, Killed: in.Killed, OldHolder: in.OldHolder, NewHolder: in.NewHolder, Replicas: in.Replicas, Err: in.Err,
		Restarted: since(in.Restarted), LeaseTaken: since(in.LeaseTaken), LeaseAcquire: since(in.LeaseAcquireTime),
		FirstWork: since(in.FirstWork), FirstPod: since(in.FirstPod), FirstBound: since(in.FirstBound), AllRunning: since(in.AllRunning)}
	if !scaled.IsZero() {
		r.Scaled = since(&scaled)
	}
	return r
}
