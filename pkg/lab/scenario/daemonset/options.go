package daemonset

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Images are distinct, pullable agent images, so that the same manifests
// also work on real nodes: the agent's at creation, after the in-place
// rollout and after the recreating one. The upstream DaemonSet is created
// with the first and rolled to the second.
var Images = []string{"registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10"}

// Options are `myriad bench daemonset`'s flags.
type Options struct {
	// Rig is the cluster the bench starts (no --kubeconfig: the agent
	// goes on every node, so the bench needs nodes of its own).
	Rig rig.Options
	// NodeCapacity is `myriad nodes --capacity`; empty for its default.
	NodeCapacity string
	// Images are the agent's: created, in place, recreated (see Images).
	Images []string
	// MaxUnavailable is every rollout's maxUnavailable: nodes or a
	// percentage of the nodes, rounded up as a DaemonSet rounds it.
	MaxUnavailable string
	// Compare adds the upstream DaemonSet's phases.
	Compare      bool
	PhaseTimeout time.Duration
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if o.Rig.Attached() {
		return errors.New("--kubeconfig is not supported: the agent runs on every node, so the bench starts its own cluster of --nodes")
	}
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	switch {
	case o.Rig.Nodes < 1 || o.Rig.Nodes > 100_000:
		return fmt.Errorf("--nodes must be between 1 and 100000, got %d", o.Rig.Nodes)
	case o.PhaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.PhaseTimeout)
	case len(o.Images) != len(Images):
		return fmt.Errorf("--images must name %d images (the agent's at creation, after the in-place rollout and after the recreating one), got %d", len(Images), len(o.Images))
	}
	if o.NodeCapacity != "" {
		if err := rig.CheckFit(o.Rig.Nodes, o.Rig.Nodes, o.NodeCapacity); err != nil {
			return err
		}
	}
	if _, err := o.MaxUnavailableValue(); err != nil {
		return err
	}
	return rig.CheckImages(o.Images, "each rollout needs an image the agents did not run")
}

// MaxUnavailableValue is --max-unavailable as
// rollingUpdate.maxUnavailable: a positive number of nodes or a
// percentage from 1% to 100%.
func (o Options) MaxUnavailableValue() (intstr.IntOrString, error) {
	return lab.PositiveMaxUnavailable("--max-unavailable", o.MaxUnavailable, "nodes")
}

// Budget is how many of nodes may be without an available agent at once
// during a rollout: maxUnavailable of nodes, a percentage rounded up, as
// both DaemonSet controllers resolve it.
func Budget(v intstr.IntOrString, nodes int) (int, error) { return lab.RoundedUpBudget(v, nodes) }
