package pub

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InPlaceUpdateStrategy tunes in-place updates.
type InPlaceUpdateStrategy struct {
	// GracePeriodSeconds is how long a pod stays out of Service endpoints
	// (InPlaceUpdateReady False) before its containers are changed.
	// +optional
	// +kubebuilder:validation:Minimum=0
	GracePeriodSeconds int32 `json:"gracePeriodSeconds,omitempty"`
}

// UpdatePriorityStrategy orders the pods an update picks next. Set one of
// weightPriority or orderPriority.
// +kubebuilder:validation:XValidation:rule="!(has(self.weightPriority) && has(self.orderPriority))",message="set weightPriority or orderPriority, not both"
type UpdatePriorityStrategy struct {
	// OrderPriority sorts pods by the integer value of label keys, highest
	// first, the first key deciding.
	// +optional
	// +listType=atomic
	OrderPriority []UpdatePriorityOrderTerm `json:"orderPriority,omitempty"`
	// WeightPriority ranks pods by the summed weights of the terms they match.
	// +optional
	// +listType=atomic
	WeightPriority []UpdatePriorityWeightTerm `json:"weightPriority,omitempty"`
}

// UpdatePriorityOrderTerm names a label whose integer value orders pods.
type UpdatePriorityOrderTerm struct {
	// +kubebuilder:validation:MinLength=1
	OrderedKey string `json:"orderedKey"`
}

// UpdatePriorityWeightTerm gives pods matching a selector a weight.
type UpdatePriorityWeightTerm struct {
	// Weight in the range 1-100.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Weight int32 `json:"weight"`
	// MatchSelector selects the pods that get the weight.
	MatchSelector metav1.LabelSelector `json:"matchSelector"`
}

// UpdateScatterStrategy spreads the pods matching each term evenly through
// the update order instead of updating them together.
type UpdateScatterStrategy []UpdateScatterTerm

// UpdateScatterTerm selects pods by one label.
type UpdateScatterTerm struct {
	// +kubebuilder:validation:MinLength=1
	Key   string `json:"key"`
	Value string `json:"value"`
}
