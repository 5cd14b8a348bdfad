package longread

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Options are `myriad bench long-read`'s flags.
type Options struct {
	// Rig is the cluster started for the run (one API server, no nodes,
	// no scheduler by default).
	Rig rig.Options
	// Objects ConfigMaps of ObjectBytes, spread over Namespaces, are what
	// every long read returns.
	Objects, ObjectBytes, Namespaces int
	// WriteRate is merge patches per second over WritePool ConfigMaps.
	WriteRate float64
	WritePool int
	// Readers are concurrent long readers in the read phases.
	Readers       int
	PhaseDuration time.Duration
	// Phases are phase kinds in order (see Kinds).
	Phases        []string
	CreateWorkers int
}

// Defaults are the command's defaults.
func Defaults() Options {
	return Options{Rig: rig.Defaults(0), Objects: 20000, ObjectBytes: 2048, Namespaces: 10, WriteRate: 50, WritePool: 100,
		Readers: 2, PhaseDuration: time.Minute, Phases: []string{Baseline, Cache, Consistent, EtcdRange, Baseline}, CreateWorkers: 32}
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	switch {
	case o.Rig.Attached():
		return errors.New("--kubeconfig: long-read reads etcd directly, so it needs a cluster of its own")
	case o.Objects < 1:
		return fmt.Errorf("--objects must be at least 1, got %d", o.Objects)
	case o.ObjectBytes < 0 || o.ObjectBytes > 512<<10:
		return fmt.Errorf("--object-bytes must be between 0 and 524288, got %d", o.ObjectBytes)
	case o.Namespaces < 1 || o.Namespaces > o.Objects:
		return fmt.Errorf("--namespaces must be between 1 and --objects (%d), got %d", o.Objects, o.Namespaces)
	case o.WriteRate <= 0 || o.WriteRate > 5000:
		return fmt.Errorf("--write-rate must be above 0 and at most 5000 writes/s, got %g", o.WriteRate)
	case o.PhaseDuration < 5*time.Second:
		return fmt.Errorf("--phase-duration must be at least 5s, got %s", o.PhaseDuration)
	case len(o.Phases) == 0:
		return errors.New("--phases must name at least one phase")
	case o.CreateWorkers < 1 || o.CreateWorkers > 1024:
		return fmt.Errorf("--create-workers must be between 1 and 1024, got %d", o.CreateWorkers)
	case o.Rig.Nodes > 100000:
		return fmt.Errorf("--nodes must be between 0 and 100000, got %d", o.Rig.Nodes)
	case o.WritePool < 1 || o.WritePool > 10000:
		return fmt.Errorf("--write-pool must be between 1 and 10000, got %d", o.WritePool)
	case o.Readers < 1 || o.Readers > 64:
		return fmt.Errorf("--readers must be between 1 and 64, got %d", o.Readers)
	}
	for _, p := range o.Phases {
		if _, ok := Kinds[p]; !ok {
			return fmt.Errorf("--phases: unknown phase %q (use baseline, list-cache, list-consistent, etcd-range)", p)
		}
	}
	return nil
}

func (o Options) perNamespace() int { return o.Objects / o.Namespaces }

// PhaseNames makes repeated phases distinct: baseline, …, baseline-2.
func PhaseNames(kinds []string) []string {
	seen := map[string]int{}
	out := make([]string, len(kinds))
	for i, k := range kinds {
		seen[k]++
		out[i] = k
		if seen[k] > 1 {
			out[i] = fmt.Sprintf("%s-%d", k, seen[k])
		}
	}
	return out
}

func (o Options) parameters() map[string]string {
	return map[string]string{
		"objects":       fmt.Sprintf("%d ConfigMaps in %d namespaces", o.perNamespace()*o.Namespaces, o.Namespaces),
		"objectBytes":   strconv.Itoa(o.ObjectBytes),
		"writes":        fmt.Sprintf("%.0f merge patches/s over %d ConfigMaps in %s, fixed schedule, up to 256 in flight", o.WriteRate, o.WritePool, writesNamespace),
		"readers":       fmt.Sprintf("%d, each on its own connection; API server LISTs in protobuf, body counted not decoded", o.Readers),
		"phases":        strings.Join(PhaseNames(o.Phases), ", "),
		"phaseDuration": o.PhaseDuration.String(),
		"apiservers":    strconv.Itoa(o.Rig.APIServers),
		"nodes":         strconv.Itoa(o.Rig.Nodes),
		"dataDir":       o.Rig.DataDir,
		"command":       strings.Join(os.Args, " "),
	}
}
