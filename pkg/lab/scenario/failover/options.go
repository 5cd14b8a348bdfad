package failover

import (
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Options are `myriad bench failover`'s flags.
type Options struct {
	Rig rig.Options
	// Components are measured in this order (see Components).
	Components []string
	// Rounds kill the leader; each component also gets a control round.
	Rounds int
	// Replicas is the work asked for right after each kill.
	Replicas     int
	RoundTimeout time.Duration
	// Signal stops the leader: SIGKILL (a crash) or SIGTERM.
	Signal syscall.Signal
	// Handover says which rounds run with the supervisor's Lease handover.
	Handover Handover
}

// Handover is --handover: the rounds with the supervisor releasing a dead
// leader's Lease (on), those left to the Lease's expiry as upstream
// (off), or both in one run, --rounds of each.
type Handover string

// The values --handover takes.
const (
	HandoverBoth Handover = "both"
	HandoverOn   Handover = "on"
	HandoverOff  Handover = "off"
)

// modes is the handover setting of each kind of round, in order.
func (h Handover) modes() []bool {
	switch h {
	case HandoverOn:
		return []bool{true}
	case HandoverOff:
		return []bool{false}
	}
	return []bool{false, true}
}

// DefaultComponents are upstream's controller manager beside Myriad's own
// leader-elected components.
var DefaultComponents = []string{"kube-controller-manager", "myriad-scheduler", "myriad-manager"}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	if len(o.Components) == 0 {
		return fmt.Errorf("--component must name at least one of %v", Components)
	}
	for i, c := range o.Components {
		if _, ok := specs[c]; !ok {
			return fmt.Errorf("--component must be among %v, got %q", Components, c)
		}
		if slices.Contains(o.Components[:i], c) {
			return fmt.Errorf("--component names %s twice", c)
		}
	}
	if slices.Contains(o.Components, "kube-scheduler") && slices.Contains(o.Components, "myriad-scheduler") {
		return fmt.Errorf("--component: kube-scheduler and myriad-scheduler cannot both run a cluster; measure them in two runs")
	}
	switch {
	case o.Rounds < 1 || o.Rounds > 100:
		return fmt.Errorf("--rounds must be between 1 and 100, got %d", o.Rounds)
	case o.Replicas < 1 || o.Replicas > 10000:
		return fmt.Errorf("--replicas must be between 1 and 10000, got %d", o.Replicas)
	case o.RoundTimeout < 30*time.Second:
		return fmt.Errorf("--round-timeout must be at least 30s, got %s", o.RoundTimeout)
	case !o.Rig.Attached() && o.Rig.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1: the pods need somewhere to run, got %d", o.Rig.Nodes)
	case o.Handover != HandoverBoth && o.Handover != HandoverOn && o.Handover != HandoverOff:
		return fmt.Errorf("--handover must be both, on or off, got %q", o.Handover)
	case o.Signal != syscall.SIGKILL && o.Signal != syscall.SIGTERM:
		return fmt.Errorf("--signal must be KILL or TERM, got %v", o.Signal)
	}
	return nil
}

// scheduler is `myriad up --scheduler` for the components measured: the
// scheduler under test, kube-scheduler when none is.
func (o Options) scheduler() string {
	if slices.Contains(o.Components, "myriad-scheduler") {
		return "myriad"
	}
	return "kube"
}
