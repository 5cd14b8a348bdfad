package lab

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// WorkloadPods follows one workload's pods (a CloneSet's, a Deployment's
// with a SidecarSet's sidecar) as a pod informer delivers them and
// decides, at the event that makes it so, when a rollout phase of a
// workload benchmark is done: every pod runs the phase's image in one
// container, spec and status, and is available, and the workload's status
// agrees. Every event costs O(1): counts are kept up to date
// per pod rather than recounted, so 10^4 pods cost nothing between events.
// It is safe for concurrent use.
type WorkloadPods struct {
	// Container is the name of the container whose image is followed.
	Container string
	Clock     clock.PassiveClock

	mu   sync.Mutex
	pods map[types.UID]podView
	cnt  PodCounts
	// image is the latest phase's; it stays after End so that counts
	// stay consistent between phases.
	image string
	// status is the workload's latest status as its watch delivered it.
	status WorkloadStatus
	ph     *podPhase
	done   chan struct{}
}

// PodCounts are the pods at one moment. Live pods are not
// terminating; Available ones are Ready with InPlaceUpdateReady not False
// (what the controller counts against maxUnavailable); Updated ones are
// available and run the phase's image.
type PodCounts struct {
	Live        int `json:"live"`
	Running     int `json:"running"`
	Available   int `json:"available"`
	Updated     int `json:"updated"`
	Terminating int `json:"terminating"`
}

// WorkloadStatus is the part of a workload's status a phase waits on: a
// CloneSet's replicas, or a SidecarSet's matched pods as Replicas.
type WorkloadStatus struct {
	Generation, ObservedGeneration                         int64
	Replicas, ReadyReplicas, UpdatedReplicas, UpdatedReady int32
}

// PodPoint is the pods of a phase T seconds after its write.
type PodPoint struct {
	T float64 `json:"t"`
	PodCounts
}

// PodFigures are what the pods did during one phase.
type PodFigures struct {
	// PodsDoneAt is when every wanted pod was first updated and no other
	// pod was live; StatusDoneAt when the workload's status first said
	// the same of the phase's generation; DoneAt when both held.
	PodsDoneAt, StatusDoneAt, DoneAt *time.Time
	// UpdatedSeconds is, per pod, how long after the write it was first
	// seen updated.
	UpdatedSeconds []float64
	// Recreated counts pods live at the start that were deleted; Created
	// pods first seen during the phase; RestartedInPlace pods live at the
	// start and the end whose container restarted.
	Recreated, Created, RestartedInPlace int
	// MaxUnavailable is the most pods below Want that were not available
	// at any event of the phase.
	MaxUnavailable int
	Final          PodCounts
	Series         []PodPoint
}

type podView struct {
	name                            string
	running, available, terminating bool
	// image is the container's as its status reports it, specImage as
	// the pod's spec asks.
	image, specImage string
	restarts         int32
}

type podPhase struct {
	start         time.Time
	want          int
	minGeneration int64
	// atStart holds the restart count of every pod live at the start.
	atStart map[types.UID]int32
	seen    map[types.UID]bool // pods updated at least once this phase
	fig     PodFigures
}

// NewWorkloadPods follows the pods of container's image.
func NewWorkloadPods(container string, clk clock.PassiveClock) *WorkloadPods {
	return &WorkloadPods{Container: container, Clock: clk, pods: map[types.UID]podView{}}
}

func (c *WorkloadPods) view(p *corev1.Pod) podView {
	v := podView{name: p.Name, running: p.Status.Phase == corev1.PodRunning, terminating: p.DeletionTimestamp != nil}
	ready, gateOpen := false, true
	for _, cond := range p.Status.Conditions {
		switch cond.Type {
		case corev1.PodReady:
			ready = cond.Status == corev1.ConditionTrue
		case pub.InPlaceUpdateReady:
			gateOpen = cond.Status != corev1.ConditionFalse
		}
	}
	v.available = ready && gateOpen
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == c.Container {
			v.image, v.restarts = s.Image, s.RestartCount
		}
	}
	for _, ctr := range p.Spec.Containers {
		if ctr.Name == c.Container {
			v.specImage = ctr.Image
		}
	}
	return v
}

// updated: the pod counts toward the phase's target. A pod whose spec
// does not name the container (a test's pod, status only) is judged by its
// status.
func (c *WorkloadPods) updated(v podView) bool {
	return c.image != "" && !v.terminating && v.running && v.available && v.image == c.image &&
		(v.specImage == "" || v.specImage == c.image)
}

func (c *WorkloadPods) count(v podView, sign int) {
	if v.terminating {
		c.cnt.Terminating += sign
		return
	}
	c.cnt.Live += sign
	if v.running {
		c.cnt.Running += sign
	}
	if v.available {
		c.cnt.Available += sign
	}
	if c.updated(v) {
		c.cnt.Updated += sign
	}
}

// Upsert records a pod as an informer's add or update delivered it.
func (c *WorkloadPods) Upsert(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Clock.Now()
	old, existed := c.pods[p.UID]
	if existed {
		c.count(old, -1)
	}
	v := c.view(p)
	c.pods[p.UID] = v
	c.count(v, +1)
	if ph := c.ph; ph != nil {
		if !existed {
			if _, before := ph.atStart[p.UID]; !before {
				ph.fig.Created++
			}
		}
		if c.updated(v) && !ph.seen[p.UID] {
			ph.seen[p.UID] = true
			ph.fig.UpdatedSeconds = append(ph.fig.UpdatedSeconds, now.Sub(ph.start).Seconds())
		}
	}
	c.check(now)
}

// Delete records a pod's deletion.
func (c *WorkloadPods) Delete(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.pods[uid]; ok {
		c.count(old, -1)
		delete(c.pods, uid)
	}
	c.check(c.Clock.Now())
}

// ObserveStatus records the workload's status as its watch delivered it.
func (c *WorkloadPods) ObserveStatus(s WorkloadStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status = s
	c.check(c.Clock.Now())
}

// check notes the phase's unavailability and whether it is done; called
// with mu held after every change.
func (c *WorkloadPods) check(now time.Time) {
	ph := c.ph
	if ph == nil || ph.fig.DoneAt != nil {
		return
	}
	ph.fig.MaxUnavailable = max(ph.fig.MaxUnavailable, ph.want-c.cnt.Available)
	if ph.fig.PodsDoneAt == nil && c.cnt.Updated == ph.want && c.cnt.Live == ph.want {
		ph.fig.PodsDoneAt = &now
	}
	s, w := c.status, int32(ph.want)
	if ph.fig.StatusDoneAt == nil && s.ObservedGeneration >= ph.minGeneration &&
		s.Replicas == w && s.ReadyReplicas == w && s.UpdatedReplicas == w && s.UpdatedReady == w {
		ph.fig.StatusDoneAt = &now
	}
	// Done once both hold together: pods that regressed after PodsDoneAt
	// (they should not) would leave the phase running.
	if ph.fig.StatusDoneAt != nil && c.cnt.Updated == ph.want && c.cnt.Live == ph.want {
		ph.fig.DoneAt = &now
		close(c.done)
	}
}

// Begin starts a phase: from now, want pods are to be updated (running,
// available, with image) and the workload's status is to say so for a
// generation of at least minGeneration. Call it just before the write
// that starts the phase; it returns the phase's start. Done is closed when
// the phase is done.
func (c *WorkloadPods) Begin(image string, want int, minGeneration int64) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Clock.Now()
	// Counts of Updated depend on the phase's image: recount under it.
	c.image, c.cnt = image, PodCounts{}
	ph := &podPhase{start: now, want: want, minGeneration: minGeneration,
		atStart: make(map[types.UID]int32, len(c.pods)), seen: make(map[types.UID]bool, want)}
	c.ph = ph
	for uid, v := range c.pods {
		c.count(v, +1)
		if !v.terminating {
			ph.atStart[uid] = v.restarts
		}
		if c.updated(v) {
			ph.seen[uid] = true
			ph.fig.UpdatedSeconds = append(ph.fig.UpdatedSeconds, 0)
		}
	}
	c.done = make(chan struct{})
	ph.fig.Series = []PodPoint{{T: 0, PodCounts: c.cnt}}
	c.check(now)
	return now
}

// Done is closed when the current phase is done.
func (c *WorkloadPods) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// Sample appends the counts now to the phase's series and returns them.
func (c *WorkloadPods) Sample() PodCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ph != nil {
		c.ph.fig.Series = append(c.ph.fig.Series, PodPoint{T: c.Clock.Since(c.ph.start).Seconds(), PodCounts: c.cnt})
	}
	return c.cnt
}

// NotUpdated names up to n live pods that are not updated, sorted, each
// with what it lacks: a phase that did not finish says which pods held it.
func (c *WorkloadPods) NotUpdated(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, v := range c.pods {
		if v.terminating || c.updated(v) {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s image %q in spec, %q in status, running %t, available %t)",
			v.name, c.Container, v.specImage, v.image, v.running, v.available))
	}
	sort.Strings(out)
	return out[:min(n, len(out))]
}

// Counts are the pods now.
func (c *WorkloadPods) Counts() PodCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cnt
}

// End closes the phase and returns its figures: how many of the pods live
// at its start were deleted, and how many of those left restarted in place.
func (c *WorkloadPods) End() PodFigures {
	c.mu.Lock()
	defer c.mu.Unlock()
	ph := c.ph
	if ph == nil {
		return PodFigures{}
	}
	for uid, restarts := range ph.atStart {
		v, ok := c.pods[uid]
		switch {
		case !ok || v.terminating:
			ph.fig.Recreated++
		case v.restarts > restarts:
			ph.fig.RestartedInPlace++
		}
	}
	ph.fig.Final = c.cnt
	ph.fig.Series = append(ph.fig.Series, PodPoint{T: c.Clock.Since(ph.start).Seconds(), PodCounts: c.cnt})
	c.ph = nil
	return ph.fig
}

// Wait samples the pods every second (the phase's series and the progress
// line, prefixed by label) until the phase is done, it has run for
// timeout (--phase-timeout) since start, or ctx ends.
func (c *WorkloadPods) Wait(ctx context.Context, clk clock.WithTicker, con *Console, label string, want int, start time.Time, timeout time.Duration) error {
	done := c.Done()
	t := clk.NewTimer(start.Add(timeout).Sub(clk.Now()))
	defer t.Stop()
	tick := clk.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("interrupted after %s", clk.Since(start).Round(time.Second))
		case <-t.C():
			n := c.Counts()
			return fmt.Errorf("not done within --phase-timeout %s: %d of %d pods updated, %d available, %d live, %d terminating",
				timeout, n.Updated, want, n.Available, n.Live, n.Terminating)
		case <-tick.C():
			n := c.Sample()
			el := clk.Since(start)
			rate := float64(n.Updated) / max(el.Seconds(), 0.001)
			eta := "-"
			if n.Updated > 0 && n.Updated < want {
				eta = (time.Duration(float64(want-n.Updated) / rate * float64(time.Second))).Round(time.Second).String()
			}
			con.Progress(fmt.Sprintf("%s: updated %d/%d | available %d | live %d | terminating %d | %.0f pods/s | %s | ETA %s",
				label, n.Updated, want, n.Available, n.Live, n.Terminating, rate, el.Round(time.Second), eta))
		}
	}
}

// Settle waits (at most two minutes) until the pods a phase deleted are
// gone, so that the next phase's requests and counts are its own.
func (c *WorkloadPods) Settle(ctx context.Context, clk clock.WithTicker, con *Console) {
	deadline := clk.Now().Add(2 * time.Minute)
	tick := clk.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for c.Counts().Terminating > 0 && clk.Now().Before(deadline) {
		con.Progress(fmt.Sprintf("waiting for %d terminating pods to go before the next phase", c.Counts().Terminating))
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
	con.EndProgress()
}

// WaitGone waits (at most timeout, the --phase-timeout) until no pod is
// live or terminating, as after the workload's deletion, and returns how
// long that took; whose names the pods in progress and errors ("the
// Advanced DaemonSet's agents").
func (c *WorkloadPods) WaitGone(ctx context.Context, clk clock.WithTicker, con *Console, whose string, timeout time.Duration) (float64, error) {
	start := clk.Now()
	tick := clk.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		n := c.Counts()
		if n.Live+n.Terminating == 0 {
			break
		}
		if clk.Since(start) > timeout {
			return 0, fmt.Errorf("%s were not gone within --phase-timeout %s: %d live, %d terminating", whose, timeout, n.Live, n.Terminating)
		}
		con.Progress(fmt.Sprintf("waiting for %s to go: %d live, %d terminating | %s", whose, n.Live, n.Terminating, clk.Since(start).Round(time.Second)))
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("interrupted after %s", clk.Since(start).Round(time.Second))
		case <-tick.C():
		}
	}
	con.EndProgress()
	return clk.Since(start).Seconds(), nil
}
