package sidecarset

import (
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Images are distinct, pullable images, so that the run also works on real
// nodes: the app container's, then the sidecar's at injection, after the
// in-place upgrade and after the recreation.
var Images = []string{"registry.k8s.io/pause:3.7", "registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10"}

// Options are `myriad bench sidecarset`'s flags.
type Options struct {
	// Rig is the cluster: started with the manager (which runs the
	// SidecarSet controller), or attached (Rig.Kubeconfig) to one with the
	// CRDs and `myriad manager`.
	Rig rig.Options
	// Pods is P: pods created per creation phase, and the Deployment's
	// replicas in the upgrade phases.
	Pods int
	// SidecarSets is S of the last creation phase.
	SidecarSets int
	// Concurrency is how many pod creations are in flight at once.
	Concurrency int
	// MaxUnavailable is the SidecarSet's and the Deployment's
	// maxUnavailable: pods or a percentage of Pods.
	MaxUnavailable string
	PhaseTimeout   time.Duration
	// Images are the app's, then the sidecar's three (see Images).
	Images []string
	// NodeCapacity is `myriad nodes --capacity` of a started cluster.
	NodeCapacity string
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if err := rig.CheckWorkload(o.Rig, o.Pods, o.NodeCapacity, o.PhaseTimeout, o.MaxUnavailable); err != nil {
		return err
	}
	switch {
	case o.SidecarSets < 2 || o.SidecarSets > 1000:
		return fmt.Errorf("--sidecarsets must be between 2 and 1000 (the phase with one SidecarSet always runs), got %d", o.SidecarSets)
	case o.SidecarSets > o.Pods:
		return fmt.Errorf("--sidecarsets %d exceeds --pods %d: some SidecarSets would select no pod", o.SidecarSets, o.Pods)
	case o.Concurrency < 1 || o.Concurrency > 1000:
		return fmt.Errorf("--concurrency must be between 1 and 1000, got %d", o.Concurrency)
	case len(o.Images) != len(Images):
		return fmt.Errorf("--images must name %d images (the app's, then the sidecar's at injection, in place and recreated), got %d", len(Images), len(o.Images))
	}
	return rig.CheckImages(o.Images, "each upgrade needs an image the pods did not run")
}

// MaxUnavailablePods resolves --max-unavailable as the controllers do: a
// percentage of the pods rounded down.
func (o Options) MaxUnavailablePods() (int, error) {
	_, n, err := lab.MaxUnavailable("--max-unavailable", o.MaxUnavailable, o.Pods)
	return n, err
}

// Creation phases' SidecarSet counts, in order: none, one, S.
func (o Options) creationSets() []int { return []int{0, 1, o.SidecarSets} }
