package soak

import (
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Options are the soak's: the cluster to start and how long to hold it.
type Options struct {
	Rig rig.Options
	// Duration is how long to measure once every node is Ready.
	Duration time.Duration
}

// Validate names the flag to fix. The soak starts its own cluster of at
// least one node: what it measures is that cluster's processes.
func (o Options) Validate() error {
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	switch {
	case o.Rig.Attached():
		return fmt.Errorf("the soak starts its own cluster; --kubeconfig is not one of its flags")
	case o.Rig.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", o.Rig.Nodes)
	case o.Duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", o.Duration)
	}
	return nil
}
