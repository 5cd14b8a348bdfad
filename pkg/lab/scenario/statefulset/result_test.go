package statefulset

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/lab"
)

// set plays a StatefulSet's pods as the controller and the simulated
// nodes change them, on a fake clock, feeding the pod figures and the
// unavailability as one pod watch would. pods[i] is ordinal i's pod.
type set struct {
	clk  *clocktesting.FakeClock
	fig  *lab.WorkloadPods
	cov  *lab.Coverage
	pods []*corev1.Pod
	gen  int64
	uids int
}

func newSet(replicas int) *set {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	return &set{clk: clk, fig: lab.NewWorkloadPods(container, clk), cov: lab.NewCoverage(clk, lab.PodName), pods: make([]*corev1.Pod, replicas)}
}

// put delivers ordinal i's pod as it is now, with conds, to both trackers.
func (s *set) put(i int, image string, conds ...corev1.PodCondition) {
	p := s.pods[i].DeepCopy()
	p.Spec.Containers[0].Image = image
	p.Status.Conditions = conds
	s.pods[i] = p
	s.fig.Upsert(p)
	s.cov.OnUpdate(nil, p)
}

// fresh is a new pod at ordinal i running image, not yet Ready.
func (s *set) fresh(i int, image string) {
	s.uids++
	s.pods[i] = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", setName, i), UID: types.UID(fmt.Sprintf("uid-%d", s.uids))},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: container, Image: image}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: container, Image: image}}},
	}
	s.put(i, image, cond(corev1.PodReady, false))
}

func cond(t corev1.PodConditionType, ok bool) corev1.PodCondition {
	if ok {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: t, Status: corev1.ConditionFalse}
}

// phase plays one phase whose write raises the generation and returns it
// as the bench records it, with the status saying done at its end.
func (s *set) phase(kind, image string, play func()) PhaseInput {
	s.gen++
	s.cov.Begin(podNames(len(s.pods)))
	start := s.fig.Begin(image, len(s.pods), s.gen)
	play()
	n := int32(len(s.pods))
	s.fig.ObserveStatus(lab.WorkloadStatus{Generation: s.gen, ObservedGeneration: s.gen, Replicas: n, ReadyReplicas: n, UpdatedReplicas: n, UpdatedReady: n})
	return PhaseInput{Kind: kind, Image: image, Want: len(s.pods), Start: start, End: s.clk.Now(), Pods: s.fig.End(), Coverage: s.cov.End()}
}

// create starts every ordinal at once, Ready a second later.
func (s *set) create(image string) {
	for i := range s.pods {
		s.fresh(i, image)
	}
	s.clk.Step(time.Second)
	for i := range s.pods {
		s.put(i, image, cond(corev1.PodReady, true))
	}
}

// inPlace updates batch ordinals at a time as the controller does in
// place: gate False, image patched, the container restarted, Ready.
func (s *set) inPlace(image string, batch int) {
	for i := 0; i < len(s.pods); i += batch {
		s.clk.Step(time.Second)
		for j := i; j < min(i+batch, len(s.pods)); j++ {
			s.put(j, image, cond(corev1.PodReady, false), cond(pub.InPlaceUpdateReady, false))
		}
		s.clk.Step(time.Second)
		for j := i; j < min(i+batch, len(s.pods)); j++ {
			s.pods[j].Status.ContainerStatuses[0].Image, s.pods[j].Status.ContainerStatuses[0].RestartCount = image, 1
			s.put(j, image, cond(corev1.PodReady, true), cond(pub.InPlaceUpdateReady, true))
		}
	}
}

// recreate replaces batch ordinals at a time: terminating, gone (the
// ordinal missing for a second), created anew under the name, Ready.
func (s *set) recreate(image string, batch int) {
	for i := 0; i < len(s.pods); i += batch {
		s.clk.Step(time.Second)
		for j := i; j < min(i+batch, len(s.pods)); j++ {
			p := s.pods[j].DeepCopy()
			p.DeletionTimestamp = &metav1.Time{Time: s.clk.Now()}
			s.fig.Upsert(p)
			s.cov.OnUpdate(nil, p)
		}
		s.clk.Step(time.Second)
		for j := i; j < min(i+batch, len(s.pods)); j++ {
			s.fig.Delete(s.pods[j].UID)
			s.cov.OnDelete(s.pods[j])
		}
		s.clk.Step(time.Second)
		for j := i; j < min(i+batch, len(s.pods)); j++ {
			s.fresh(j, image)
			s.put(j, image, cond(corev1.PodReady, true))
		}
	}
}

// play runs create, in-place (by inPlace) and recreate on replicas pods,
// batch at a time, under maxUnavailable mu.
func play(replicas, batch int, mu string, inPlace func(s *set, image string, batch int)) *Result {
	s := newSet(replicas)
	in := Input{MaxUnavailable: mu, Images: Images}
	in.Phases = append(in.Phases,
		s.phase(Create, Images[0], func() { s.create(Images[0]) }),
		s.phase(InPlace, Images[1], func() { inPlace(s, Images[1], batch) }),
		s.phase(Recreate, Images[2], func() { s.recreate(Images[2], batch) }))
	return Build(in)
}

func TestRolloutsWithinBudgetPass(t *testing.T) {
	r := play(20, 2, "10%", (*set).inPlace)
	if !r.Verdict.Pass {
		t.Fatalf("verdict: %+v", r.Verdict)
	}
	create, in, re := r.Phases[0], r.Phases[1], r.Phases[2]
	if r.Replicas != 20 || create.Budget != nil || create.MaxUnavailable != 20 || create.UnavailableAtEnd != 0 {
		t.Errorf("creation of %d: budget %v, %d pods unavailable at most, %d at the end; want 20, none, 20, 0", r.Replicas, create.Budget, create.MaxUnavailable, create.UnavailableAtEnd)
	}
	// Ten batches of two, a second to leave and a second to come back.
	if create.Seconds == nil || *create.Seconds != 1 || in.Seconds == nil || *in.Seconds != 20 || re.Seconds == nil || *re.Seconds != 30 {
		t.Errorf("seconds: create %v, in place %v, recreate %v; want 1, 20, 30", create.Seconds, in.Seconds, re.Seconds)
	}
	if in.Recreated != 0 || in.UIDsKept != 20 || in.NamesKept != 20 || in.RestartedInPlace != 20 {
		t.Errorf("in place: %d recreated, %d UIDs kept, %d names kept, %d restarted in place; want 0, 20, 20, 20", in.Recreated, in.UIDsKept, in.NamesKept, in.RestartedInPlace)
	}
	if re.Recreated != 20 || re.UIDsKept != 0 || re.NamesKept != 20 || re.Created != 20 {
		t.Errorf("recreate: %d recreated, %d UIDs kept, %d names kept, %d created; want 20, 0, 20, 20", re.Recreated, re.UIDsKept, re.NamesKept, re.Created)
	}
	for _, p := range []Phase{in, re} {
		if p.Budget == nil || *p.Budget != 2 || !p.Judged || p.MaxUnavailable != 2 {
			t.Errorf("%s: at most %d pods unavailable, budget %v (judged %v); want 2 of 2, judged", p.Kind, p.MaxUnavailable, p.Budget, p.Judged)
		}
	}
	// A missing ordinal counts: during the recreation's second second the
	// two pods are gone, not terminating.
	if c := r.Comparison; c.RecreateOverInPlace == nil || *c.RecreateOverInPlace != 1.5 {
		t.Errorf("recreate / in place %v, want 1.5", c.RecreateOverInPlace)
	}
	if pg := r.Page(); len(pg.Charts) < 3 || pg.Charts[0].Empty || len(pg.Bars) != 2 {
		t.Errorf("report has %d charts, %d bar charts; want each rollout's pods unavailable first, and the bars", len(pg.Charts), len(pg.Bars))
	}
}

func TestRolloutOverBudgetFails(t *testing.T) {
	r := play(20, 3, "10%", (*set).inPlace)
	if r.Verdict.Pass {
		t.Fatal("3 pods at a time under maxUnavailable 10% of 20 passed")
	}
	want := "phase 2 (in-place) had 3 pods unavailable at once (1.0s after the write); maxUnavailable 10% allows 2"
	if !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), want) {
		t.Errorf("reasons %q lack %q", r.Verdict.Reasons, want)
	}
}

func TestInPlaceThatLostUIDsFails(t *testing.T) {
	r := play(10, 1, "1", (*set).recreate)
	if r.Verdict.Pass {
		t.Fatal("an in-place rollout that recreated every pod passed")
	}
	if got := r.Phases[1]; got.Recreated != 10 || got.UIDsKept != 0 || got.NamesKept != 10 {
		t.Errorf("in place: %d recreated, %d UIDs kept, %d names kept; want 10, 0, 10", got.Recreated, got.UIDsKept, got.NamesKept)
	}
	if !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "phase 2 (in-place) recreated 10 pods; an image-only change must keep every pod") {
		t.Errorf("reasons %q do not say the in-place rollout recreated pods", r.Verdict.Reasons)
	}
}

// The upstream rollout is shown against its own budget but not judged by
// it, and a dropped maxUnavailable is said, not compared silently.
func TestUpstreamBudgetIsStated(t *testing.T) {
	s := newSet(10)
	in := Input{MaxUnavailable: "20%", UpstreamMaxUnavailable: "1", Images: Images}
	in.Phases = append(in.Phases,
		s.phase(UpstreamCreate, Images[0], func() { s.create(Images[0]) }),
		s.phase(Upstream, Images[1], func() { s.recreate(Images[1], 2) }))
	r := Build(in)
	if !r.Verdict.Pass {
		t.Fatalf("an upstream rollout beyond its budget failed the run: %+v", r.Verdict)
	}
	up := r.Phases[1]
	if up.Budget == nil || *up.Budget != 1 || up.Judged || up.MaxUnavailable != 2 {
		t.Errorf("upstream: at most %d unavailable, budget %v, judged %v; want 2, 1, not judged", up.MaxUnavailable, up.Budget, up.Judged)
	}
	notes := strings.Join(r.Notes, "\n")
	if r.UpstreamMaxUnavailable != "1" || !strings.Contains(notes, "Unequal budgets") || !strings.Contains(notes, "MaxUnavailableStatefulSet") {
		t.Errorf("upstream maxUnavailable %q, notes %q: want 1 and the unequal budgets said", r.UpstreamMaxUnavailable, notes)
	}
}

func TestUnfinishedPhaseFailsAndSaysWhere(t *testing.T) {
	s := newSet(5)
	in := Input{MaxUnavailable: "1", Images: Images}
	in.Phases = append(in.Phases, s.phase(Create, Images[0], func() { s.create(Images[0]) }))
	s.cov.Begin(podNames(5))
	start := s.fig.Begin(Images[1], 5, 2)
	s.put(0, Images[1], cond(corev1.PodReady, false), cond(pub.InPlaceUpdateReady, false))
	s.clk.Step(3 * time.Second)
	in.Phases = append(in.Phases, PhaseInput{Kind: InPlace, Image: Images[1], Want: 5, Start: start, End: s.clk.Now(),
		Pods: s.fig.End(), Coverage: s.cov.End(), Err: "not done within --phase-timeout 3s: 0 of 5 pods updated"})
	in.Skipped = []string{"phase 3 (recreate): phase 2 (in-place) did not finish"}
	r := Build(in)
	if r.Verdict.Pass || r.Phases[1].Done {
		t.Fatalf("an unfinished phase passed: %+v", r.Verdict)
	}
	reasons := strings.Join(r.Verdict.Reasons, "\n")
	if !strings.Contains(reasons, "phase 2 (in-place) stopped: not done within --phase-timeout 3s") || !strings.Contains(reasons, "1 pods unavailable") {
		t.Errorf("reasons %q do not say where the phase stopped", reasons)
	}
	if !strings.Contains(strings.Join(r.Verdict.Warnings, "\n"), "not run: phase 3 (recreate)") {
		t.Errorf("warnings %q do not name the phase not run", r.Verdict.Warnings)
	}
}
