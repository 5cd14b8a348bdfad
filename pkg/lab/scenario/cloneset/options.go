package cloneset

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// NodePods is `myriad nodes`' default pods capacity per node.
const NodePods = 110

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
	perNode := int64(NodePods)
	if o.NodeCapacity != "" {
		n, err := podsCapacity(o.NodeCapacity)
		if err != nil {
			return err
		}
		perNode = n
	}
	if int64(o.Pods) > int64(o.Rig.Nodes)*perNode {
		return fmt.Errorf("--pods %d do not fit on --nodes %d with %d pods each; add nodes or raise pods= in --node-capacity", o.Pods, o.Rig.Nodes, perNode)
	}
	return nil
}

// podsCapacity is pods= of --node-capacity.
func podsCapacity(s string) (int64, error) {
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return 0, fmt.Errorf("--node-capacity: entry %q is not name=quantity", kv)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return 0, fmt.Errorf("--node-capacity: %s=%q is not a quantity", k, v)
		}
		if k == "pods" {
			return q.Value(), nil
		}
	}
	return 0, errors.New("--node-capacity must include pods=N: a node without it takes no pods")
}

// Phases are the phase kinds in order: the scale-up, then the rollouts.
func (o Options) Phases() []string { return append([]string{Scale}, o.Rollouts...) }

// MaxUnavailablePods resolves --max-unavailable as the controller does: a
// percentage of replicas rounded down.
func (o Options) MaxUnavailablePods() (int, error) {
	v, err := maxUnavailable(o.MaxUnavailable)
	if err != nil {
		return 0, err
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, o.Pods, false)
	if err != nil {
		return 0, fmt.Errorf("--max-unavailable: %w", err)
	}
	if n < 1 {
		return 0, fmt.Errorf("--max-unavailable %s of %d pods is 0: a rollout without surge could never start; give at least 1 pod", o.MaxUnavailable, o.Pods)
	}
	return n, nil
}

func maxUnavailable(s string) (intstr.IntOrString, error) {
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(pct)
		if err != nil || n < 0 || n > 100 {
			return intstr.IntOrString{}, fmt.Errorf("--max-unavailable must be a number of pods or a percentage from 0%% to 100%%, got %q", s)
		}
		return intstr.FromString(s), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return intstr.IntOrString{}, fmt.Errorf("--max-unavailable must be a number of pods or a percentage from 0%% to 100%%, got %q", s)
	}
	return intstr.FromInt32(int32(min(n, 1<<30))), nil
}
