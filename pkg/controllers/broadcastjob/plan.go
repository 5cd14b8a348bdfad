package broadcastjob

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// Plan is what one pass does to a BroadcastJob, decided from what the cache
// shows; see Decide.
type Plan struct {
	// Create are the nodes that get a pod now, in name order.
	Create []string
	// Delete are pods to remove: duplicates, pods on nodes that are gone,
	// and every unfinished pod of a job that failed.
	Delete []*corev1.Pod
	// Pause sets spec.paused (failure policy Pause met a new failed pod).
	Pause bool
	// DeleteJob: the job finished more than ttlSecondsAfterFinished ago.
	DeleteJob bool
	// Status is the job's status after this pass.
	Status v1beta1.BroadcastJobStatus
	// Event is a reason and message worth recording, or empty.
	EventReason, EventMessage string
	// RequeueAfter is when time alone changes the decision (deadline,
	// TTL); zero when only an event can.
	RequeueAfter time.Duration
}

// Decide plans one pass. It is pure: the same job, nodes, pods and now give
// the same plan. pods are the job's pods as cached, terminating ones
// included; nodes are all nodes.
func Decide(job *v1beta1.BroadcastJob, nodes []*corev1.Node, pods []*corev1.Pod, now time.Time) Plan {
	p := Plan{Status: *job.Status.DeepCopy()}
	st := &p.Status
	if st.StartTime == nil {
		t := metav1.NewTime(now)
		st.StartTime = &t
	}
	if finished(st) {
		// The counts a job finished with are its record; pods deleted
		// since (by the failure, by a user, by pod GC) do not rewrite it.
		p.RequeueAfter, p.DeleteJob = ttl(job, st, now)
		return p
	}

	e := newEligibility(&job.Spec.Template)
	var eligible []string
	known := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		known[n.Name] = true
		if n.DeletionTimestamp == nil && e.why(n) == "" {
			eligible = append(eligible, n.Name)
		}
	}
	sort.Strings(eligible)

	c := countPods(pods, job.Spec.FailurePolicy.RestartLimit)
	st.Active, st.Succeeded, st.Failed = c.active, c.succeeded, c.failed
	st.Desired = int32(len(eligible))
	for node, ps := range c.live {
		if !known[node] {
			// The node is gone: its pods will never run; pod GC would
			// remove them too, but the job should not wait for that.
			p.Delete = append(p.Delete, unfinished(ps)...)
			continue
		}
		if len(ps) > 1 {
			p.Delete = append(p.Delete, duplicates(ps)...)
		}
	}

	// Failure: FailFast at any failed pod, or the active deadline.
	policy := job.Spec.FailurePolicy.Type
	if policy == "" {
		policy = v1beta1.FailurePolicyTypeFailFast
	}
	var failReason, failMessage string
	if c.failed > 0 && policy == v1beta1.FailurePolicyTypeFailFast {
		failReason, failMessage = "PodFailed", fmt.Sprintf("%d pods failed and failurePolicy is FailFast", c.failed)
	}
	always := job.Spec.CompletionPolicy.Type != v1beta1.Never
	if ads := job.Spec.CompletionPolicy.ActiveDeadlineSeconds; always && ads != nil && failReason == "" {
		deadline := st.StartTime.Add(time.Duration(*ads) * time.Second)
		if !now.Before(deadline) {
			failReason, failMessage = "DeadlineExceeded", fmt.Sprintf("the job ran longer than activeDeadlineSeconds (%ds)", *ads)
		} else {
			p.RequeueAfter = deadline.Sub(now)
		}
	}
	if failReason != "" {
		p.Delete = p.Delete[:0]
		for _, ps := range c.live {
			p.Delete = append(p.Delete, unfinished(ps)...)
		}
		sortPods(p.Delete)
		st.Active = 0 // every unfinished pod is being deleted; the record keeps no phantom runners
		finish(st, v1beta1.JobFailed, v1beta1.PhaseFailed, failReason, failMessage, now)
		p.EventReason, p.EventMessage = failReason, failMessage
		p.RequeueAfter, p.DeleteJob = ttl(job, st, now)
		return p
	}
	sortPods(p.Delete)

	// Pause only for failures this job has not seen before: the status
	// holds the failed count of the last pass, so a user who unpauses the
	// job after looking at a failed pod is not paused again by that pod.
	if policy == v1beta1.FailurePolicyTypePause && c.failed > job.Status.Failed && !job.Spec.Paused {
		p.Pause = true
		p.EventReason, p.EventMessage = "Paused", fmt.Sprintf("%d pods failed and failurePolicy is Pause", c.failed)
	}

	var missing []string
	unresolved := 0 // eligible nodes without a live pod (none yet, or one terminating)
	for _, n := range eligible {
		if !c.hasPod[n] {
			missing = append(missing, n)
		}
		if len(c.live[n]) == 0 {
			unresolved++
		}
	}
	if always && unresolved == 0 && c.active == 0 {
		p.EventReason, p.EventMessage = "Completed", fmt.Sprintf("%d pods succeeded, %d failed", c.succeeded, c.failed)
		finish(st, v1beta1.JobComplete, v1beta1.PhaseCompleted, p.EventReason, p.EventMessage, now)
		p.RequeueAfter, p.DeleteJob = ttl(job, st, now)
		return p
	}
	if job.Spec.Paused || p.Pause {
		st.Phase = v1beta1.PhasePaused
		return p
	}
	st.Phase = v1beta1.PhaseRunning
	room := len(missing)
	if par := job.Spec.Parallelism; par != nil {
		limit, err := intstr.GetScaledValueFromIntOrPercent(par, len(eligible), true)
		if err != nil {
			limit = 0 // admission rejects these; create nothing rather than everything
		}
		room = min(room, max(0, limit-int(c.active)))
	}
	p.Create = missing[:room]
	return p
}

// podCounts is what the job's pods add up to; only pods not being deleted
// count.
type podCounts struct {
	active, succeeded, failed int32
	// live are the pods not being deleted, by the node they are pinned to.
	live map[string][]*corev1.Pod
	// hasPod: the node has a pod of the job, live or still terminating, so
	// a new one must not be created yet.
	hasPod map[string]bool
}

func countPods(pods []*corev1.Pod, restartLimit int32) podCounts {
	c := podCounts{live: map[string][]*corev1.Pod{}, hasPod: map[string]bool{}}
	for _, pod := range pods {
		node := PodNode(pod)
		c.hasPod[node] = true
		if pod.DeletionTimestamp != nil {
			continue
		}
		c.live[node] = append(c.live[node], pod)
		switch {
		case pod.Status.Phase == corev1.PodSucceeded:
			c.succeeded++
		case pod.Status.Phase == corev1.PodFailed, restartsExceeded(pod, restartLimit):
			c.failed++
		default:
			c.active++
		}
	}
	return c
}

// restartsExceeded: a pod restarting its containers in place (OnFailure)
// counts as failed once they restarted more than restartLimit times in all,
// as in OpenKruise; otherwise it would retry forever and never fail the job.
func restartsExceeded(pod *corev1.Pod, restartLimit int32) bool {
	if pod.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, s := range pod.Status.InitContainerStatuses {
		n += s.RestartCount
	}
	for _, s := range pod.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n > restartLimit
}

func isFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func unfinished(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if !isFinished(p) {
			out = append(out, p)
		}
	}
	return out
}

// duplicates of one node's pods: keep a finished one if any (its result
// stands), else the oldest; delete the other unfinished ones.
func duplicates(pods []*corev1.Pod) []*corev1.Pod {
	keep := pods[0]
	for _, p := range pods[1:] {
		switch {
		case isFinished(p) && !isFinished(keep):
			keep = p
		case isFinished(p) == isFinished(keep) && older(p, keep):
			keep = p
		}
	}
	var out []*corev1.Pod
	for _, p := range pods {
		if p != keep && !isFinished(p) {
			out = append(out, p)
		}
	}
	return out
}

func older(a, b *corev1.Pod) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

func sortPods(pods []*corev1.Pod) {
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
}

// finished reports whether the job has a true Complete or Failed condition.
func finished(st *v1beta1.BroadcastJobStatus) bool {
	for _, c := range st.Conditions {
		if (c.Type == v1beta1.JobComplete || c.Type == v1beta1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func finish(st *v1beta1.BroadcastJobStatus, cond v1beta1.JobConditionType, phase v1beta1.BroadcastJobPhase, reason, message string, now time.Time) {
	t := metav1.NewTime(now)
	st.Phase = phase
	st.CompletionTime = &t
	c := v1beta1.JobCondition{Type: cond, Status: corev1.ConditionTrue,
		LastProbeTime: t, LastTransitionTime: t, Reason: reason, Message: message}
	// Conditions are a map by type: replace one left False (by an earlier
	// writer), never add a second.
	for i := range st.Conditions {
		if st.Conditions[i].Type == cond {
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// ttl returns how long until a finished job is deleted, or that it is due.
func ttl(job *v1beta1.BroadcastJob, st *v1beta1.BroadcastJobStatus, now time.Time) (time.Duration, bool) {
	secs := job.Spec.CompletionPolicy.TTLSecondsAfterFinished
	if secs == nil || st.CompletionTime == nil || job.Spec.CompletionPolicy.Type == v1beta1.Never {
		return 0, false
	}
	due := st.CompletionTime.Add(time.Duration(*secs) * time.Second)
	if !now.Before(due) {
		return 0, true
	}
	return due.Sub(now), false
}
