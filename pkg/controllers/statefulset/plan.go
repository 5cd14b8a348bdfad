package statefulset

import (
	"fmt"
	"sort"
	"time"
)

// PodUpdatePolicy is how an outdated pod is changed.
type PodUpdatePolicy int

const (
	// Recreate deletes the pod; the next pass creates it anew.
	Recreate PodUpdatePolicy = iota
	// InPlaceIfPossible updates in place when the pod allows it, and
	// recreates it otherwise.
	InPlaceIfPossible
	// InPlaceOnly updates only in place; a pod that cannot be is left.
	InPlaceOnly
)

// Pod is what the plan needs to know of one existing pod.
type Pod struct {
	Name    string
	Ordinal int
	// Updated is whether the pod runs the update revision.
	Updated bool
	// Ready is the pod's Ready condition; ReadySince when it became true.
	Ready      bool
	ReadySince time.Time
	// Finished is a pod that succeeded or failed: it is replaced.
	Finished bool
	// Deleting is a pod with a deletion timestamp; DeleteBy is when its
	// grace period ends (deletion timestamp).
	Deleting bool
	DeleteBy time.Time
	// Held is a pod a lifecycle preDelete hook holds in PreparingDelete:
	// the plan treats it as Deleting, but never as stuck, since its hook
	// owner, not the runtime, decides when it goes.
	Held bool
	// Unavailable marks a Ready pod that must not count as available: an
	// in-place update in flight or a lifecycle state that does not serve.
	Unavailable bool
	// InPlaceOK is whether the update to the update revision can be
	// applied in place.
	InPlaceOK bool
	// SpecifiedDelete is a pod labelled apps.kruise.io/specified-delete:
	// deleted under maxUnavailable, whatever the partition, and made anew.
	SpecifiedDelete bool
	// Priority orders an unordered update: higher first, compared element
	// by element (pkg/apis pub.UpdatePriorityStrategy, computed by the
	// caller).
	Priority []int64
	// With Input.ResizeClaims: ClaimsCompatible says every claim of the
	// pod requests at least its template's size (else the claims are
	// grown before the pod is updated); ClaimsResized says every claim's
	// volume has that size, or only the node's filesystem resize is left.
	ClaimsCompatible, ClaimsResized bool
}

// Input is one StatefulSet's desired state and its pods.
type Input struct {
	Now      time.Time
	Replicas int
	// Start is spec.ordinals.start.
	Start int
	// Reserved holds the reserved ordinals.
	Reserved map[int]bool
	// Parallel is podManagementPolicy Parallel (else OrderedReady).
	Parallel bool
	// RollingUpdate is false for updateStrategy OnDelete.
	RollingUpdate bool
	Paused        bool
	Partition     int
	// MaxUnavailable is rollingUpdate.maxUnavailable resolved to a count
	// (at least 1).
	MaxUnavailable int
	// ScaleMaxUnavailable is scaleStrategy.maxUnavailable resolved to a
	// count; 0 means unset.
	ScaleMaxUnavailable int
	Policy              PodUpdatePolicy
	// Unordered updates by Priority instead of by position (Parallel only).
	Unordered       bool
	MinReadySeconds time.Duration
	// StuckAfter is how long past its deletion deadline a terminating pod
	// may stay before it is reported stuck and passed over.
	StuckAfter time.Duration
	// ResizeClaims is volumeClaimUpdateStrategy OnPodRollingUpdate (with
	// the StatefulSetAutoResizePVCGate): a rolling update grows a pod's
	// claims to its templates' sizes first, and updates the pod once the
	// volumes have grown.
	ResizeClaims bool
	Pods         []Pod
}

// Create is one pod to create.
type Create struct {
	Ordinal int
	// Updated says to create it at the update revision (else current).
	Updated bool
}

// Update is one outdated pod to change.
type Update struct {
	Name    string
	InPlace bool
}

// Status is what OpenKruise reports in status, counted over live pods.
type Status struct {
	Replicas, ReadyReplicas, AvailableReplicas     int
	CurrentReplicas, UpdatedReplicas               int
	UpdatedReadyReplicas, UpdatedAvailableReplicas int
}

// Plan is what one pass does.
type Plan struct {
	Create []Create
	// Delete are pod names: condemned, finished, or recreated for an update.
	Delete []string
	Update []Update
	// ResizeClaims are pods whose claims are to grow to their templates'
	// sizes (Input.ResizeClaims).
	ResizeClaims []string
	// Stuck are terminating pods past their deadline by StuckAfter.
	Stuck []string
	// RequeueAfter, when not zero, is when a ready pod becomes available or
	// a terminating pod would count as stuck.
	RequeueAfter time.Duration
	Status       Status
}

// DesiredOrdinals is the ordinals a StatefulSet runs, in order: the first
// replicas ordinals from start that are not reserved.
func DesiredOrdinals(replicas, start int, reserved map[int]bool) []int {
	out := make([]int, 0, replicas)
	for o := start; len(out) < replicas; o++ {
		if !reserved[o] {
			out = append(out, o)
		}
	}
	return out
}

// PodName is the stable name of ordinal's pod.
func PodName(set string, ordinal int) string { return fmt.Sprintf("%s-%d", set, ordinal) }

// ClaimName is the claim volumeClaimTemplate tmpl makes for ordinal.
func ClaimName(tmpl, set string, ordinal int) string {
	return fmt.Sprintf("%s-%s-%d", tmpl, set, ordinal)
}

// MakePlan decides one pass. It is pure: the same Input gives the same Plan.
func MakePlan(in Input) Plan {
	var p Plan
	byOrdinal := map[int]*Pod{}
	for i := range in.Pods {
		pod := &in.Pods[i]
		if prev, ok := byOrdinal[pod.Ordinal]; ok && !prev.Deleting {
			// Two pods claim one ordinal (one adopted by name): keep the
			// first live one, delete the other.
			if !pod.Deleting {
				p.Delete = append(p.Delete, pod.Name)
			}
			continue
		}
		byOrdinal[pod.Ordinal] = pod
	}
	available := func(pod *Pod) bool {
		if pod == nil || pod.Deleting || pod.Finished || !pod.Ready || pod.Unavailable {
			return false
		}
		if wait := pod.ReadySince.Add(in.MinReadySeconds).Sub(in.Now); wait > 0 {
			p.requeue(wait)
			return false
		}
		return true
	}
	stuck := func(pod *Pod) bool {
		if !pod.Deleting || pod.Held {
			return false
		}
		wait := pod.DeleteBy.Add(in.StuckAfter).Sub(in.Now)
		if wait > 0 {
			p.requeue(wait)
			return false
		}
		return true
	}
	for i := range in.Pods {
		pod := &in.Pods[i]
		if pod.Deleting && stuck(pod) {
			p.Stuck = append(p.Stuck, pod.Name)
		}
		if pod.Deleting {
			continue
		}
		p.Status.Replicas++
		if pod.Ready {
			p.Status.ReadyReplicas++
		}
		av := available(pod)
		if av {
			p.Status.AvailableReplicas++
		}
		if pod.Updated {
			p.Status.UpdatedReplicas++
			if pod.Ready {
				p.Status.UpdatedReadyReplicas++
			}
			if av {
				p.Status.UpdatedAvailableReplicas++
			}
		} else {
			p.Status.CurrentReplicas++
		}
	}

	desired := DesiredOrdinals(in.Replicas, in.Start, in.Reserved)
	isDesired := map[int]bool{}
	// unavailable counts missing pods too (for the update budget);
	// existingUnavailable only pods that exist (for the scale budget, which
	// the missing pods are about to use).
	unavailable, existingUnavailable := 0, 0
	for _, o := range desired {
		isDesired[o] = true
		if pod := byOrdinal[o]; !available(pod) {
			unavailable++
			if pod != nil {
				existingUnavailable++
			}
		}
	}
	// Under OnDelete a pod is created at the update revision (deleting it
	// is how it is updated); under RollingUpdate positions below the
	// partition are created at the current revision.
	partition := 0
	if in.RollingUpdate {
		partition = min(max(in.Partition, 0), len(desired))
	}

	// Scale up and replace finished pods, in ordinal order.
	scaleBudget := -1 // unlimited
	if in.ScaleMaxUnavailable > 0 {
		scaleBudget = max(in.ScaleMaxUnavailable-existingUnavailable, 0)
	}
	blocked := false
	for i, o := range desired {
		pod := byOrdinal[o]
		switch {
		case pod == nil:
			if blocked || scaleBudget == 0 {
				continue
			}
			p.Create = append(p.Create, Create{Ordinal: o, Updated: i >= partition})
			if scaleBudget > 0 {
				scaleBudget--
			}
			if !in.Parallel && in.ScaleMaxUnavailable == 0 {
				blocked = true
			}
		case pod.Deleting:
			if !in.Parallel && in.ScaleMaxUnavailable == 0 && !stuck(pod) {
				blocked = true
			}
		case pod.Finished:
			p.Delete = append(p.Delete, pod.Name)
			if !in.Parallel && in.ScaleMaxUnavailable == 0 {
				blocked = true
			}
		case !pod.Ready:
			if !in.Parallel && in.ScaleMaxUnavailable == 0 {
				blocked = true
			}
		}
	}

	// Scale down: condemned pods, highest ordinal first. OrderedReady
	// deletes one at a time and only when every desired pod is available
	// and no condemned pod is still terminating.
	var condemned []*Pod
	condemnedTerminating := false
	for _, pod := range byOrdinal {
		if isDesired[pod.Ordinal] {
			continue
		}
		if pod.Deleting {
			if !stuck(pod) {
				condemnedTerminating = true
			}
			continue
		}
		condemned = append(condemned, pod)
	}
	sort.Slice(condemned, func(i, j int) bool { return condemned[i].Ordinal > condemned[j].Ordinal })
	if in.Parallel {
		for _, pod := range condemned {
			p.Delete = append(p.Delete, pod.Name)
		}
	} else if len(condemned) > 0 && !blocked && unavailable == 0 && !condemnedTerminating && len(p.Create) == 0 && mayCondemn(condemned) {
		p.Delete = append(p.Delete, condemned[0].Name)
	}

	if !in.RollingUpdate || in.Paused {
		return p
	}
	maxUnavailable := max(in.MaxUnavailable, 1)
	// Pods labelled for deletion go first, within maxUnavailable but not
	// held by the partition, as OpenKruise's handleSpecifiedDeletedPods.
	specified := map[string]bool{}
	for _, o := range desired {
		pod := byOrdinal[o]
		if pod == nil || pod.Deleting || pod.Finished || !pod.SpecifiedDelete {
			continue
		}
		wasAvailable := available(pod)
		if wasAvailable && unavailable >= maxUnavailable {
			continue
		}
		p.Delete = append(p.Delete, pod.Name)
		specified[pod.Name] = true
		if wasAvailable {
			unavailable++
		}
	}
	// Rolling update from the highest position down to the partition.
	// Under ResizeClaims a pod whose claims are smaller than their
	// templates is outdated too.
	var outdated []*Pod
	for i := len(desired) - 1; i >= partition; i-- {
		pod := byOrdinal[desired[i]]
		if pod != nil && (!pod.Updated || (in.ResizeClaims && !pod.ClaimsCompatible)) && !pod.Deleting && !specified[pod.Name] {
			outdated = append(outdated, pod)
		}
	}
	if in.Unordered && in.Parallel {
		sort.SliceStable(outdated, func(i, j int) bool { return higher(outdated[i].Priority, outdated[j].Priority) })
	}
	for _, pod := range outdated {
		wasAvailable := available(pod)
		if wasAvailable && unavailable >= maxUnavailable {
			if in.Parallel || in.MaxUnavailable > 1 {
				continue
			}
			break
		}
		if in.ResizeClaims && !pod.Finished && (!pod.ClaimsCompatible || !pod.ClaimsResized) {
			// The claims grow first, while the pod still runs (a volume
			// grows online only while a pod uses it); the pod is updated
			// once they have, in a later pass. Meanwhile it counts as
			// unavailable, as OpenKruise counts it.
			if !pod.ClaimsCompatible {
				p.ResizeClaims = append(p.ResizeClaims, pod.Name)
			}
			if wasAvailable {
				unavailable++
			}
			continue
		}
		switch {
		case pod.Finished:
			continue // already being replaced above
		case pod.Updated:
			continue // only its claims were behind
		case in.Policy != Recreate && pod.InPlaceOK:
			p.Update = append(p.Update, Update{Name: pod.Name, InPlace: true})
		case in.Policy == InPlaceOnly:
			continue
		default:
			p.Update = append(p.Update, Update{Name: pod.Name})
		}
		if wasAvailable {
			unavailable++
		}
	}
	return p
}

func (p *Plan) requeue(d time.Duration) {
	if d > 0 && (p.RequeueAfter == 0 || d < p.RequeueAfter) {
		p.RequeueAfter = d
	}
}

// higher compares priorities element by element; a longer equal prefix
// wins ties.
func higher(a, b []int64) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}

// mayCondemn says whether OrderedReady may delete the highest condemned
// pod (condemned is sorted highest first): when it is ready, or when it is
// upstream's "first unhealthy pod", the lowest-ordinal unhealthy one (the
// desired pods are all available by then). So a scale-down halts while
// any pod below the target is unhealthy, and an unhealthy target is
// removed only once everything below it is healthy.
func mayCondemn(condemned []*Pod) bool {
	if condemned[0].Ready {
		return true
	}
	for _, pod := range condemned[1:] {
		if !pod.Ready {
			return false
		}
	}
	return true
}
