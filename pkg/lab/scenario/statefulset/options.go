package statefulset

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Images are distinct, pullable images, so that the same manifests also
// work on real nodes: the pods' at creation, after the in-place rollout
// and after the recreating one. The upstream StatefulSet is created with
// the first and rolled to the second.
var Images = []string{"registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10"}

// Options are `myriad bench statefulset`'s flags.
type Options struct {
	// Rig is the cluster the bench starts (no --kubeconfig: the upstream
	// comparison needs the kube-controller-manager `myriad up` runs).
	Rig rig.Options
	// NodeCapacity is `myriad nodes --capacity`; empty for its default.
	NodeCapacity string
	// Replicas is both StatefulSets' size.
	Replicas int
	// Images are the pods': created, in place, recreated (see Images).
	Images []string
	// MaxUnavailable is every rollout's maxUnavailable: pods or a
	// percentage of the replicas, rounded up as StatefulSets round it.
	MaxUnavailable string
	// Compare adds the upstream StatefulSet's phases.
	Compare      bool
	PhaseTimeout time.Duration
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if o.Rig.Attached() {
		return errors.New("--kubeconfig is not supported: the bench starts its own cluster, whose kube-controller-manager rolls the upstream StatefulSet")
	}
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	switch {
	case o.Rig.Nodes < 1 || o.Rig.Nodes > 100_000:
		return fmt.Errorf("--nodes must be between 1 and 100000, got %d", o.Rig.Nodes)
	case o.Replicas < 1 || o.Replicas > 100_000:
		return fmt.Errorf("--replicas must be between 1 and 100000, got %d", o.Replicas)
	case o.PhaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.PhaseTimeout)
	case len(o.Images) != len(Images):
		return fmt.Errorf("--images must name %d images (the pods' at creation, after the in-place rollout and after the recreating one), got %d", len(Images), len(o.Images))
	}
	if _, err := o.MaxUnavailableValue(); err != nil {
		return err
	}
	if err := rig.CheckImages(o.Images, "each rollout needs an image the pods did not run"); err != nil {
		return err
	}
	return rig.CheckFitFlag("--replicas", o.Replicas, o.Rig.Nodes, o.NodeCapacity)
}

// MaxUnavailableValue is --max-unavailable as
// rollingUpdate.maxUnavailable: a positive number of pods or a percentage
// from 1% to 100%.
func (o Options) MaxUnavailableValue() (intstr.IntOrString, error) {
	return lab.PositiveMaxUnavailable("--max-unavailable", o.MaxUnavailable, "pods")
}

// Budget is how many of replicas may be unavailable at once during a
// rollout: maxUnavailable of replicas, a percentage rounded up and at
// least 1, as both StatefulSet controllers resolve it.
func Budget(v intstr.IntOrString, replicas int) (int, error) { return lab.RoundedUpBudget(v, replicas) }
