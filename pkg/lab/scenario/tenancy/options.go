package tenancy

import (
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Options are one run's size and pace.
type Options struct {
	Rig rig.Options
	// Tenants are created for the run; Pods are spread over them (and, in
	// the direct phase, over as many namespaces).
	Tenants, Pods int
	// QPS paces pod creation, the same in the direct and the tenant phase;
	// Workers are concurrent creates.
	QPS     float64
	Workers int
	// Greedy tenants each create Burst pods at once in the fairness phase,
	// while every other tenant creates RegularPods pods, one a second
	// (Greedy 0: no fairness phase).
	Greedy, Burst, RegularPods int
	// IdleWindow is how long tenant control planes are watched idle.
	IdleWindow time.Duration
	// PhaseTimeout bounds each phase.
	PhaseTimeout time.Duration
}

// podsPerNode leaves room under `myriad nodes`' 110 for the cluster's own
// pods and for a skew of the scheduler's spread.
const podsPerNode = 80

// Validate checks the options, naming the flag to fix.
func (o *Options) Validate() error {
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	peak := max(o.Pods, o.Greedy*o.Burst+(o.Tenants-o.Greedy)*o.RegularPods)
	switch {
	case o.Rig.Attached():
		return fmt.Errorf("--kubeconfig is not supported: the bench needs the tenant host of a cluster it starts")
	case o.Tenants < 1 || o.Tenants > 200:
		return fmt.Errorf("--tenants must be between 1 and 200, got %d", o.Tenants)
	case o.Pods < o.Tenants:
		return fmt.Errorf("--pods must be at least --tenants (%d), got %d", o.Tenants, o.Pods)
	case !(o.QPS > 0):
		return fmt.Errorf("--qps must be positive, got %g", o.QPS)
	case o.Workers < 1 || o.Workers > 256:
		return fmt.Errorf("--workers must be between 1 and 256, got %d", o.Workers)
	case o.Greedy < 0 || o.Greedy >= o.Tenants && o.Greedy > 0:
		return fmt.Errorf("--greedy must be 0 (no fairness phase) or fewer than --tenants (%d), got %d", o.Tenants, o.Greedy)
	case o.Greedy > 0 && (o.Burst < 1 || o.RegularPods < 1):
		return fmt.Errorf("--burst and --regular-pods must be at least 1 with --greedy, got %d and %d", o.Burst, o.RegularPods)
	case o.IdleWindow < 5*time.Second:
		return fmt.Errorf("--idle-window must be at least 5s, got %s", o.IdleWindow)
	case o.PhaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.PhaseTimeout)
	case o.Rig.Nodes*podsPerNode < peak:
		return fmt.Errorf("%d pods at once do not fit on --nodes %d (%d pods each); raise --nodes to at least %d", peak, o.Rig.Nodes, podsPerNode, (peak+podsPerNode-1)/podsPerNode)
	}
	return nil
}

func parameters(o Options) map[string]string {
	return map[string]string{
		"nodes": fmt.Sprint(o.Rig.Nodes), "tenants": fmt.Sprint(o.Tenants), "pods": fmt.Sprint(o.Pods),
		"qps": fmt.Sprint(o.QPS), "workers": fmt.Sprint(o.Workers), "greedy": fmt.Sprint(o.Greedy),
		"burst": fmt.Sprint(o.Burst), "regularPods": fmt.Sprint(o.RegularPods), "idleWindow": o.IdleWindow.String(),
	}
}
