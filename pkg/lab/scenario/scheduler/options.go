package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Phase kinds: what binds the pods of a phase.
const (
	Kube    = "kube"
	Myriad  = "myriad"
	Ceiling = "ceiling"
)

// Options are `myriad bench scheduler`'s flags.
type Options struct {
	// Rig is the cluster: always started (the schedulers under test need
	// its scheduler kubeconfig and configuration), with no scheduler.
	Rig rig.Options
	// Pods are created and scheduled in each phase.
	Pods int
	// PhaseTimeout bounds each step of a phase: create, schedule, delete.
	PhaseTimeout time.Duration
	// CreateWorkers are the concurrent pod creates and deletes.
	CreateWorkers int
	// Binders are the ceiling's concurrent Binding requests.
	Binders int
	// CeilingEvents: the ceiling also records the Scheduled event per pod.
	CeilingEvents bool
	// Order is the phases, comma-separated.
	Order string
	// IdleWindow is how long each scheduler runs on, with nothing to
	// schedule, after its last binding (and a settle of up to 10s) to
	// measure its idle CPU rate; 0 stops it at its last binding.
	IdleWindow time.Duration
	// MyriadArgs are extra flags for `myriad scheduler`.
	MyriadArgs []string
	// ProfileDir, when set, receives a CPU profile of each scheduler
	// process under test, from its start to its stop (--cpu-profiles).
	ProfileDir string
	// Command is the command line, for the report's parameters.
	Command string
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	switch {
	case o.Rig.Attached():
		return fmt.Errorf("--kubeconfig: the scheduler bench starts its own cluster (it runs each scheduler with the cluster's scheduler identity)")
	case o.Rig.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", o.Rig.Nodes)
	case o.Pods < 1:
		return fmt.Errorf("--pods must be at least 1, got %d", o.Pods)
	case o.PhaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.PhaseTimeout)
	case o.CreateWorkers < 1 || o.CreateWorkers > 1024:
		return fmt.Errorf("--create-workers must be between 1 and 1024, got %d", o.CreateWorkers)
	case o.IdleWindow < 0:
		return fmt.Errorf("--idle-window must not be negative, got %s", o.IdleWindow)
	case o.Binders < 1 || o.Binders > 1024:
		return fmt.Errorf("--binders must be between 1 and 1024, got %d", o.Binders)
	}
	if _, err := o.Phases(); err != nil {
		return err
	}
	return o.Rig.Validate()
}

// Phases are --order's phase kinds in order.
func (o Options) Phases() ([]string, error) {
	var kinds []string
	for k := range strings.SplitSeq(o.Order, ",") {
		switch k = strings.TrimSpace(k); k {
		case Kube, Myriad, Ceiling:
			kinds = append(kinds, k)
		default:
			return nil, fmt.Errorf("--order: unknown phase %q (use kube, myriad, ceiling)", k)
		}
	}
	return kinds, nil
}
