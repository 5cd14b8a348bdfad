package broadcastjob

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// DefaultImage is the job's image. The simulated nodes do not pull it: they
// run every container of a pod that is not restarted always for their
// --job-duration, which the bench sets to --run-for, then report exit 0.
const DefaultImage = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"

// Options are `myriad bench broadcastjob`'s flags.
type Options struct {
	// Rig is the cluster the bench starts (no --kubeconfig: the nodes must
	// run the job's image from the bench's catalogue).
	Rig rig.Options
	// Parallelism is spec.parallelism: a number of pods or a percentage.
	Parallelism string
	// RunFor is how long each pod's container runs before it exits 0.
	RunFor time.Duration
	// Image is the job's container image.
	Image string
	// Compare adds the upstream Job phase.
	Compare      bool
	PhaseTimeout time.Duration
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if o.Rig.Attached() {
		return errors.New("--kubeconfig is not supported: the simulated nodes must run each pod for --run-for, so the bench starts its own cluster")
	}
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	switch {
	case o.Rig.Nodes < 1 || o.Rig.Nodes > 100_000:
		return fmt.Errorf("--nodes must be between 1 and 100000, got %d", o.Rig.Nodes)
	case o.RunFor < 0 || o.RunFor > time.Hour:
		return fmt.Errorf("--run-for must be between 0s and 1h, got %s", o.RunFor)
	case strings.TrimSpace(o.Image) == "" || strings.ContainsAny(o.Image, " \t\n"):
		return fmt.Errorf("--image must be an image reference, got %q", o.Image)
	case o.PhaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.PhaseTimeout)
	case o.PhaseTimeout <= o.RunFor:
		return fmt.Errorf("--phase-timeout %s must be longer than --run-for %s: no pod could succeed in time", o.PhaseTimeout, o.RunFor)
	}
	_, err := o.ParallelismValue()
	return err
}

// ParallelismValue is --parallelism as spec.parallelism: a positive number
// of pods or a percentage from 1% to 100% of the eligible nodes.
func (o Options) ParallelismValue() (intstr.IntOrString, error) {
	s := o.Parallelism
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		if n, err := strconv.Atoi(pct); err == nil && n >= 1 && n <= 100 {
			return intstr.FromString(s), nil
		}
	} else if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 1<<30 {
		return intstr.FromInt32(int32(n)), nil
	}
	return intstr.IntOrString{}, fmt.Errorf("--parallelism must be a positive number of pods or a percentage from 1%% to 100%%, got %q", s)
}
