package density

import (
	"errors"
	"fmt"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// DefaultPodsPerNode is `myriad nodes`' default pods capacity.
const DefaultPodsPerNode = 110

// Options are one density run's size and pace. Validate fills the
// derived fields.
type Options struct {
	Rig rig.Options
	// Pods is how many pods must be Running, through Deployments spread
	// over Namespaces; Deployments 0 means one per 100 pods.
	Pods, Deployments, Namespaces int
	// Objects is how many objects the cluster must hold in all.
	Objects int64
	// PodRate is pods per second the Deployments ask for (0: all at once).
	PodRate float64
	// QPS and Workers pace the objects phase's writes.
	QPS     float64
	Workers int
	// Hold is how long the size is held.
	Hold time.Duration
	// PhaseTimeout bounds the pods and objects phases; StallTimeout stops
	// the pods phase when none turns Running for that long.
	PhaseTimeout, StallTimeout time.Duration
	// ProbeInterval is how often the bench times its own probe calls.
	ProbeInterval time.Duration
	// MinAvailableMemory stops the run below that much available memory
	// ("0": never).
	MinAvailableMemory string
	// OutDir is where the cluster's data goes by default (OUT/cluster).
	OutDir string
	// Writer is who makes the Deployments, objects and probes on a
	// cluster the bench starts: WriterUser (an ordinary user, whom API
	// Priority and Fairness queues as global-default) or WriterAdmin (the
	// super-admin, exempt from APF, as runs before this option were).
	// Empty is WriterUser.
	Writer string

	minAvailBytes  int64
	deploymentSize int
}

// The choices of Options.Writer.
const (
	WriterUser  = "user"
	WriterAdmin = "admin"
)

// Validate checks the options, naming the flag to fix, and derives the
// Deployment size and the number of namespaces used.
func (o *Options) Validate() error {
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	if o.Writer == "" {
		o.Writer = WriterUser
	}
	q, qerr := resource.ParseQuantity(o.MinAvailableMemory)
	attached := o.Rig.Attached()
	switch {
	case !attached && o.Rig.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1 when the bench starts the cluster, got %d", o.Rig.Nodes)
	case o.Pods < 1:
		return fmt.Errorf("--pods must be at least 1, got %d", o.Pods)
	case !attached && o.Pods > o.Rig.Nodes*DefaultPodsPerNode:
		return fmt.Errorf("--pods %d do not fit on %d nodes of %d pods each; raise --nodes to at least %d", o.Pods, o.Rig.Nodes, DefaultPodsPerNode, (o.Pods+DefaultPodsPerNode-1)/DefaultPodsPerNode)
	case o.Objects < 0:
		return fmt.Errorf("--objects must be 0 or more, got %d", o.Objects)
	case o.Deployments < 0 || o.Deployments > o.Pods:
		return fmt.Errorf("--deployments must be between 0 (one per 100 pods) and --pods (%d), got %d", o.Pods, o.Deployments)
	case o.Namespaces < 1 || o.Namespaces > 10000:
		return fmt.Errorf("--namespaces must be between 1 and 10000, got %d", o.Namespaces)
	case o.PodRate < 0 || math.IsNaN(o.PodRate):
		return fmt.Errorf("--pod-rate must be 0 (all at once) or positive, got %g", o.PodRate)
	case !(o.QPS > 0):
		return fmt.Errorf("--qps must be positive, got %g", o.QPS)
	case o.Workers < 1 || o.Workers > 1024:
		return fmt.Errorf("--workers must be between 1 and 1024, got %d", o.Workers)
	case o.Hold <= 0:
		return fmt.Errorf("--duration must be positive, got %s", o.Hold)
	case o.PhaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", o.PhaseTimeout)
	case o.Writer != WriterUser && o.Writer != WriterAdmin:
		return fmt.Errorf("--writer must be %s or %s, got %q", WriterUser, WriterAdmin, o.Writer)
	case o.StallTimeout <= 0:
		return fmt.Errorf("--stall-timeout must be positive, got %s", o.StallTimeout)
	case o.ProbeInterval < 100*time.Millisecond:
		return fmt.Errorf("--probe-interval must be at least 100ms, got %s", o.ProbeInterval)
	case qerr != nil || q.Sign() < 0:
		return fmt.Errorf("--min-available-memory %q is not a size like 1Gi", o.MinAvailableMemory)
	case attached && o.Rig.DataDir != "":
		return errors.New("--data-dir is for a cluster the bench starts; with --kubeconfig there is none")
	}
	if !attached {
		dir, err := rig.DataDirUnder(o.OutDir, o.Rig.DataDir)
		if err != nil {
			return fmt.Errorf("--data-dir: %w", err)
		}
		o.Rig.DataDir = dir
	}
	o.minAvailBytes = q.Value()
	if o.Deployments == 0 {
		o.Deployments = (o.Pods + 99) / 100
	}
	o.Namespaces = min(o.Namespaces, max(o.Deployments, 1))
	o.deploymentSize = (o.Pods + o.Deployments - 1) / o.Deployments
	return nil
}
