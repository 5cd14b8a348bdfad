package manager

import "k8s.io/component-base/featuregate"

// RecreatePodWhenChangeVCTInCloneSet recreates a CloneSet's pods (with new
// PVCs) whose revision was made with other volumeClaimTemplates than the
// update revision, instead of updating them in place (never under
// InPlaceOnly). The name and the default (off, alpha) are OpenKruise's, so a
// kruise-manager's --feature-gates value carries over.
const RecreatePodWhenChangeVCTInCloneSet featuregate.Feature = "RecreatePodWhenChangeVCTInCloneSetGate"

// StatefulSetAutoResizePVC lets an Advanced StatefulSet with
// volumeClaimUpdateStrategy OnPodRollingUpdate grow its pods' claims with
// their templates during a rolling update. Name and default (off, alpha)
// are OpenKruise's.
const StatefulSetAutoResizePVC featuregate.Feature = "StatefulSetAutoResizePVCGate"

// NewFeatureGate is the set of feature gates `myriad manager` accepts on
// --feature-gates, each at its default.
func NewFeatureGate() featuregate.MutableFeatureGate {
	fg := featuregate.NewFeatureGate()
	// Add fails only on a name registered twice, which this list cannot do.
	_ = fg.Add(map[featuregate.Feature]featuregate.FeatureSpec{
		RecreatePodWhenChangeVCTInCloneSet: {Default: false, PreRelease: featuregate.Alpha},
		StatefulSetAutoResizePVC:           {Default: false, PreRelease: featuregate.Alpha},
	})
	return fg
}
