package rig

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// CheckWorkload rejects the options every workload scenario shares with one
// line naming the flag: the cluster's (o), --pods (1 to 10^6), --nodes of
// a started cluster, --data-dir and --node-capacity only for a started
// one, --phase-timeout, --max-unavailable (pods or a percentage of pods)
// and, on a started cluster, room for the pods. A scenario checks its own
// flags besides.
func CheckWorkload(o Options, pods int, nodeCapacity string, phaseTimeout time.Duration, maxUnavailable string) error {
	if err := o.Validate(); err != nil {
		return err
	}
	attached := o.Attached()
	switch {
	case pods < 1 || pods > 1_000_000:
		return fmt.Errorf("--pods must be between 1 and 1000000, got %d", pods)
	case !attached && o.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", o.Nodes)
	case attached && o.DataDir != "":
		return errors.New("--data-dir is for a cluster the bench starts; with --kubeconfig there is none")
	case attached && nodeCapacity != "":
		return errors.New("--node-capacity is for the simulated nodes the bench starts; with --kubeconfig there are none")
	case phaseTimeout <= 0:
		return fmt.Errorf("--phase-timeout must be positive, got %s", phaseTimeout)
	}
	if _, _, err := lab.MaxUnavailable("--max-unavailable", maxUnavailable, pods); err != nil {
		return err
	}
	if attached {
		return nil
	}
	return CheckFit(pods, o.Nodes, nodeCapacity)
}

// CheckImages rejects an empty or repeated image of --images; why says,
// after "named twice", why each must differ.
func CheckImages(images []string, why string) error {
	for i, img := range images {
		if strings.TrimSpace(img) == "" {
			return fmt.Errorf("--images: image %d is empty", i+1)
		}
		if slices.Contains(images[:i], img) {
			return fmt.Errorf("--images: %q is named twice; %s", img, why)
		}
	}
	return nil
}
