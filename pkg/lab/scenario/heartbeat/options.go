package heartbeat

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// Options are the heartbeat scenario's: one cluster shape, run once per
// mode.
type Options struct {
	// Rig is the cluster of each run; its DataDir is unused: each run gets
	// OutDir/<mode>.
	Rig rig.Options
	// Duration is how long each run is measured once every node is Ready.
	Duration time.Duration
	// Images is how many container images each node reports.
	Images int
	// OutDir holds the two clusters' data directories.
	OutDir string
}

// Validate names the flag to fix.
func (o Options) Validate() error {
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	switch {
	case o.Rig.Attached():
		return fmt.Errorf("the heartbeat scenario starts its own clusters; --kubeconfig is not one of its flags")
	case o.Rig.DataDir != "":
		return fmt.Errorf("--data-dir is not one of heartbeat's flags: its clusters live in OUT/lease and OUT/status")
	case o.Rig.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", o.Rig.Nodes)
	case o.Duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", o.Duration)
	case o.Images < 0 || o.Images > nodesim.MaxImages:
		return fmt.Errorf("--images must be between 0 and %d, got %d", nodesim.MaxImages, o.Images)
	case o.OutDir == "":
		return fmt.Errorf("--out is required: the directory for result.json, report.html and the two clusters' data")
	}
	return nil
}

// DataDir is the data directory of mode's cluster.
func (o Options) DataDir(mode string) string { return filepath.Join(o.OutDir, mode) }
