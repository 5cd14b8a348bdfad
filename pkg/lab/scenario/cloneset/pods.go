package cloneset

import (
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// The CloneSet's pods are followed by lab.WorkloadPods, which the other
// workload scenarios share; these are its names here.
type (
	Pods       = lab.WorkloadPods
	Counts     = lab.PodCounts
	StatusView = lab.WorkloadStatus
	Point      = lab.PodPoint
	PodFigures = lab.PodFigures
)

// NewPods follows the pods of container's image.
func NewPods(container string, clk clock.PassiveClock) *Pods {
	return lab.NewWorkloadPods(container, clk)
}
