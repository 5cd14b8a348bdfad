package cloneset

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	attached := o.Rig.Attached()
	switch {
	case o.Pods < 1 || o.Pods > 1_000_000:
		return fmt.Errorf("--pods must be between 1 and 1000000, got %d", o.Pods)
	case !attached && o.Rig.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", o.Rig.Nodes)
	case attached && o.Rig.DataDir != "":
		return errors.New("--data-dir is for a cluster the bench starts; with --kubeconfig there is none")
	case attached && o.NodeCapacity != "":
		return errors.New("--node-capacity is for the simulated nodes the bench starts; with --kubeconfig there are none")
	case o.PhaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.PhaseTimeout)
	}
	if _, err := o.MaxUnavailablePods(); err != nil {
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
	for i, img := range o.Images[:1+len(o.Rollouts)] {
		if strings.TrimSpace(img) == "" {
			return fmt.Errorf("--images: image %d is empty", i+1)
		}
		if slices.Contains(o.Images[:i], img) {
			return fmt.Errorf("--images: %q is named twice; each phase needs an image the one before did not run", img)
		}
	}
	if attached {
		return nil
	}
	return rig.CheckFit(o.Pods, o.Rig.Nodes, o.NodeCapacity)
}

// Phases are the phase kinds in order: the scale-up, then the rollouts.
func (o Options) Phases() []string { return append([]string{Scale}, o.Rollouts...) }

// MaxUnavailablePods resolves --max-unavailable as the controller does: a
// percentage of replicas rounded down.
func (o Options) MaxUnavailablePods() (int, error) {
	_, n, err := lab.MaxUnavailable("--max-unavailable", o.MaxUnavailable, o.Pods)
	return n, err
}
