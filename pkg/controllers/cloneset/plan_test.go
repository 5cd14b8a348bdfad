package cloneset

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// world is a toy cluster for makePlan: created pods become available after
// startSteps passes, in-place updated pods after one.
type world struct {
	t      *testing.T
	pods   []*simPod
	next   int
	now    time.Time
	inPlce bool // every old pod is in-place eligible
}

type simPod struct {
	m        *member
	ready    int // passes until available
	inFlight bool
}

const startSteps = 2

func newWorld(t *testing.T, n int, rev string, inPlace bool) *world {
	w := &world{t: t, now: time.Unix(1e9, 0), inPlce: inPlace}
	for range n {
		w.add(rev, 0)
	}
	return w
}

func (w *world) add(rev string, ready int) {
	w.next++
	w.now = w.now.Add(time.Second)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name:              fmt.Sprintf("p%03d", w.next),
		CreationTimestamp: metav1.NewTime(w.now),
		Labels:            map[string]string{},
		Annotations:       map[string]string{},
	}}
	pod.Spec.NodeName = "n"
	pod.Status.Phase = corev1.PodRunning
	w.pods = append(w.pods, &simPod{m: &member{pod: pod, revision: rev}, ready: ready})
}

// input classifies the pods as the controller does.
func (w *world) input(in planInput) planInput {
	in.members = nil
	for _, p := range w.pods {
		p.m.available = p.ready == 0
		p.m.inFlight = false
		p.m.update = updateRecreate
		if w.inPlce {
			p.m.update = updateInPlace
		}
		if p.ready == 0 {
			p.m.pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		} else {
			p.m.pod.Status.Conditions = nil
		}
		in.members = append(in.members, p.m)
	}
	return in
}

// step runs one pass and applies it, then lets time pass.
func (w *world) step(in planInput) plan {
	p := makePlan(w.input(in))
	for _, rev := range p.create {
		w.add(rev, startSteps)
	}
	gone := map[*member]bool{}
	for _, m := range p.delete {
		gone[m] = true
	}
	kept := w.pods[:0]
	for _, sp := range w.pods {
		if !gone[sp.m] {
			kept = append(kept, sp)
		}
	}
	w.pods = kept
	for _, m := range p.inPlace {
		for _, sp := range w.pods {
			if sp.m == m {
				m.revision = in.updateRevision
				sp.ready = 1
			}
		}
	}
	return p
}

func (w *world) tick() {
	for _, sp := range w.pods {
		if sp.ready > 0 {
			sp.ready--
		}
	}
}

func (w *world) count(rev string) (total, atRev, available int) {
	for _, sp := range w.pods {
		total++
		if sp.m.revision == rev {
			atRev++
		}
		if sp.ready == 0 {
			available++
		}
	}
	return
}

// rollout runs passes until nothing changes, checking the availability
// floor after every pass, and returns how many pods were created.
func (w *world) rollout(in planInput) (created int) {
	w.t.Helper()
	start, _, _ := w.count(in.updateRevision)
	for pass := 0; pass < 500; pass++ {
		p := w.step(in)
		created += len(p.create)
		_, _, avail := w.count(in.updateRevision)
		if floor := min(start, in.replicas) - in.maxUnavailable; avail < floor {
			w.t.Fatalf("pass %d: %d pods available, below replicas-maxUnavailable = %d", pass, avail, floor)
		}
		if len(p.create)+len(p.delete)+len(p.inPlace) == 0 && w.settled() {
			return created
		}
		w.tick()
	}
	w.t.Fatal("rollout did not converge in 500 passes")
	return 0
}

func (w *world) settled() bool {
	for _, sp := range w.pods {
		if sp.ready > 0 {
			return false
		}
	}
	return true
}

func TestPlanRollouts(t *testing.T) {
	cases := []struct {
		name                   string
		replicas, partition    int
		maxUnavailable, surge  int
		inPlace                bool
		wantUpdated, wantTotal int
		maxCreated             int // -1: not checked
	}{
		{name: "recreate", replicas: 10, maxUnavailable: 2, wantUpdated: 10, wantTotal: 10, maxCreated: 10},
		{name: "recreate with surge and no unavailability", replicas: 10, surge: 3, wantUpdated: 10, wantTotal: 10, maxCreated: 10},
		{name: "recreate with surge and unavailability", replicas: 10, maxUnavailable: 2, surge: 2, wantUpdated: 10, wantTotal: 10, maxCreated: 10},
		{name: "partition holds old pods", replicas: 10, partition: 4, maxUnavailable: 3, wantUpdated: 6, wantTotal: 10, maxCreated: 6},
		{name: "in place creates nothing", replicas: 10, maxUnavailable: 3, inPlace: true, wantUpdated: 10, wantTotal: 10, maxCreated: 0},
		{name: "in place ignores maxSurge", replicas: 10, maxUnavailable: 1, surge: 5, inPlace: true, wantUpdated: 10, wantTotal: 10, maxCreated: 0},
		{name: "partition equals replicas", replicas: 5, partition: 5, maxUnavailable: 1, wantUpdated: 0, wantTotal: 5, maxCreated: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.replicas, "v1", tc.inPlace)
			in := planInput{
				replicas: tc.replicas, partition: tc.partition,
				maxUnavailable: tc.maxUnavailable, maxSurge: tc.surge,
				scaleMaxUnavailable: -1,
				updateRevision:      "v2", createRevision: "v1",
			}
			if in.maxUnavailable == 0 && in.maxSurge == 0 {
				in.maxUnavailable = 1
			}
			created := w.rollout(in)
			total, updated, avail := w.count("v2")
			if total != tc.wantTotal || updated != tc.wantUpdated || avail != total {
				t.Fatalf("got %d pods, %d updated, %d available; want %d, %d, all", total, updated, avail, tc.wantTotal, tc.wantUpdated)
			}
			if created > tc.maxCreated {
				t.Fatalf("created %d pods, want at most %d", created, tc.maxCreated)
			}
		})
	}
}

func TestPlanPaused(t *testing.T) {
	w := newWorld(t, 3, "v1", false)
	in := planInput{replicas: 5, maxUnavailable: 1, scaleMaxUnavailable: -1, paused: true, updateRevision: "v2", createRevision: "v1"}
	w.rollout(in)
	total, updated, _ := w.count("v2")
	// Scaling goes on while paused; new pods take the update revision, as
	// with no partition every pod should be at it.
	if total != 5 || updated != 2 {
		t.Fatalf("paused: %d pods, %d updated; want 5 pods, the 2 new ones updated", total, updated)
	}
}

func TestPlanScaleUpKeepsPartition(t *testing.T) {
	w := newWorld(t, 4, "v1", false)
	in := planInput{replicas: 10, partition: 5, maxUnavailable: 2, scaleMaxUnavailable: -1, updateRevision: "v2", createRevision: "v1"}
	p := w.step(in)
	var at2 int
	for _, r := range p.create {
		if r == "v2" {
			at2++
		}
	}
	if len(p.create) != 6 || at2 != 5 {
		t.Fatalf("created %v; want 6 pods, 5 at v2 (10-5) and 1 at v1 for the partition", p.create)
	}
}

func TestPlanScaleMaxUnavailable(t *testing.T) {
	w := newWorld(t, 2, "v1", false)
	in := planInput{replicas: 10, maxUnavailable: 1, scaleMaxUnavailable: 3, updateRevision: "v1", createRevision: "v1"}
	for pass := 0; pass < 50; pass++ {
		w.step(in)
		total, _, avail := w.count("v1")
		if total-avail > 3 {
			t.Fatalf("pass %d: %d pods unavailable while scaling, cap is 3", pass, total-avail)
		}
		w.tick()
	}
	if total, _, _ := w.count("v1"); total != 10 {
		t.Fatalf("got %d pods, want 10", total)
	}
}

func TestPlanScaleDownOrder(t *testing.T) {
	w := newWorld(t, 6, "v2", false)
	pods := w.pods
	pods[0].m.revision = "v1" // one old pod, above the partition of 0
	pods[3].m.pod.Annotations[podDeletionCostAnnotation] = "-100"
	pods[4].ready = 1 // not ready
	in := planInput{replicas: 3, maxUnavailable: 1, scaleMaxUnavailable: -1, updateRevision: "v2", createRevision: "v2"}
	p := makePlan(w.input(in))
	var got []string
	for _, m := range p.delete {
		got = append(got, m.pod.Name)
	}
	want := []string{"p001", "p005", "p004"} // old first, then not ready, then lowest cost
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
}

func TestPlanSpecifiedDeleteIsReplaced(t *testing.T) {
	w := newWorld(t, 3, "v1", false)
	w.pods[1].m.specifiedDelete = true
	in := planInput{replicas: 3, maxUnavailable: 1, scaleMaxUnavailable: -1, updateRevision: "v1", createRevision: "v1"}
	p := w.step(in)
	if len(p.delete) != 1 || p.delete[0].pod.Name != "p002" || len(p.create) != 0 {
		t.Fatalf("plan deletes %d, creates %d; want p002 deleted and its replacement only once it is gone", len(p.delete), len(p.create))
	}
	if p := w.step(in); len(p.create) != 1 {
		t.Fatalf("after p002 is gone the plan creates %d pods, want its replacement", len(p.create))
	}
	if total, _, _ := w.count("v1"); total != 3 {
		t.Fatalf("%d pods, want 3", total)
	}
}

// A pod the preDelete hook holds in PreparingDelete is still one of the
// replicas (OpenKruise's "specific delete a Pod, when
// scalingExcludePreparingDelete is disabled": 3 pods, never 4), unless the
// CloneSet carries the scaling-exclude-preparing-delete label.
func TestPlanHeldForDelete(t *testing.T) {
	w := newWorld(t, 2, "v1", false) // the third pod is held in PreparingDelete
	in := planInput{replicas: 3, maxUnavailable: 1, scaleMaxUnavailable: -1, updateRevision: "v1", createRevision: "v1", heldForDelete: 1}
	if p := makePlan(w.input(in)); len(p.create)+len(p.delete) != 0 {
		t.Fatalf("plan creates %d, deletes %d while a pod is held; want nothing", len(p.create), len(p.delete))
	}
	in.excludeHeldForDelete = true
	if p := makePlan(w.input(in)); len(p.create) != 1 {
		t.Fatalf("with the exclude label the plan creates %d, want the replacement at once", len(p.create))
	}
	// Scaled down to 2 with one held: nothing more is deleted.
	in.replicas, in.excludeHeldForDelete = 2, false
	if p := makePlan(w.input(in)); len(p.delete) != 0 {
		t.Fatalf("plan deletes %d live pods; the held one already makes room", len(p.delete))
	}
}

// A recreate update of a pod the preDelete hook will hold waits for the pod
// to be gone before its replacement is made.
func TestPlanRecreateHeldWaits(t *testing.T) {
	w := newWorld(t, 3, "v1", false)
	in := w.input(planInput{replicas: 3, maxUnavailable: 1, scaleMaxUnavailable: -1, updateRevision: "v2", createRevision: "v1"})
	for _, m := range in.members {
		m.deleteHeld = true
	}
	p := makePlan(in)
	if len(p.delete) != 1 || len(p.create) != 0 || !p.delete[0].recreate {
		t.Fatalf("plan deletes %d, creates %d; want one pod to PreparingDelete, marked as recreated, and no replacement yet", len(p.delete), len(p.create))
	}
}

func TestPlanInPlaceOnlyBlocked(t *testing.T) {
	w := newWorld(t, 3, "v1", false)
	in := w.input(planInput{replicas: 3, maxUnavailable: 1, scaleMaxUnavailable: -1, updateRevision: "v2", createRevision: "v1"})
	for _, m := range in.members {
		m.update = updateImpossible
	}
	p := makePlan(in)
	if p.blocked != 3 || len(p.delete)+len(p.inPlace)+len(p.create) != 0 {
		t.Fatalf("plan %+v; want 3 blocked and nothing done", p)
	}
}

// OpenKruise's "regard preparing-update pod as update when scaling": with a
// partition letting one of two pods update, one old pod held in
// PreparingUpdate by the inPlaceUpdate hook and the other deleted, the
// replacement is created at the old revision.
func TestPlanPreparingUpdateCountsAsUpdated(t *testing.T) {
	held := &member{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "held"}}, revision: "v1", available: false, inFlight: true}
	in := planInput{replicas: 2, partition: 1, maxUnavailable: 1, scaleMaxUnavailable: -1,
		updateRevision: "v2", createRevision: "v1", members: []*member{held}}
	p := makePlan(in)
	if len(p.create) != 1 || p.create[0] != "v1" {
		t.Fatalf("plan creates %v, want one pod at v1 (the held pod is the one being updated)", p.create)
	}
	in.members = []*member{{pod: held.pod, revision: "v1", available: true}}
	if p := makePlan(in); len(p.create) != 1 || p.create[0] != "v2" {
		t.Fatalf("without an update in flight the plan creates %v, want one pod at v2", p.create)
	}
}

// A pod held in PreparingUpdate takes the only update slot the partition
// leaves, even when updateOrder ranks the (unavailable) pod created beside
// it first: that pod stays at the old revision.
func TestPlanInFlightHoldsItsSlot(t *testing.T) {
	held := &member{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "held", CreationTimestamp: metav1.Unix(1, 0)}}, revision: "v1", available: true, inFlight: true}
	fresh := &member{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fresh", CreationTimestamp: metav1.Unix(2, 0)}}, revision: "v1", update: updateInPlace}
	in := planInput{replicas: 2, partition: 1, maxUnavailable: 1, scaleMaxUnavailable: -1,
		updateRevision: "v2", createRevision: "v1", members: []*member{held, fresh}}
	if p := makePlan(in); len(p.inPlace)+len(p.delete)+len(p.create) != 0 {
		t.Fatalf("plan updates %d in place, deletes %d, creates %d; want nothing while the held pod takes the slot", len(p.inPlace), len(p.delete), len(p.create))
	}
}
