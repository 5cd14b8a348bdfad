package sidecarset

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
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	attached := o.Rig.Attached()
	switch {
	case o.Pods < 1 || o.Pods > 1_000_000:
		return fmt.Errorf("--pods must be between 1 and 1000000, got %d", o.Pods)
	case o.SidecarSets < 2 || o.SidecarSets > 1000:
		return fmt.Errorf("--sidecarsets must be between 2 and 1000 (the phase with one SidecarSet always runs), got %d", o.SidecarSets)
	case o.SidecarSets > o.Pods:
		return fmt.Errorf("--sidecarsets %d exceeds --pods %d: some SidecarSets would select no pod", o.SidecarSets, o.Pods)
	case o.Concurrency < 1 || o.Concurrency > 1000:
		return fmt.Errorf("--concurrency must be between 1 and 1000, got %d", o.Concurrency)
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
	if len(o.Images) != len(Images) {
		return fmt.Errorf("--images must name %d images (the app's, then the sidecar's at injection, in place and recreated), got %d", len(Images), len(o.Images))
	}
	for i, img := range o.Images {
		if strings.TrimSpace(img) == "" {
			return fmt.Errorf("--images: image %d is empty", i+1)
		}
		if slices.Contains(o.Images[:i], img) {
			return fmt.Errorf("--images: %q is named twice; each upgrade needs an image the pods did not run", img)
		}
	}
	if attached {
		return nil
	}
	return rig.CheckFit(o.Pods, o.Rig.Nodes, o.NodeCapacity)
}

// MaxUnavailablePods resolves --max-unavailable as the controllers do: a
// percentage of the pods rounded down.
func (o Options) MaxUnavailablePods() (int, error) {
	_, n, err := lab.MaxUnavailable("--max-unavailable", o.MaxUnavailable, o.Pods)
	return n, err
}

// Creation phases' SidecarSet counts, in order: none, one, S.
func (o Options) creationSets() []int { return []int{0, 1, o.SidecarSets} }
