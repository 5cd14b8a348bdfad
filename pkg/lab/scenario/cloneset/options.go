package cloneset

import (
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Images are distinct, pullable images, so that the run also works on real
// nodes: each phase moves every pod to the next one.
var Images = []string{"registry.k8s.io/pause:3.7", "registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10"}

// Options are `myriad bench cloneset`'s flags.
type Options struct {
	// Rig is the cluster: started with the CloneSet controller, or
	// attached (Rig.Kubeconfig) to one with the CRD and `myriad manager`.
	Rig rig.Options
	// Pods is the CloneSet's replicas.
	Pods int
	// MaxUnavailable is updateStrategy.maxUnavailable: pods or a percentage.
	MaxUnavailable string
	PhaseTimeout   time.Duration
	// Rollouts are the phases after the scale-up: InPlace or Recreate.
	Rollouts []string
	// Images are one per phase, the scale-up's first.
	Images []string
	// NodeCapacity is `myriad nodes --capacity` of a started cluster.
	NodeCapacity string
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if err := rig.CheckWorkload(o.Rig, o.Pods, o.NodeCapacity, o.PhaseTimeout, o.MaxUnavailable); err != nil {
		return err
	}
	for _, r := range o.Rollouts {
		if r != InPlace && r != Recreate {
			return fmt.Errorf("--rollouts: unknown rollout %q (use %s or %s)", r, InPlace, Recreate)
		}
	}
	if len(o.Images) < 1+len(o.Rollouts) {
		return fmt.Errorf("--images must name %d images (the scale-up and %d rollouts), got %d", 1+len(o.Rollouts), len(o.Rollouts), len(o.Images))
	}
	return rig.CheckImages(o.Images[:1+len(o.Rollouts)], "each phase needs an image the one before did not run")
}

// Phases are the phase kinds in order: the scale-up, then the rollouts.
func (o Options) Phases() []string { return append([]string{Scale}, o.Rollouts...) }

// MaxUnavailablePods resolves --max-unavailable as the controller does: a
// percentage of replicas rounded down.
func (o Options) MaxUnavailablePods() (int, error) {
	_, n, err := lab.MaxUnavailable("--max-unavailable", o.MaxUnavailable, o.Pods)
	return n, err
}
