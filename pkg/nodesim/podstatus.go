package nodesim

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/nodesim/kubeletapi"
)

// podEnv is everything advance needs besides the pod, so the lifecycle is a
// pure function a test can drive without clients or goroutines.
type podEnv struct {
	now    time.Time
	hostIP string
	podIP  string // address to assign if the pod has none yet
	job    time.Duration
	init   time.Duration
	images *ImageCatalog // nil: derive every image's digest
	probes prober        // nil: every probe succeeds
	// profile is how long the node's runtime takes (sandbox, pulls,
	// container starts); store is the node's images (nil: every pull
	// costs the full price).
	profile Profile
	store   *imageStore
	// pulls, when set, gets how long each main container waited for its
	// image (container name → time), for the Pulled event.
	pulls *map[string]time.Duration
	// models are the parsed usage models the OOM killer reads (nil:
	// parsed at each look).
	models *kubeletapi.Models
	// relistPhase places the node's PLEG relists; restarts remembers when
	// in-place restarts were first seen. With restarts nil the relist
	// latency is not modelled (relist.go): hooks and restarts end at once.
	relistPhase time.Duration
	restarts    *restarts
}

// Transition kinds, as counted in myriad_nodesim_pod_transitions_total.
const (
	kindSandbox      = "sandbox"
	kindInitializing = "initializing"
	kindStarted      = "started"
	kindReadiness    = "readiness"
	kindInPlace      = "inplace-restart"
	kindExited       = "exited"
	kindRestarted    = "restarted"
)

// advance returns the status a kubelet would report for pod at env.now, how
// long until the pod next changes on its own (0: only when the pod does),
// and what kind of transition it is. Durations are measured from status
// timestamps, which the API keeps to the second, so on a real server a
// sub-second duration may end up to a second early — never late.
func (e podEnv) advance(pod *corev1.Pod) (*corev1.PodStatus, time.Duration, string) {
	st := pod.Status.DeepCopy()
	now := metav1.NewTime(e.now)
	kind := kindReadiness
	if st.StartTime == nil {
		st.StartTime = &now
		kind = kindStarted
	}
	if st.HostIP == "" {
		st.HostIP = e.hostIP
		st.HostIPs = []corev1.HostIP{{IP: e.hostIP}}
	}
	if st.PodIP == "" && e.podIP != "" {
		st.PodIP = e.podIP
		st.PodIPs = []corev1.PodIP{{IP: e.podIP}}
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	setCondition(st, corev1.PodReadyToStartContainers, corev1.ConditionTrue, "", now)

	// Init containers: one Pending step with the first one running, then all
	// completed at once after env.init, right before the main containers.
	// The sandbox was ready SandboxStart after the pod started (syncPod
	// held the pod until then): init containers and pulls begin there.
	sandboxAt := st.StartTime.Add(e.profile.SandboxStart)
	st.InitContainerStatuses = alignStatuses(st.InitContainerStatuses, pod.Spec.InitContainers)
	if len(pod.Spec.InitContainers) > 0 && !initDone(pod, st) {
		started := sandboxAt
		if len(st.InitContainerStatuses) == 0 {
			st.InitContainerStatuses = make([]corev1.ContainerStatus, len(pod.Spec.InitContainers))
			for i, c := range pod.Spec.InitContainers {
				cs := e.newContainerStatus(c, now)
				if i > 0 {
					cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
					cs.Started, cs.Ready, cs.ContainerID, cs.ImageID = ptrBool(false), false, "", ""
				}
				st.InitContainerStatuses[i] = cs
			}
			st.ContainerStatuses = make([]corev1.ContainerStatus, len(pod.Spec.Containers))
			for i, c := range pod.Spec.Containers {
				st.ContainerStatuses[i] = corev1.ContainerStatus{
					Name: c.Name, Image: c.Image, Started: ptrBool(false), VolumeMounts: volumeMountStatuses(c),
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}},
				}
			}
			st.Phase = corev1.PodPending
			setCondition(st, corev1.PodInitialized, corev1.ConditionFalse, "ContainersNotInitialized", now)
			setCondition(st, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", now)
			setCondition(st, corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", now)
			return st, max(e.init-e.now.Sub(started), time.Millisecond), kindInitializing
		}
		if wait := e.init - e.now.Sub(started); wait > 0 {
			return st, wait, ""
		}
		for i, c := range pod.Spec.InitContainers {
			cs := &st.InitContainerStatuses[i]
			if cs.ContainerID == "" {
				*cs = e.newContainerStatus(c, *st.StartTime)
			}
			if !isSidecar(c) && cs.State.Terminated == nil {
				startedAt := now
				if cs.State.Running != nil { // else another client wrote a state with no run
					startedAt = cs.State.Running.StartedAt
				}
				cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 0, Reason: "Completed", StartedAt: startedAt,
					FinishedAt: now, ContainerID: cs.ContainerID,
				}}
				cs.Ready = false
				cs.Started = ptrBool(false)
			}
		}
		st.ContainerStatuses = nil // main containers start below
		kind = kindStarted
	}
	setCondition(st, corev1.PodInitialized, corev1.ConditionTrue, "", now)

	// Main containers: start missing ones (after their pull), restart in
	// place those whose spec image changed, crash-loop those whose image
	// exits (mainContainer), leave the rest exactly as they are.
	cur := make(map[string]*corev1.ContainerStatus, len(st.ContainerStatuses))
	for i := range st.ContainerStatuses {
		cur[st.ContainerStatuses[i].Name] = &st.ContainerStatuses[i]
	}
	var statuses []corev1.ContainerStatus // nil for no containers, as decoded
	after := time.Duration(0)
	ran := false
	for _, c := range pod.Spec.Containers {
		cs, left, k := e.mainContainer(pod, c, cur[c.Name], sandboxAt)
		statuses = append(statuses, cs)
		if k != "" {
			kind = k
		}
		if left > 0 && (after == 0 || left < after) {
			after = left
		}
		ran = ran || cs.State.Running != nil || cs.LastTerminationState.Terminated != nil
	}
	st.ContainerStatuses = statuses
	// Pending until a container has run (all still pulling), as the kubelet
	// reports it.
	st.Phase = corev1.PodRunning
	if !ran && len(statuses) > 0 {
		st.Phase = corev1.PodPending
	}

	if !restartsAlways(pod) && !anyWaiting(st.ContainerStatuses) {
		after = e.runJob(pod, st, now)
		if after == 0 {
			kind = kindExited
			if st.Phase == corev1.PodRunning { // OnFailure restarted them
				kind = kindRestarted
				after = annotationDuration(pod, RunDurationAnnotation, e.job)
			}
		}
	}
	setReadiness(pod, st, now)
	return st, after, kind
}

// runJob ends the main containers once they have run their duration and
// returns 0, or returns the time left.
func (e podEnv) runJob(pod *corev1.Pod, st *corev1.PodStatus, now metav1.Time) time.Duration {
	var started time.Time
	for _, cs := range st.ContainerStatuses {
		if cs.State.Running != nil && cs.State.Running.StartedAt.After(started) {
			started = cs.State.Running.StartedAt.Time
		}
	}
	if started.IsZero() {
		return 0
	}
	if left := annotationDuration(pod, RunDurationAnnotation, e.job) - e.now.Sub(started); left > 0 {
		return left
	}
	code := annotationExitCode(pod)
	if code != 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		// The kubelet restarts failed containers of OnFailure pods. It adds
		// CrashLoopBackOff delays; here the run duration paces restarts.
		for i, c := range pod.Spec.Containers {
			st.ContainerStatuses[i] = e.restarted(c, &st.ContainerStatuses[i], now, code)
		}
		return 0
	}
	for i := range st.ContainerStatuses {
		terminate(&st.ContainerStatuses[i], code, now)
	}
	for i, c := range pod.Spec.InitContainers {
		if isSidecar(c) && i < len(st.InitContainerStatuses) {
			terminate(&st.InitContainerStatuses[i], 0, now)
		}
	}
	st.Phase = corev1.PodSucceeded
	if code != 0 {
		st.Phase = corev1.PodFailed
	}
	return 0
}

// stoppedStatus is the final status of a deleted pod whose containers
// exited on SIGTERM: exit 0 everywhere, so Succeeded (the kubelet's getPhase
// for a terminal pod). Nil if there is nothing left to stop.
func stoppedStatus(pod *corev1.Pod, now time.Time) *corev1.PodStatus {
	if isTerminal(pod) || pod.Status.StartTime == nil {
		return nil
	}
	st := pod.Status.DeepCopy()
	t := metav1.NewTime(now)
	for i := range st.InitContainerStatuses {
		terminate(&st.InitContainerStatuses[i], 0, t)
	}
	for i := range st.ContainerStatuses {
		terminate(&st.ContainerStatuses[i], 0, t)
	}
	st.Phase = corev1.PodSucceeded
	setCondition(st, corev1.PodReadyToStartContainers, corev1.ConditionFalse, "", t)
	setCondition(st, corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted", t)
	setCondition(st, corev1.PodReady, corev1.ConditionFalse, "PodCompleted", t)
	return st
}

func terminate(cs *corev1.ContainerStatus, code int32, now metav1.Time) {
	if cs.State.Terminated != nil {
		return
	}
	var startedAt metav1.Time
	if cs.State.Running != nil {
		startedAt = cs.State.Running.StartedAt
	}
	cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: exitReason(code), StartedAt: startedAt, FinishedAt: now, ContainerID: cs.ContainerID,
	}}
	cs.Ready = false
	cs.Started = ptrBool(false)
}

func exitReason(code int32) string {
	if code == 0 {
		return "Completed"
	}
	return "Error"
}

// inPlaceKill is the exit code recorded in lastState when a container is
// restarted for a new image: the kubelet stops it with SIGTERM and, for
// processes that do not handle it, SIGKILL — 137 with reason "Error" is what
// it then reports and what OpenKruise users see on real nodes.
const inPlaceKill = 137

// restarted replaces a container with a fresh run of spec c: new image ID
// and container ID, restartCount+1, the old run in lastState.
func (e podEnv) restarted(c corev1.Container, old *corev1.ContainerStatus, now metav1.Time, code int32) corev1.ContainerStatus {
	cs := e.newContainerStatus(c, now)
	cs.RestartCount = old.RestartCount + 1
	last := old.State.Terminated
	if last == nil {
		var startedAt metav1.Time
		if old.State.Running != nil {
			startedAt = old.State.Running.StartedAt
		}
		last = &corev1.ContainerStateTerminated{ExitCode: code, Reason: exitReason(code),
			StartedAt: startedAt, FinishedAt: now, ContainerID: old.ContainerID}
	}
	cs.LastTerminationState = corev1.ContainerState{Terminated: last}
	return cs
}

func (e podEnv) newContainerStatus(c corev1.Container, now metav1.Time) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Name:         c.Name,
		Image:        c.Image,
		ImageID:      e.images.ImageID(c.Image),
		ContainerID:  "containerd://" + randomHex(32),
		Started:      ptrBool(true),
		VolumeMounts: volumeMountStatuses(c),
		Ready:        true,
		State:        corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
	}
}

// alignStatuses is statuses with one entry per container of specs, in
// their order: the entry that names it, else an empty one, which advance
// takes for a container not created yet. The simulator's own statuses are
// returned as they are; one another client wrote may list other
// containers, or fewer (a kubelet would rewrite it from its runtime).
func alignStatuses(statuses []corev1.ContainerStatus, specs []corev1.Container) []corev1.ContainerStatus {
	if len(statuses) == 0 {
		return statuses
	}
	aligned := len(statuses) == len(specs)
	for i := 0; aligned && i < len(specs); i++ {
		aligned = statuses[i].Name == specs[i].Name
	}
	if aligned {
		return statuses
	}
	out := make([]corev1.ContainerStatus, len(specs))
	for i, c := range specs {
		if cs := containerStatus(statuses, c.Name); cs != nil {
			out[i] = *cs
		} else {
			out[i] = corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		}
	}
	return out
}

// initDone reports whether every non-sidecar init container has completed.
func initDone(pod *corev1.Pod, st *corev1.PodStatus) bool {
	if len(st.InitContainerStatuses) != len(pod.Spec.InitContainers) {
		return false
	}
	for i, c := range pod.Spec.InitContainers {
		if !isSidecar(c) && st.InitContainerStatuses[i].State.Terminated == nil {
			return false
		}
	}
	return true
}

// isSidecar: native sidecars are init containers that keep running.
func isSidecar(c corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// setReadiness derives ContainersReady and Ready; Ready also waits for every
// readiness gate condition to be True, as set by other controllers.
func setReadiness(pod *corev1.Pod, st *corev1.PodStatus, now metav1.Time) {
	ready := st.Phase == corev1.PodRunning
	for _, cs := range st.ContainerStatuses {
		ready = ready && cs.Ready
	}
	for i, c := range pod.Spec.InitContainers {
		if isSidecar(c) && i < len(st.InitContainerStatuses) {
			ready = ready && st.InitContainerStatuses[i].Ready
		}
	}
	if !ready {
		reason := "ContainersNotReady"
		if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
			reason = "PodCompleted"
		}
		setCondition(st, corev1.ContainersReady, corev1.ConditionFalse, reason, now)
		setCondition(st, corev1.PodReady, corev1.ConditionFalse, reason, now)
		return
	}
	setCondition(st, corev1.ContainersReady, corev1.ConditionTrue, "", now)
	for _, g := range pod.Spec.ReadinessGates {
		if !conditionTrue(st, g.ConditionType) {
			setCondition(st, corev1.PodReady, corev1.ConditionFalse, "ReadinessGatesNotReady", now)
			return
		}
	}
	setCondition(st, corev1.PodReady, corev1.ConditionTrue, "", now)
}

func conditionTrue(st *corev1.PodStatus, t corev1.PodConditionType) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// setCondition changes a condition only if its status or reason changed, so
// an unchanged pod yields an identical status and no write.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, status corev1.ConditionStatus, reason string, now metav1.Time) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		if c.Status != status || c.Reason != reason {
			c.Status, c.Reason, c.Message = status, reason, ""
		}
		return
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: now})
}

// qosClass follows the API's rules for pods the server left unclassified:
// Guaranteed when every container's cpu and memory limits equal requests,
// BestEffort when nothing is set, Burstable otherwise.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	all := append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
	set, guaranteed := false, true
	for _, c := range all {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			set = true
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			l, hasL := c.Resources.Limits[r]
			q, hasQ := c.Resources.Requests[r]
			if !hasL || (hasQ && q.Cmp(l) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !set:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func randomHex(bytes int) string {
	b := make([]byte, bytes)
	_, _ = rand.Read(b) // crypto/rand never returns an error
	return hex.EncodeToString(b)
}

func ptrBool(b bool) *bool { return &b }
