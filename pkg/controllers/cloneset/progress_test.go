package cloneset

import (
	"math"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// progressWorld drives progressing through time as the controller does:
// each observe stores the condition it returns, as the status write would.
type progressWorld struct {
	t     *testing.T
	clock *clocktesting.FakeClock
	spec  v1alpha1.CloneSetSpec
	st    v1alpha1.CloneSetStatus
	cond  *v1alpha1.CloneSetCondition
	left  time.Duration
}

func newProgressWorld(t *testing.T, replicas, deadline int32) *progressWorld {
	return &progressWorld{
		t:     t,
		clock: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		spec:  v1alpha1.CloneSetSpec{Replicas: ptr.To(replicas), ProgressDeadlineSeconds: ptr.To(deadline)},
		st:    v1alpha1.CloneSetStatus{UpdateRevision: "rev-2", CurrentRevision: "rev-1", ExpectedUpdatedReplicas: replicas},
	}
}

// pods sets the counts: total pods, at updateRevision, of those available.
func (w *progressWorld) pods(total, updated, updatedAvailable int32) {
	w.st.Replicas, w.st.UpdatedReplicas, w.st.UpdatedAvailableReplicas = total, updated, updatedAvailable
	if updated == *w.spec.Replicas && total == updated && updatedAvailable == updated {
		w.st.CurrentRevision = w.st.UpdateRevision
	}
}

func (w *progressWorld) observe() {
	w.t.Helper()
	c, left := progressing(w.cond, &w.spec, &w.st, w.clock.Now())
	if c != nil {
		c = c.DeepCopy()
	}
	w.cond, w.left = c, left
}

func (w *progressWorld) want(status corev1.ConditionStatus, reason v1alpha1.CloneSetConditionReason, msg string) {
	w.t.Helper()
	if w.cond == nil {
		w.t.Fatalf("no Progressing condition; want %s/%s", status, reason)
	}
	if w.cond.Type != v1alpha1.CloneSetConditionTypeProgressing || w.cond.Status != status || w.cond.Reason != string(reason) || w.cond.Message != msg {
		w.t.Fatalf("condition %s/%s %q; want %s/%s %q", w.cond.Status, w.cond.Reason, w.cond.Message, status, reason, msg)
	}
}

func TestProgressDeadlineExceededWithoutProgress(t *testing.T) {
	w := newProgressWorld(t, 3, 60)
	w.pods(1, 1, 0)
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetProgressUpdated, "CloneSet is progressing")
	if w.left != time.Minute {
		t.Fatalf("requeue after %v, want the whole deadline (1m)", w.left)
	}
	started := w.cond.LastUpdateTime

	// Pods come up but the CloneSet never settles: progress on the way
	// does not move the deadline, and the requeue lands on it.
	w.clock.Step(40 * time.Second)
	w.pods(3, 3, 2)
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetProgressUpdated, "CloneSet is progressing")
	if !w.cond.LastUpdateTime.Equal(&started) || w.left != 20*time.Second {
		t.Fatalf("lastUpdateTime %v requeue %v; want %v kept and 20s to the deadline", w.cond.LastUpdateTime, w.left, started)
	}
	w.clock.Step(w.left)
	w.observe()
	w.want(corev1.ConditionFalse, v1alpha1.CloneSetProgressDeadlineExceeded, "CloneSet revision rev-2 has timed out progressing")
	if w.left != 0 || !w.cond.LastTransitionTime.Time.Equal(w.clock.Now()) {
		t.Fatalf("requeue %v lastTransitionTime %v; want no requeue and the transition now", w.left, w.cond.LastTransitionTime)
	}

	// Exceeded stays exceeded while still unsettled, however long.
	w.clock.Step(time.Hour)
	w.observe()
	w.want(corev1.ConditionFalse, v1alpha1.CloneSetProgressDeadlineExceeded, "CloneSet revision rev-2 has timed out progressing")

	// Settling ends it.
	w.pods(3, 3, 3)
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetAvailable, "CloneSet is available")
}

func TestProgressDeadlineExcludesSettledAndPausedTime(t *testing.T) {
	w := newProgressWorld(t, 2, 60)
	w.pods(2, 2, 2)
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetAvailable, "CloneSet is available")

	// A day later a new revision rolls out: the deadline counts from now,
	// not from when the CloneSet became available.
	w.clock.Step(24 * time.Hour)
	w.st.UpdateRevision = "rev-3"
	w.pods(2, 0, 0)
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetProgressUpdated, "CloneSet is progressing")
	if !w.cond.LastUpdateTime.Time.Equal(w.clock.Now()) || w.left != time.Minute {
		t.Fatalf("lastUpdateTime %v requeue %v; want now and the whole deadline", w.cond.LastUpdateTime, w.left)
	}

	// Paused for an hour, then resumed: the hour does not count.
	w.clock.Step(30 * time.Second)
	w.spec.UpdateStrategy.Paused = true
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetProgressPaused, "CloneSet is paused")
	w.clock.Step(time.Hour)
	w.spec.UpdateStrategy.Paused = false
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetProgressUpdated, "CloneSet is progressing")
	if w.left != time.Minute {
		t.Fatalf("requeue %v after resuming; want the whole deadline again", w.left)
	}
}

func TestProgressPartitionAvailable(t *testing.T) {
	w := newProgressWorld(t, 4, 60)
	w.spec.UpdateStrategy.Partition = ptr.To(intstr.FromString("99%"))
	w.st.ExpectedUpdatedReplicas = 1 // replicas - partitionCount(99%, 4)
	w.pods(4, 1, 0)
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetProgressUpdated, "CloneSet is progressing")
	w.clock.Step(10 * time.Second)
	w.pods(4, 1, 1)
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetProgressPartitionAvailable, "CloneSet has been paused due to partition ready")
	if w.left != 0 {
		t.Fatalf("requeue %v at the partition; want none", w.left)
	}
	// Long at the partition, then the partition is lowered: a fresh deadline.
	w.clock.Step(time.Hour)
	w.st.ExpectedUpdatedReplicas = 4
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetProgressUpdated, "CloneSet is progressing")
}

func TestProgressTransitionTimes(t *testing.T) {
	w := newProgressWorld(t, 1, 60)
	w.pods(1, 0, 0)
	w.observe()
	first := w.cond.LastTransitionTime
	w.clock.Step(5 * time.Second)
	w.pods(1, 1, 1)
	w.observe()
	w.want(corev1.ConditionTrue, v1alpha1.CloneSetAvailable, "CloneSet is available")
	// True to True: a new reason and update time, the transition kept.
	if !w.cond.LastTransitionTime.Equal(&first) || !w.cond.LastUpdateTime.Time.Equal(w.clock.Now()) {
		t.Fatalf("transition %v update %v; want transition %v kept and update now", w.cond.LastTransitionTime, w.cond.LastUpdateTime, first)
	}
	// Unchanged status and reason: the stored condition, times and all.
	stored := *w.cond
	w.clock.Step(time.Minute)
	w.observe()
	if *w.cond != stored {
		t.Fatalf("condition %+v rewritten; want %+v as stored", *w.cond, stored)
	}
}

func TestProgressWithoutDeadline(t *testing.T) {
	for _, d := range []*int32{nil, ptr.To[int32](math.MaxInt32)} {
		w := newProgressWorld(t, 1, 60)
		w.spec.ProgressDeadlineSeconds = d
		w.cond = &v1alpha1.CloneSetCondition{Type: v1alpha1.CloneSetConditionTypeProgressing, Status: corev1.ConditionTrue, Reason: string(v1alpha1.CloneSetAvailable)}
		w.pods(1, 0, 0)
		w.observe()
		if w.cond != nil || w.left != 0 {
			t.Errorf("deadline %v: condition %+v requeue %v; want the condition removed and no requeue", d, w.cond, w.left)
		}
	}
}

// computeStatus keeps the Progressing condition in status and asks for a
// requeue when the deadline will pass, so no timer of its own is needed.
func TestComputeStatusProgressing(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cs := &v1alpha1.CloneSet{}
	cs.Generation = 2
	cs.Spec.Replicas = ptr.To[int32](2)
	cs.Spec.ProgressDeadlineSeconds = ptr.To[int32](30)
	cs.Status.Conditions = []v1alpha1.CloneSetCondition{{Type: v1alpha1.CloneSetConditionFailedScale, Status: corev1.ConditionTrue}}
	pod := &corev1.Pod{}
	pod.Name = "web-a"
	pod.Labels = map[string]string{pub.ControllerRevisionHashLabelKey: "rev-2"}
	ps := &pass{cs: cs, revs: &revisions{update: "rev-2", current: "rev-1"}, res: resolve(cs), now: clk.Now(),
		sel: labels.Everything(), pods: []*corev1.Pod{pod}, members: []*member{{pod: pod, revision: "rev-2"}}}
	st := ps.computeStatus()
	var got *v1alpha1.CloneSetCondition
	for i := range st.Conditions {
		switch st.Conditions[i].Type {
		case v1alpha1.CloneSetConditionTypeProgressing:
			got = &st.Conditions[i]
		case v1alpha1.CloneSetConditionFailedScale:
			t.Errorf("FailedScale kept though this pass had no scale errors")
		}
	}
	if got == nil || got.Reason != string(v1alpha1.CloneSetProgressUpdated) || !got.LastUpdateTime.Time.Equal(clk.Now()) {
		t.Fatalf("Progressing %+v, want CloneSetUpdated from now", got)
	}
	if ps.requeueAfter != 30*time.Second {
		t.Fatalf("requeue after %v, want the deadline, 30s", ps.requeueAfter)
	}
}
