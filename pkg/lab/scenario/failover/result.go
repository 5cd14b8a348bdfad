package failover

import (
	"fmt"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// RoundInput is one round of one component as observed. Times are
// absolute; nil means the step was not seen before the round ended.
type RoundInput struct {
	Round  int
	Killed bool
	// Handover: the supervisor released the dead leader's Lease.
	Handover bool
	// Start is the kill (or, in the control round, the scale-up).
	Start    time.Time
	ScaledAt time.Time
	// Leader is the process that held the Lease and was killed
	// ("kube-controller-manager" or "kube-controller-manager-standby");
	// NewLeader the process that held it after the round, when known.
	Leader, NewLeader    string
	OldHolder, NewHolder string
	// Restarted is when the supervisor's new process was seen.
	Restarted *time.Time
	// LeaseTaken is when the bench saw another holder in the Lease;
	// LeaseAcquireTime is that holder's own acquireTime in the Lease.
	LeaseTaken, LeaseAcquireTime *time.Time
	// FirstWork is the component's first visible action after Start (see
	// Component.Work); FirstPod, FirstBound and AllRunning are the
	// workload's pods.
	FirstWork  *time.Time
	FirstPod   *time.Time
	FirstBound *time.Time
	AllRunning *time.Time
	Replicas   int
	Err        string
}

// ComponentInput is everything one component's figures are built from.
type ComponentInput struct {
	Component string
	Lease     string
	// Work says what the component's first work is.
	Work string
	// Standby is the second instance's process name; NotMeasured why the
	// component could not be measured (no standby, not in the cluster).
	Standby     string
	NotMeasured string
	// LeaseDurationSeconds is the Lease's own leaseDurationSeconds.
	LeaseDurationSeconds *float64
	Rounds               []RoundInput
}

// Input is everything the result is built from.
type Input struct {
	Info       lab.RunInfo
	Components []ComponentInput
}

// Round is one round's figures, in seconds after Start.
type Round struct {
	Round      int      `json:"round"`
	Killed     bool     `json:"killed"`
	Handover   bool     `json:"handover"`
	Leader     string   `json:"leader,omitempty"`
	NewLeader  string   `json:"newLeader,omitempty"`
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

// Component is one component's figures.
type Component struct {
	Component string `json:"component"`
	Lease     string `json:"lease"`
	Work      string `json:"firstWorkIs"`
	Standby   string `json:"standby,omitempty"`
	// Measured is false when the component could not be measured;
	// NotMeasured says why.
	Measured             bool     `json:"measured"`
	NotMeasured          string   `json:"notMeasured,omitempty"`
	LeaseDurationSeconds *float64 `json:"leaseDurationSeconds,omitempty"`
	Control              *Round   `json:"control,omitempty"`
	Rounds               []Round  `json:"rounds"`
	// Expired sums up the killed rounds where the dead leader's Lease
	// expired (upstream's failover), HandedOver those where the supervisor
	// released it; nil when no such round ran.
	Expired    *Mode `json:"leaseExpired,omitempty"`
	HandedOver *Mode `json:"handedOver,omitempty"`
	// TargetSeconds is the most kill → first work may take on average
	// with the handover (issue 16's MTTR target for the component).
	TargetSeconds float64 `json:"targetSeconds"`
}

// Mode is one kind of killed round, summed up.
type Mode struct {
	Rounds int `json:"rounds"`
	// Kill → new leader, kill → first work (the time to recovery), kill →
	// all pods Running.
	LeaseTaken lab.Latencies `json:"leaseTaken"`
	FirstWork  lab.Latencies `json:"firstWork"`
	AllRunning lab.Latencies `json:"allRunning"`
	// ExtraSeconds is the mean all-Running time minus the control
	// round's: what the failover cost the user.
	ExtraSeconds *float64 `json:"extraSeconds,omitempty"`
}

// targetSeconds is issue 16's recovery target with the handover: 2 s for
// Myriad's components, whose standbys keep their caches warm, 5 s for
// upstream's, which start their controllers only once they lead.
func targetSeconds(component string) float64 {
	if strings.HasPrefix(component, "myriad-") {
		return 2
	}
	return 5
}

// Result is result.json of the failover scenario.
type Result struct {
	lab.RunInfo
	Components []Component `json:"components"`
}

// Build reduces every component's rounds and judges the run: it passes
// when every component was measured and every killed round saw a new
// leader, the component's first work and all pods Running. A figure that
// was not seen is "no data", never a pass.
func Build(in Input) *Result {
	r := &Result{RunInfo: in.Info}
	var reasons, warnings []string
	for _, ci := range in.Components {
		c, why, warn := buildComponent(ci)
		r.Components = append(r.Components, c)
		reasons, warnings = append(reasons, why...), append(warnings, warn...)
	}
	if len(in.Components) == 0 && r.StoppedEarly == "" {
		reasons = append(reasons, lab.NoData("failover", "no component was measured"))
	}
	r.Judge(reasons, warnings)
	return r
}

func buildComponent(in ComponentInput) (Component, []string, []string) {
	c := Component{Component: in.Component, Lease: in.Lease, Work: in.Work, Standby: in.Standby,
		Measured: in.NotMeasured == "", NotMeasured: in.NotMeasured, LeaseDurationSeconds: in.LeaseDurationSeconds, Rounds: []Round{}}
	var reasons, warnings []string
	if !c.Measured {
		return c, []string{lab.NoData(in.Component+" failover", in.NotMeasured)}, nil
	}
	var rounds [2][]Round // by handover off, on
	for _, ri := range in.Rounds {
		fr := round(ri)
		name := fmt.Sprintf("%s round %d", in.Component, fr.Round)
		if !ri.Killed {
			cr := fr
			c.Control = &cr
			name = in.Component + " control round"
		} else {
			c.Rounds = append(c.Rounds, fr)
			i := map[bool]int{false: 0, true: 1}[fr.Handover]
			rounds[i] = append(rounds[i], fr)
		}
		switch {
		case fr.Err != "":
			reasons = append(reasons, name+": "+fr.Err)
		case fr.Killed && fr.LeaseTaken == nil:
			reasons = append(reasons, lab.NoData(name+": kill → new leader", "the Lease's holder never changed"))
		case fr.FirstWork == nil:
			reasons = append(reasons, lab.NoData(name+": first work", in.Work+" was never seen"))
		case fr.AllRunning == nil:
			reasons = append(reasons, name+": the pods were not all Running")
		}
	}
	c.Expired, c.HandedOver = summarize(rounds[0], c.Control), summarize(rounds[1], c.Control)
	c.TargetSeconds = targetSeconds(in.Component)
	if m := c.HandedOver; m != nil && m.FirstWork.Mean != nil && *m.FirstWork.Mean > c.TargetSeconds {
		reasons = append(reasons, fmt.Sprintf("%s: kill → first work with the handover took %.1f s on average, more than the %.0f s target", in.Component, *m.FirstWork.Mean, c.TargetSeconds))
	}
	if len(c.Rounds) == 0 {
		reasons = append(reasons, lab.NoData(in.Component+" failover", "no round killed its leader"))
	}
	if c.LeaseDurationSeconds == nil {
		warnings = append(warnings, in.Component+": the Lease's duration was not read")
	}
	return c, reasons, warnings
}

// summarize is one kind of killed round's figures; nil when none ran.
func summarize(rounds []Round, control *Round) *Mode {
	if len(rounds) == 0 {
		return nil
	}
	var taken, work, running []float64
	for _, fr := range rounds {
		for _, p := range []struct {
			v   *float64
			out *[]float64
		}{{fr.LeaseTaken, &taken}, {fr.FirstWork, &work}, {fr.AllRunning, &running}} {
			if p.v != nil {
				*p.out = append(*p.out, *p.v)
			}
		}
	}
	m := &Mode{Rounds: len(rounds), LeaseTaken: lab.SummarizeLatencies(taken), FirstWork: lab.SummarizeLatencies(work), AllRunning: lab.SummarizeLatencies(running)}
	if control != nil && control.AllRunning != nil && m.AllRunning.Mean != nil {
		m.ExtraSeconds = lab.Some(*m.AllRunning.Mean - *control.AllRunning)
	}
	return m
}

func round(in RoundInput) Round {
	since := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		return lab.Some(t.Sub(in.Start).Seconds())
	}
	r := Round{Round: in.Round, Killed: in.Killed, Handover: in.Handover, Leader: in.Leader, NewLeader: in.NewLeader, OldHolder: in.OldHolder, NewHolder: in.NewHolder,
		Replicas: in.Replicas, Err: in.Err, Restarted: since(in.Restarted), LeaseTaken: since(in.LeaseTaken), LeaseAcquire: since(in.LeaseAcquireTime),
		FirstWork: since(in.FirstWork), FirstPod: since(in.FirstPod), FirstBound: since(in.FirstBound), AllRunning: since(in.AllRunning)}
	if !in.ScaledAt.IsZero() {
		r.Scaled = since(&in.ScaledAt)
	}
	return r
}
