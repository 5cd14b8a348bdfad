package sidecarset

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// Reasons of the PodsInjected condition.
const (
	ReasonAllInjected         = "AllPodsInjected"
	ReasonPodsWithoutSidecars = "PodsWithoutSidecars"
)

// maxNamedPods caps the pods a condition message names.
const maxNamedPods = 5

// Injected reports whether the pod's annotations say the SidecarSet was
// injected into it.
func Injected(pod *corev1.Pod, sidecarSet string) bool {
	for _, n := range strings.Split(pod.Annotations[v1beta1.SidecarSetListAnnotation], ",") {
		if n == sidecarSet {
			return true
		}
	}
	return false
}

// podHash is the revision of the SidecarSet the pod was injected with, from
// its kruise.io/sidecarset-hash annotation.
func podHash(pod *corev1.Pod, sidecarSet string) string {
	raw := pod.Annotations[v1beta1.SidecarSetHashAnnotation]
	if raw == "" {
		return ""
	}
	var m map[string]upgradeSpec
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return "" // someone else's format: the pod counts as not updated
	}
	return m[sidecarSet].Hash
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Result is what one look at a SidecarSet's pods found.
type Result struct {
	Status v1beta1.SidecarSetStatus
	// Uninjected are the live pods the SidecarSet selects that lack its
	// sidecars, as namespace/name, sorted.
	Uninjected []string
}

// ComputeStatus derives the status from the pods the SidecarSet selects
// (its selector and namespaces already applied). Every count is recomputed
// from the pods, so nothing drifts across restarts or missed events.
func ComputeStatus(ss *v1beta1.SidecarSet, rev Revision, pods []*corev1.Pod, now metav1.Time) Result {
	st := v1beta1.SidecarSetStatus{
		ObservedGeneration: ss.Generation,
		LatestRevision:     rev.latestName(),
		CollisionCount:     ss.Status.CollisionCount,
		Conditions:         append([]metav1.Condition(nil), ss.Status.Conditions...),
	}
	var res Result
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if !Injected(p, ss.Name) {
			res.Uninjected = append(res.Uninjected, p.Namespace+"/"+p.Name)
			continue
		}
		st.MatchedPods++
		// Ready as OpenKruise counts it: no sidecar upgrade in flight,
		// Running and Ready, every hot-upgrade pair's idle container on
		// the empty image.
		v := view(ss, rev, nil, p)
		updated, ready := v.updated, v.consistent && v.ready
		if updated {
			st.UpdatedPods++
		}
		if ready {
			st.ReadyPods++
		}
		if updated && ready {
			st.UpdatedReadyPods++
		}
	}
	sort.Strings(res.Uninjected)
	cond := metav1.Condition{Type: v1beta1.SidecarSetPodsInjected, Status: metav1.ConditionTrue, Reason: ReasonAllInjected,
		Message: "every pod the SidecarSet selects has its sidecars", ObservedGeneration: ss.Generation, LastTransitionTime: now}
	if n := len(res.Uninjected); n > 0 {
		named := res.Uninjected[:min(n, maxNamedPods)]
		more := ""
		if n > len(named) {
			more = fmt.Sprintf(" and %d more", n-len(named))
		}
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonPodsWithoutSidecars
		cond.Message = fmt.Sprintf("%d selected pods run without this SidecarSet's sidecars (created before it, or while its injection was paused or not yet in place); recreate them to inject: %s%s",
			n, strings.Join(named, ", "), more)
	}
	apimeta.SetStatusCondition(&st.Conditions, cond)
	res.Status = st
	return res
}
