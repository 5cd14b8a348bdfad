package nodesim

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What a kubelet does with one main container of a running pod, as the
// image catalogue describes its image (ImageCatalog): pull (ContainerCreating
// for the pull duration, or ErrImagePull/ImagePullBackOff for good), run, and, when the
// image's entrypoint ends on its own under restartPolicy Always, exit and be
// restarted with the kubelet's CrashLoopBackOff delays. An image the
// catalogue does not list pulls at once and runs until stopped, which is
// every container's behaviour without a catalogue.
//
// Everything is derived from the status the pod already carries (level
// based, as the rest of this package), so a restarted simulator resumes
// where the last one left off.

const (
	// crashLoopInitial and crashLoopMax are the kubelet's container restart
	// back-off: the first restart is immediate, then 10s doubling to 5m.
	crashLoopInitial = 10 * time.Second
	crashLoopMax     = 5 * time.Minute

	kindPulling = "pulling"
	kindBackOff = "backoff"
)

// crashLoopDelay is how long the kubelet waits before restarting a
// container that has been restarted restarts times.
func crashLoopDelay(restarts int32) time.Duration {
	if restarts <= 0 {
		return 0
	}
	d := crashLoopInitial
	for i := int32(1); i < restarts && d < crashLoopMax; i++ {
		d *= 2
	}
	return min(d, crashLoopMax)
}

// mainContainer is the status of container c at e.now given its last
// status cs (nil if it has none) and the pod's start time, how long until it
// changes on its own (0: never), and the transition kind ("" if none).
func (e podEnv) mainContainer(pod *corev1.Pod, c corev1.Container, cs *corev1.ContainerStatus, podStart time.Time) (corev1.ContainerStatus, time.Duration, string) {
	img := e.images.Lookup(c.Image)
	out, after, kind := e.nextContainer(pod, c, cs, img, podStart)
	if out.State.Running != nil && after == 0 && exits(pod, c, img) {
		// Look again when the entrypoint ends (at least a moment on: the
		// start time is kept to the second).
		after = max(out.State.Running.StartedAt.Add(img.ExitsAfter).Sub(e.now), time.Millisecond)
	}
	out, wait, k := e.probed(pod, &c, cs, out, img)
	if k != "" {
		return out, wait, k
	}
	if out.State.Running != nil && (restartsAlways(pod) || pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure) {
		switch d := e.oomAfter(pod, &c, &out); {
		case d == 0:
			return e.oomKilled(pod, c, &out, img)
		case d > 0 && (after == 0 || d < after):
			after = d
		}
	}
	if wait > 0 && (after == 0 || wait < after) {
		after = wait
	}
	return out, after, kind
}

// exits: the container runs the image's own entrypoint, which ends on its
// own, and the kubelet restarts it.
func exits(pod *corev1.Pod, c corev1.Container, img Image) bool {
	return img.Exits && len(c.Command) == 0 && restartsAlways(pod)
}

func (e podEnv) nextContainer(pod *corev1.Pod, c corev1.Container, cs *corev1.ContainerStatus, img Image, podStart time.Time) (corev1.ContainerStatus, time.Duration, string) {
	now := metav1.NewTime(e.now)
	switch {
	case cs == nil || (cs.State.Running == nil && cs.State.Terminated == nil && cs.LastTerminationState.Terminated == nil):
		// First run: pull from the pod's start, then start.
		return e.pullThenStart(pod, c, nil, img, podStart)
	case cs.State.Running != nil && (cs.Image != c.Image || envRestartDue(pod, &c, cs)):
		// In-place image change: the kubelet stops the container, pulls
		// the new image and starts it. A changed label the container reads
		// into its environment: the node agent restarts it (containermeta.go).
		// Either happens at the kubelet's next relist (relist.go), and the
		// old run stops as it would for a deletion: at once, or after the
		// grace period if its PID 1 ignores SIGTERM (stopsignal.go).
		if at := e.restartDue(cs.ContainerID).Add(killDuration(pod, c)); e.now.Before(at) {
			return *cs, at.Sub(e.now), ""
		}
		e.restarts.forget(cs.ContainerID)
		last := *cs
		terminate(&last, inPlaceKill, now)
		last.LastTerminationState = corev1.ContainerState{Terminated: last.State.Terminated}
		out, after, _ := e.pullThenStart(pod, c, &last, img, e.now)
		return out, after, kindInPlace
	case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
		// Between runs: pulling after an in-place change, or backing off
		// after a crash (a new image starts a new back-off, at once).
		if cs.State.Waiting.Reason == "CrashLoopBackOff" && cs.Image == c.Image {
			at := cs.LastTerminationState.Terminated.FinishedAt.Add(crashLoopDelay(cs.RestartCount))
			if left := at.Sub(e.now); left > 0 {
				return *cs, left, ""
			}
			return e.pullThenStart(pod, c, cs, img, e.now)
		}
		base := cs.LastTerminationState.Terminated.FinishedAt.Time
		if cs.Image != c.Image {
			base = e.now
		}
		return e.pullThenStart(pod, c, cs, img, base)
	case cs.State.Running != nil && exits(pod, c, img):
		end := cs.State.Running.StartedAt.Add(img.ExitsAfter)
		if left := end.Sub(e.now); left > 0 {
			return *cs, left, ""
		}
		return e.crashed(pod, c, cs, img, img.ExitCode)
	}
	return *cs, 0, ""
}

// crashed ends run cs with code (its entrypoint exited, or the kubelet
// killed it) and restarts it as the kubelet does: at once the first time,
// then after CrashLoopBackOff delays.
func (e podEnv) crashed(pod *corev1.Pod, c corev1.Container, cs *corev1.ContainerStatus, img Image, code int32) (corev1.ContainerStatus, time.Duration, string) {
	last := *cs
	terminate(&last, code, metav1.NewTime(e.now))
	last.LastTerminationState = corev1.ContainerState{Terminated: last.State.Terminated}
	delay := crashLoopDelay(cs.RestartCount)
	if delay == 0 {
		out, after, _ := e.pullThenStart(pod, c, &last, img, e.now)
		return out, after, kindRestarted
	}
	last.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
		Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.Name, pod.Name, pod.Namespace, pod.UID)}}
	return last, delay, kindBackOff
}

// pullThenStart pulls c's image from base and starts the container once the
// pull is done. prev is the run before (nil for the first): its
// lastState and restart count carry over, and a start counts a restart.
func (e podEnv) pullThenStart(pod *corev1.Pod, c corev1.Container, prev *corev1.ContainerStatus, img Image, base time.Time) (corev1.ContainerStatus, time.Duration, string) {
	waiting := func(reason, message string) corev1.ContainerStatus {
		w := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: ptrBool(false), VolumeMounts: volumeMountStatuses(c),
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}
		if prev != nil {
			w.RestartCount, w.LastTerminationState = prev.RestartCount, prev.LastTerminationState
		}
		return w
	}
	if img.PullError != "" {
		failed, next := pullAttempt(base, e.now)
		if failed {
			return waiting("ErrImagePull", fmt.Sprintf("failed to pull and unpack image %q: %s", c.Image, img.PullError)), next, kindPulling
		}
		return waiting("ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", c.Image, img.PullError)), next, kindPulling
	}
	// The image is on the node once its pull ends (at once if it already
	// was); the runtime then takes ContainerStart to create and start the
	// container.
	ran := e.pullDone(c, img, base).Add(e.profile.ContainerStart)
	if left := ran.Sub(e.now); left > 0 {
		return waiting("ContainerCreating", ""), left, kindPulling
	}
	// The kubelet runs the postStart hook before it reports the container:
	// it waits (ContainerCreating) through the hook and to the next relist
	// (relist.go), and its start time is when it started, before the hook.
	startedAt := e.now
	if hook := e.postStart(pod, c); hook > 0 {
		reported := ran.Add(hook)
		if e.restarts != nil {
			reported = e.nextRelist(reported)
		}
		if left := reported.Sub(e.now); left > 0 {
			return waiting("ContainerCreating", ""), left, kindPulling
		}
		startedAt = e.now.Add(-reported.Sub(ran))
		if startedAt.Before(ran) {
			startedAt = ran
		}
	}
	cs := e.newContainerStatus(c, metav1.NewTime(startedAt))
	if prev != nil {
		cs.RestartCount, cs.LastTerminationState = prev.RestartCount+1, prev.LastTerminationState
	}
	return cs, 0, kindStarted
}

// pullDone is when c's image is on the node for a container that wants it
// from base: at once when the pull costs nothing, else as the node's image
// store says (shared with other pods' pulls of it, queued behind the pull
// in progress). It notes how long the container waited, for the Pulled
// event.
func (e podEnv) pullDone(c corev1.Container, img Image, base time.Time) time.Time {
	done := base
	if cost := e.profile.pullCost(img); cost > 0 {
		done = base.Add(cost)
		if e.store != nil {
			done = e.store.pull(e.images.ImageID(c.Image), e.images.StatusNames(c.Image), e.profile.sizeOf(img), cost, base, !e.profile.ParallelPulls)
		}
	}
	if e.pulls != nil && done.After(base) {
		if *e.pulls == nil {
			*e.pulls = map[string]time.Duration{}
		}
		(*e.pulls)[c.Name] = done.Sub(base)
	}
	return done
}

// anyWaiting: a container still pulls (a run-to-completion pod's run
// starts once all have started).
func anyWaiting(cs []corev1.ContainerStatus) bool {
	for i := range cs {
		if cs[i].State.Waiting != nil {
			return true
		}
	}
	return false
}

func restartsAlways(pod *corev1.Pod) bool {
	return pod.Spec.RestartPolicy == "" || pod.Spec.RestartPolicy == corev1.RestartPolicyAlways
}

// postStart is how long c's postStart hook runs (0 without one): an exec
// hook is run in the container's sandbox on a virtual clock, so `sleep 10`
// takes ten simulated seconds and no worker waits; a sleep action takes its
// seconds; an HTTP hook returns at once. A failing hook is not simulated.
func (e podEnv) postStart(pod *corev1.Pod, c corev1.Container) time.Duration {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return 0
	}
	h := c.Lifecycle.PostStart
	switch {
	case h.Sleep != nil:
		return time.Duration(h.Sleep.Seconds) * time.Second
	case h.Exec != nil && e.probes != nil:
		return e.probes.hookDuration(pod, &c, h.Exec.Command)
	}
	return 0
}

// The kubelet's image pull back-off: a failed pull is retried after 10 s,
// doubling to at most 5 minutes. Each attempt shows ErrImagePull for
// errImagePullFor, then ImagePullBackOff until the next one.
const (
	pullBackOffInitial = 10 * time.Second
	pullBackOffMax     = 5 * time.Minute
	errImagePullFor    = time.Second
)

// pullAttempt says whether a container whose pulls fail, first tried at
// base, shows ErrImagePull at now (a pull just failed) rather than
// ImagePullBackOff, and how long until that changes. Pure: the attempts
// follow from base alone, so no state is kept per container.
func pullAttempt(base, now time.Time) (failed bool, next time.Duration) {
	since := max(now.Sub(base), 0)
	attempt, backOff := time.Duration(0), pullBackOffInitial
	for attempt+backOff <= since {
		attempt += backOff
		backOff = min(2*backOff, pullBackOffMax)
	}
	if in := since - attempt; in < errImagePullFor {
		return true, errImagePullFor - in
	}
	return false, attempt + backOff - since
}
