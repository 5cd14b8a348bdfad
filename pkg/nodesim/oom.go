package nodesim

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/nodesim/kubeletapi"
	"github.com/myriad-dev/myriad/pkg/nodesim/usage"
)

// oomKill is the exit code of a container the kernel's OOM killer ended
// (SIGKILL), reported with reason OOMKilled.
const oomKill = 137

const kindOOM = "oom-killed"

// oomAfter is how long until running container c passes its memory limit
// by its memory usage model (the nodes.myriad.dev/memory-usage
// annotation; see package usage): 0 now, usage.Never if it never does or
// has no limit or model. The default model, a share of the request, stays
// under any limit, so only a model a user chose kills.
func (e podEnv) oomAfter(pod *corev1.Pod, c *corev1.Container, cs *corev1.ContainerStatus) time.Duration {
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok || limit.IsZero() || cs.State.Running == nil {
		return usage.Never
	}
	models := e.models
	if models == nil {
		models = &kubeletapi.Models{}
	}
	m, ok := models.Chosen(pod, c, kubeletapi.MemoryUsageAnnotation)
	if !ok {
		return usage.Never // none chosen, or malformed (reported by annotationEvents)
	}
	base := limit.AsApproximateFloat64()
	if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok && !q.IsZero() {
		base = q.AsApproximateFloat64() // percentages are of the request, as kubeletapi reports them
	}
	return m.FirstAbove(limit.AsApproximateFloat64(), e.now.Sub(cs.State.Running.StartedAt.Time), base)
}

// oomKilled ends run cs as the OOM killer does: exit 137, reason
// OOMKilled, restarted as any crash is (at once, then CrashLoopBackOff).
func (e podEnv) oomKilled(pod *corev1.Pod, c corev1.Container, cs *corev1.ContainerStatus, img Image) (corev1.ContainerStatus, time.Duration, string) {
	out, wait, _ := e.crashed(pod, c, cs, img, oomKill)
	if t := out.LastTerminationState.Terminated; t != nil {
		t.Reason = "OOMKilled"
	}
	return out, wait, kindOOM
}
