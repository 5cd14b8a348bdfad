package nodesim

import (
	"context"
	"path"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/nodesim/sandbox"
)

// Probes as a kubelet runs them, against the containers' sandboxes: an
// exec probe runs its command in the container (seeing what `kubectl exec`
// wrote there; programs the sandbox lacks, an image's own tools, succeed); an HTTP probe asks the image's web server as the image
// catalogue describes it (a file under its document root: 200, else 404)
// and succeeds for images the catalogue gives no server; TCP and gRPC
// probes succeed once the container runs.
//
// A kubelet probes every period. Here an answer can only change when the
// container's files change (a command run in it, or in another pod using
// the same claim) or when an initial delay or a liveness failure's grace
// runs out, so probes are evaluated when the pod is synced, and the pod is
// synced one period after its files change (onFilesChanged) or when a
// delay ends: no timer per pod, and nothing at all for pods without probes.
//
// Readiness follows the kubelet's thresholds: a Ready container turns
// un-Ready at its failureThreshold-th failure in a row, one period apart,
// and an un-Ready one Ready at its successThreshold-th success, so the
// answer's changes are kept per container run (answerSince).

// prober answers probes for podEnv (nil: every probe succeeds).
type prober interface {
	// succeeds runs probe p of container c, running as cs.
	succeeds(pod *corev1.Pod, c *corev1.Container, cs *corev1.ContainerStatus, p *corev1.Probe) bool
	// failingSince records whether the liveness probe of run containerID
	// fails now and returns since when it has been failing.
	failingSince(containerID string, failing bool, now time.Time) time.Time
	// answerSince records readiness answer of run containerID now and
	// returns since when it has been that answer.
	answerSince(containerID string, answer bool, now time.Time) time.Time
	// hookDuration runs an exec hook of container c on a virtual clock and
	// returns how long it took.
	hookDuration(pod *corev1.Pod, c *corev1.Container, command []string) time.Duration
}

// livenessKill is the exit code the kubelet reports for a container it
// killed for failing its liveness probe (SIGKILL after the grace period).
const livenessKill = 137

const kindLiveness = "liveness-restart"

// probePeriod is p's period (the API defaults it to 10 s).
func probePeriod(p *corev1.Probe) time.Duration {
	return time.Duration(max(p.PeriodSeconds, 1)) * time.Second
}

// probed applies c's probes to its run cs (prev is the status before):
// a liveness probe failing for failureThreshold periods restarts it; it is
// not started until its startup probe succeeds, not ready until its
// readiness probe does, and no probe counts before its initial delay. It
// returns the status, when the answer may next change on its own (0:
// never), and the transition kind if it restarted.
func (e podEnv) probed(pod *corev1.Pod, c *corev1.Container, prev *corev1.ContainerStatus, cs corev1.ContainerStatus, img Image) (corev1.ContainerStatus, time.Duration, string) {
	if cs.State.Running == nil || (c.StartupProbe == nil && c.ReadinessProbe == nil && c.LivenessProbe == nil) {
		return cs, 0, ""
	}
	started := cs.State.Running.StartedAt.Time
	var after time.Duration
	later := func(d time.Duration) {
		if d > 0 && (after == 0 || d < after) {
			after = d
		}
	}
	due := func(p *corev1.Probe) bool {
		wait := started.Add(time.Duration(p.InitialDelaySeconds) * time.Second).Sub(e.now)
		later(wait)
		return wait <= 0
	}
	pass := func(p *corev1.Probe) bool {
		return due(p) && (e.probes == nil || e.probes.succeeds(pod, c, &cs, p))
	}
	if c.StartupProbe != nil {
		// Once a run's startup probe succeeded the kubelet stops running it.
		done := prev != nil && prev.ContainerID == cs.ContainerID && prev.State.Running != nil && ptr.Deref(prev.Started, false)
		cs.Started = ptrBool(done || pass(c.StartupProbe))
	}
	startedUp := ptr.Deref(cs.Started, true)
	if p := c.LivenessProbe; p != nil && e.probes != nil && startedUp && due(p) {
		failing := !e.probes.succeeds(pod, c, &cs, p)
		since := e.probes.failingSince(cs.ContainerID, failing, e.now)
		if failing && restartsAlways(pod) || failing && pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
			// The failureThreshold-th failure in a row, one period apart.
			deadline := since.Add(time.Duration(max(p.FailureThreshold, 1)-1) * probePeriod(p))
			if left := deadline.Sub(e.now); left > 0 {
				later(left)
			} else {
				out, wait, _ := e.crashed(pod, *c, &cs, img, livenessKill)
				return out, wait, kindLiveness
			}
		}
	}
	cs.Ready = startedUp && (c.ReadinessProbe == nil || pass(c.ReadinessProbe))
	if p := c.ReadinessProbe; p != nil && startedUp && e.probes != nil && due(p) {
		was := prev != nil && prev.ContainerID == cs.ContainerID && prev.Ready
		since := e.probes.answerSince(cs.ContainerID, cs.Ready, e.now)
		if cs.Ready != was {
			// The answer changed: it counts once it has held for the
			// threshold's number of probes, one period apart.
			need := p.FailureThreshold
			if cs.Ready {
				need = p.SuccessThreshold
			}
			if left := since.Add(time.Duration(max(need, 1)-1) * probePeriod(p)).Sub(e.now); left > 0 {
				cs.Ready = was
				later(left)
			}
		}
	}
	return cs, after, ""
}

// probes is the simulator's prober.
type probes struct {
	files  *sandbox.Files
	images *ImageCatalog
	clock  clock.Clock

	mu        sync.Mutex
	failing   map[string]time.Time    // container run → its liveness probe's first failure
	readiness map[string]readinessRun // container run → its readiness probe's answer
}

// readinessRun is a run's readiness answer and since when it has held.
type readinessRun struct {
	answer bool
	since  time.Time
}

func newProbes(files *sandbox.Files, images *ImageCatalog, clk clock.Clock) *probes {
	return &probes{files: files, images: images, clock: clk, failing: map[string]time.Time{}, readiness: map[string]readinessRun{}}
}

func (p *probes) answerSince(containerID string, answer bool, now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.readiness[containerID]
	if !ok || r.answer != answer {
		r = readinessRun{answer: answer, since: now}
		p.readiness[containerID] = r
	}
	return r.since
}

func (p *probes) failingSince(containerID string, failing bool, now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !failing {
		delete(p.failing, containerID)
		return time.Time{}
	}
	since, ok := p.failing[containerID]
	if !ok {
		since = now
		p.failing[containerID] = now
	}
	return since
}

// forget drops what is kept of a deleted pod's runs.
func (p *probes) forget(pod *corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cs := range pod.Status.ContainerStatuses {
		delete(p.failing, cs.ContainerID)
		delete(p.readiness, cs.ContainerID)
	}
}

// forgetRun drops what is kept of one ended container run.
func (p *probes) forgetRun(containerID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.failing, containerID)
	delete(p.readiness, containerID)
}

func (p *probes) succeeds(pod *corev1.Pod, c *corev1.Container, cs *corev1.ContainerStatus, pr *corev1.Probe) bool {
	img := p.images.Lookup(c.Image)
	switch {
	case pr.Exec != nil:
		box := p.files.ForPod(pod, c.Name, cs.ContainerID, img.Files, p.clock)
		if box == nil || len(pr.Exec.Command) == 0 {
			return false
		}
		box.Lenient = true
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(max(pr.TimeoutSeconds, 1))*time.Second)
		defer cancel()
		return sandbox.Run(ctx, box, pr.Exec.Command, nil, nil, nil) == 0
	case pr.HTTPGet != nil:
		if img.HTTP == nil {
			return true
		}
		if port, ok := containerPort(c, pr.HTTPGet.Port.String(), pr.HTTPGet.Port.IntVal); !ok || port != img.HTTP.Port {
			return false // nothing listens there: connection refused
		}
		box := p.files.ForPod(pod, c.Name, cs.ContainerID, img.Files, p.clock)
		if box == nil {
			return false
		}
		urlPath, _, _ := strings.Cut(pr.HTTPGet.Path, "?")
		target := path.Join(img.HTTP.Root, path.Clean("/"+urlPath))
		if urlPath == "" || strings.HasSuffix(urlPath, "/") {
			target = path.Join(target, "index.html")
		}
		info, err := box.Files.Stat(target)
		return err == nil && !info.IsDir()
	}
	return true
}

// containerPort resolves a probe's port: a number, or the name of one of
// c's ports.
func containerPort(c *corev1.Container, name string, number int32) (int32, bool) {
	if number > 0 {
		return number, true
	}
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// probeDelay is the shortest period of pod's probes; false if it has none.
func probeDelay(pod *corev1.Pod) (time.Duration, bool) {
	var d time.Duration
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
			if p != nil && (d == 0 || probePeriod(p) < d) {
				d = probePeriod(p)
			}
		}
	}
	return d, d > 0
}

// onFilesChanged syncs, one probe period later, the pods of this process
// that a command's writes may have changed the probes of.
func (s *sim) onFilesChanged(c sandbox.Change) {
	if s.pods == nil || !s.podsStarted.Load() {
		return
	}
	var objs []any
	if c.Claim != "" {
		objs, _ = s.pods.GetIndexer().ByIndex(byClaimIndex, c.Claim)
	} else if obj, ok, _ := s.pods.GetIndexer().GetByKey(c.Pod); ok {
		objs = []any{obj}
	}
	for _, o := range objs {
		p, ok := o.(*corev1.Pod)
		if !ok || s.byName[p.Spec.NodeName] == nil {
			continue
		}
		if d, ok := probeDelay(p); ok {
			s.queue.AddAfter(p.Namespace+"/"+p.Name, d)
		}
	}
}

func (p *probes) hookDuration(pod *corev1.Pod, c *corev1.Container, command []string) time.Duration {
	vc := &virtualClock{start: p.clock.Now()}
	box := p.files.ForPod(pod, c.Name, "", p.images.Lookup(c.Image).Files, vc)
	if box == nil || len(command) == 0 {
		return 0
	}
	box.Lenient = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sandbox.Run(ctx, box, command, nil, nil, nil)
	return vc.elapsed()
}

// virtualClock lets time pass without waiting: a sleep returns at once and
// moves the clock on, so a hook's duration is what its sleeps add up to.
type virtualClock struct {
	clock.RealClock // timers and tickers, which sandbox commands do not use
	mu              sync.Mutex
	start           time.Time
	slept           time.Duration
}

func (v *virtualClock) elapsed() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.slept
}

func (v *virtualClock) Now() time.Time { return v.start.Add(v.elapsed()) }

func (v *virtualClock) Since(t time.Time) time.Duration { return v.Now().Sub(t) }

func (v *virtualClock) After(d time.Duration) <-chan time.Time {
	v.Sleep(d)
	ch := make(chan time.Time, 1)
	ch <- v.Now()
	return ch
}

func (v *virtualClock) Sleep(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.slept += max(d, 0)
}
