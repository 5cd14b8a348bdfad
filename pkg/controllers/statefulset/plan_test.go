package statefulset

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// running is a ready, available pod at the given ordinal.
func running(set string, o int, updated bool) Pod {
	return Pod{Name: PodName(set, o), Ordinal: o, Updated: updated, Ready: true, ReadySince: t0.Add(-time.Hour), InPlaceOK: true}
}

func base(replicas int, pods ...Pod) Input {
	return Input{Now: t0, Replicas: replicas, RollingUpdate: true, MaxUnavailable: 1, StuckAfter: time.Minute, Pods: pods}
}

func ordinals(cs []Create) []int {
	var out []int
	for _, c := range cs {
		out = append(out, c.Ordinal)
	}
	return out
}

func names(us []Update) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}

func TestDesiredOrdinals(t *testing.T) {
	got := DesiredOrdinals(4, 2, map[int]bool{3: true, 5: true, 6: true})
	if want := []int{2, 4, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("ordinals %v, want %v", got, want)
	}
	if ClaimName("data", "db", 3) != "data-db-3" || PodName("db", 3) != "db-3" {
		t.Errorf("names %q %q", ClaimName("data", "db", 3), PodName("db", 3))
	}
}

func TestOrderedReadyScalesOneAtATime(t *testing.T) {
	in := base(3)
	if got := ordinals(MakePlan(in).Create); !slices.Equal(got, []int{0}) {
		t.Fatalf("empty set creates %v, want only [0]", got)
	}
	starting := running("db", 0, true)
	starting.Ready = false
	in.Pods = []Pod{starting}
	if got := MakePlan(in).Create; len(got) != 0 {
		t.Fatalf("created %v while db-0 is not ready", got)
	}
	in.Pods = []Pod{running("db", 0, true)}
	if got := ordinals(MakePlan(in).Create); !slices.Equal(got, []int{1}) {
		t.Fatalf("creates %v once db-0 is ready, want [1]", got)
	}
}

func TestParallelCreatesAllWithinScaleMaxUnavailable(t *testing.T) {
	in := base(5)
	in.Parallel = true
	if got := ordinals(MakePlan(in).Create); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("parallel creates %v", got)
	}
	in.ScaleMaxUnavailable = 2
	if got := ordinals(MakePlan(in).Create); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("scaleStrategy.maxUnavailable 2 creates %v, want [0 1]", got)
	}
}

func TestReserveOrdinalsMovesThePod(t *testing.T) {
	in := base(3, running("db", 0, true), running("db", 1, true), running("db", 2, true))
	in.Reserved = map[int]bool{1: true}
	p := MakePlan(in)
	if got := ordinals(p.Create); !slices.Equal(got, []int{3}) {
		t.Errorf("creates %v, want [3] (replicas stay 3)", got)
	}
	// OrderedReady waits for db-3 before deleting the reserved db-1.
	if len(p.Delete) != 0 {
		t.Errorf("deleted %v before db-3 exists", p.Delete)
	}
	in.Pods = append(in.Pods, running("db", 3, true))
	if p := MakePlan(in); !slices.Equal(p.Delete, []string{"db-1"}) {
		t.Errorf("deletes %v, want [db-1]", p.Delete)
	}
}

func TestScaleDownHighestFirst(t *testing.T) {
	pods := []Pod{running("db", 0, true), running("db", 1, true), running("db", 2, true), running("db", 3, true)}
	in := base(2, pods...)
	if p := MakePlan(in); !slices.Equal(p.Delete, []string{"db-3"}) {
		t.Errorf("OrderedReady deletes %v, want [db-3]", p.Delete)
	}
	in.Parallel = true
	if p := MakePlan(in); !slices.Equal(p.Delete, []string{"db-3", "db-2"}) {
		t.Errorf("Parallel deletes %v, want [db-3 db-2]", p.Delete)
	}
}

func TestPartitionHoldsLowOrdinals(t *testing.T) {
	var pods []Pod
	for o := range 5 {
		pods = append(pods, running("db", o, false))
	}
	in := base(5, pods...)
	in.Partition = 3
	in.MaxUnavailable = 5
	p := MakePlan(in)
	if got := names(p.Update); !slices.Equal(got, []string{"db-4", "db-3"}) {
		t.Errorf("updates %v, want [db-4 db-3]: ordinals below the partition keep the current revision", got)
	}
	// A pod created below the partition starts at the current revision.
	in.Pods = pods[1:]
	for _, c := range MakePlan(in).Create {
		if c.Ordinal == 0 && c.Updated {
			t.Errorf("db-0 recreated at the update revision under partition 3")
		}
	}
}

func TestMaxUnavailableNeverExceeded(t *testing.T) {
	for _, parallel := range []bool{false, true} {
		var pods []Pod
		for o := range 6 {
			pods = append(pods, running("db", o, false))
		}
		pods[1].Ready = false // already unavailable: takes one of the three
		in := base(6, pods...)
		in.Parallel = parallel
		in.MaxUnavailable = 3
		p := MakePlan(in)
		taken := 0
		for _, u := range p.Update {
			if u.Name != "db-1" {
				taken++
			}
		}
		if taken != 2 {
			t.Errorf("parallel=%v: updates %v take %d available pods down, want 2 (maxUnavailable 3, one already down)", parallel, names(p.Update), taken)
		}
		if got := names(p.Update); got[0] != "db-5" {
			t.Errorf("parallel=%v: update starts at %v, want the highest ordinal", parallel, got)
		}
	}
}

func TestUpdatePolicies(t *testing.T) {
	pods := []Pod{running("db", 0, false), running("db", 1, false)}
	pods[1].InPlaceOK = false
	in := base(2, pods...)
	in.MaxUnavailable = 2
	in.Policy = InPlaceIfPossible
	want := []Update{{Name: "db-1"}, {Name: "db-0", InPlace: true}}
	if got := MakePlan(in).Update; !reflect.DeepEqual(got, want) {
		t.Errorf("InPlaceIfPossible %v, want %v", got, want)
	}
	in.Policy = InPlaceOnly
	if got := MakePlan(in).Update; !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("InPlaceOnly %v, want only the in-place one %v", got, want[1:])
	}
	in.Paused = true
	if got := MakePlan(in).Update; len(got) != 0 {
		t.Errorf("paused still updates %v", got)
	}
}

func TestUnorderedUpdateByPriority(t *testing.T) {
	pods := []Pod{running("db", 0, false), running("db", 1, false), running("db", 2, false)}
	pods[0].Priority = []int64{10}
	in := base(3, pods...)
	in.Parallel, in.Unordered = true, true
	if got := names(MakePlan(in).Update); !slices.Equal(got, []string{"db-0"}) {
		t.Errorf("unordered update %v, want the highest priority db-0 first", got)
	}
}

func TestStuckTerminatingPod(t *testing.T) {
	dying := running("db", 1, true)
	dying.Deleting, dying.DeleteBy = true, t0.Add(-30*time.Second)
	in := base(4, running("db", 0, true), dying)
	p := MakePlan(in)
	if len(p.Create) != 0 || len(p.Stuck) != 0 {
		t.Fatalf("within StuckAfter: creates %v, stuck %v; want a wait", p.Create, p.Stuck)
	}
	if p.RequeueAfter != 30*time.Second {
		t.Errorf("requeue after %v, want 30s (when it would count as stuck)", p.RequeueAfter)
	}
	in.Now = t0.Add(time.Minute)
	in.Pods[0].ReadySince = t0
	p = MakePlan(in)
	if !slices.Equal(p.Stuck, []string{"db-1"}) {
		t.Errorf("stuck %v, want [db-1]", p.Stuck)
	}
	if got := ordinals(p.Create); !slices.Equal(got, []int{2}) {
		t.Errorf("creates %v past the stuck pod, want [2]", got)
	}
	in.Parallel = true
	in.Now = t0
	if got := ordinals(MakePlan(in).Create); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("Parallel creates %v, want [2 3]: a terminating pod never holds others back", got)
	}
}

func TestStatusAndMinReadySeconds(t *testing.T) {
	fresh := running("db", 1, true)
	fresh.ReadySince = t0.Add(-4 * time.Second)
	old := running("db", 0, false)
	in := base(2, old, fresh)
	in.MinReadySeconds = 10 * time.Second
	p := MakePlan(in)
	want := Status{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, CurrentReplicas: 1, UpdatedReplicas: 1, UpdatedReadyReplicas: 1}
	if p.Status != want {
		t.Errorf("status %+v, want %+v", p.Status, want)
	}
	if p.RequeueAfter != 6*time.Second {
		t.Errorf("requeue after %v, want 6s (db-1 becomes available)", p.RequeueAfter)
	}
	if len(p.Update) != 0 {
		t.Errorf("updated %v while db-1 is not yet available (maxUnavailable 1)", names(p.Update))
	}
}

// A pod labelled apps.kruise.io/specified-delete is deleted (and made anew)
// under maxUnavailable, below the partition too, and not also updated.
func TestSpecifiedDelete(t *testing.T) {
	marked := func(o int) Pod {
		p := running("db", o, false)
		p.SpecifiedDelete = true
		return p
	}
	in := base(4, marked(0), running("db", 1, false), marked(2), running("db", 3, false))
	in.Partition = 4 // nothing to roll
	if got := MakePlan(in).Delete; !slices.Equal(got, []string{"db-0"}) {
		t.Fatalf("deletes %v, want only db-0 (maxUnavailable 1)", got)
	}
	in.MaxUnavailable, in.Partition = 3, 2
	p := MakePlan(in)
	if !slices.Equal(p.Delete, []string{"db-0", "db-2"}) || !slices.Equal(names(p.Update), []string{"db-3"}) {
		t.Fatalf("deletes %v updates %v, want db-0 and db-2 deleted, db-3 updated", p.Delete, names(p.Update))
	}
	in.Paused = true
	if got := MakePlan(in).Delete; len(got) != 0 {
		t.Fatalf("a paused rollout deletes %v", got)
	}
}

// OpenKruise's (and upstream's) "Scaling should happen in predictable
// order and halt if any stateful pod is unhealthy".
func TestScaleDownHaltsOnUnhealthyPods(t *testing.T) {
	pods := func(ready ...bool) []Pod {
		var out []Pod
		for o, r := range ready {
			p := running("db", o, true)
			p.Ready = r
			out = append(out, p)
		}
		return out
	}
	for _, c := range []struct {
		ready []bool
		want  []string
	}{
		{[]bool{false, false, false}, nil},            // all unhealthy: halt
		{[]bool{true, true, false}, []string{"db-2"}}, // the target is the first unhealthy pod
		{[]bool{false, true, true}, []string{"db-2"}}, // the target is healthy
		{[]bool{true, false, false}, nil},             // db-1 below the target is unhealthy
	} {
		in := base(0, pods(c.ready...)...)
		if got := MakePlan(in).Delete; !slices.Equal(got, c.want) {
			t.Errorf("ready %v, scaled to 0: deletes %v, want %v", c.ready, got, c.want)
		}
		in.Parallel = true
		if got := MakePlan(in).Delete; len(got) != 3 {
			t.Errorf("ready %v, Parallel: deletes %v, want all three", c.ready, got)
		}
	}
}
