package advancedcronjob

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// created is when the test's AdvancedCronJob was created.
var created = time.Date(2026, 12, 4, 12, 0, 30, 0, time.UTC)

func at(hms string) time.Time {
	t, err := time.Parse(time.RFC3339, "2026-12-04T"+hms+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

func newACJ(mut ...func(*v1beta1.AdvancedCronJob)) *v1beta1.AdvancedCronJob {
	a := &v1beta1.AdvancedCronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "default", UID: "acj-uid",
		CreationTimestamp: metav1.NewTime(created)}}
	a.Spec.Schedule = "*/1 * * * *"
	a.Spec.Template.BroadcastJobTemplate = &v1beta1.BroadcastJobTemplateSpec{}
	for _, m := range mut {
		m(a)
	}
	return a
}

func lastRun(t time.Time) func(*v1beta1.AdvancedCronJob) {
	return func(a *v1beta1.AdvancedCronJob) { a.Status.LastScheduleTime = &metav1.Time{Time: t} }
}

func child(t time.Time, finished, failed bool) Child {
	return Child{Kind: "BroadcastJob", Name: ChildName("nightly", t), UID: types.UID("u-" + ChildName("nightly", t)),
		Scheduled: t, Finished: finished, Failed: failed}
}

func TestDecideCreatesOncePerScheduleTime(t *testing.T) {
	a := newACJ()
	if p := Decide(a, nil, at("12:00:59")); !p.Create.IsZero() || p.RequeueAfter != time.Second {
		t.Fatalf("before the first time: create %v requeue %v", p.Create, p.RequeueAfter)
	}
	p := Decide(a, nil, at("12:01:00"))
	if !p.Create.Equal(at("12:01:00")) || !p.Status.LastScheduleTime.Time.Equal(at("12:01:00")) ||
		p.RequeueAfter != time.Minute || p.Status.Type != v1beta1.BroadcastJobTemplate {
		t.Fatalf("at the first time: create %v status %+v requeue %v", p.Create, p.Status, p.RequeueAfter)
	}
	if got, want := ChildName(a.Name, p.Create), fmt.Sprintf("nightly-%d", at("12:01:00").Unix()); got != want {
		t.Errorf("child name %q, want %q", got, want)
	}

	// The job ran and its TTL removed it (or history cleanup did): the
	// same time is never run again (kruise#862, #1488, #2213).
	a.Status = p.Status
	if p := Decide(a, nil, at("12:01:40")); !p.Create.IsZero() {
		t.Errorf("re-created the 12:01 job after it was removed: %v", p.Create)
	}
	// The status write had not reached the cache, but the job had.
	stale := newACJ()
	if p := Decide(stale, []Child{child(at("12:01:00"), false, false)}, at("12:01:05")); !p.Create.IsZero() {
		t.Errorf("created twice for 12:01 from a stale status: %v", p.Create)
	}
	// The next minute runs.
	if p := Decide(a, nil, at("12:02:00")); !p.Create.Equal(at("12:02:00")) {
		t.Errorf("12:02: create %v", p.Create)
	}
}

func TestDecideMissedRuns(t *testing.T) {
	// Down for a year: one run, the latest, found without scanning a year
	// of minutes.
	a := newACJ(lastRun(created.AddDate(-1, 0, 0)))
	start := time.Now()
	if p := Decide(a, nil, at("12:30:10")); !p.Create.Equal(at("12:30:00")) {
		t.Errorf("after a year: create %v, want 12:30:00", p.Create)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("finding the latest missed run took %v", d)
	}
	// startingDeadlineSeconds: a run later than the deadline is skipped.
	a = newACJ(lastRun(at("12:05:00")), func(a *v1beta1.AdvancedCronJob) { a.Spec.StartingDeadlineSeconds = ptr.To[int64](30) })
	if p := Decide(a, nil, at("12:10:45")); !p.Create.IsZero() || p.RequeueAfter != 15*time.Second {
		t.Errorf("45s late with a 30s deadline: create %v requeue %v", p.Create, p.RequeueAfter)
	}
	if p := Decide(a, nil, at("12:10:20")); !p.Create.Equal(at("12:10:00")) {
		t.Errorf("20s late with a 30s deadline: create %v", p.Create)
	}
}

func TestDecideConcurrencyPolicy(t *testing.T) {
	running := child(at("12:01:00"), false, false)
	for _, c := range []struct {
		policy     v1beta1.ConcurrencyPolicy
		wantCreate bool
		wantDelete []string
	}{
		{"", true, nil},
		{v1beta1.AllowConcurrent, true, nil},
		{v1beta1.ForbidConcurrent, false, nil},
		{v1beta1.ReplaceConcurrent, true, []string{running.Name}},
	} {
		a := newACJ(lastRun(at("12:01:00")), func(a *v1beta1.AdvancedCronJob) { a.Spec.ConcurrencyPolicy = c.policy })
		p := Decide(a, []Child{running}, at("12:02:00"))
		var deleted []string
		for _, d := range p.Delete {
			deleted = append(deleted, d.Name)
		}
		if !p.Create.IsZero() != c.wantCreate || fmt.Sprint(deleted) != fmt.Sprint(c.wantDelete) {
			t.Errorf("%q: create %v delete %v", c.policy, p.Create, deleted)
		}
		if len(p.Status.Active) != 1 || p.Status.Active[0].Name != running.Name || p.Status.Active[0].APIVersion != "apps.kruise.io/v1beta1" {
			t.Errorf("%q: active %+v", c.policy, p.Status.Active)
		}
		if c.policy == v1beta1.ForbidConcurrent {
			if p.EventReason != "JobAlreadyActive" || p.Status.LastScheduleTime.Time != at("12:01:00") {
				t.Errorf("Forbid: event %q lastScheduleTime %v", p.EventReason, p.Status.LastScheduleTime)
			}
			// The running job ends within the minute: the held run starts.
			done := running
			done.Finished = true
			if p := Decide(a, []Child{done}, at("12:02:20")); !p.Create.Equal(at("12:02:00")) {
				t.Errorf("Forbid after the running job ended: create %v", p.Create)
			}
		}
	}
}

func TestDecideHistoryLimits(t *testing.T) {
	var children []Child
	for i := range 5 {
		children = append(children, child(at(fmt.Sprintf("12:0%d:00", i+1)), true, false))
	}
	for i := range 3 {
		children = append(children, child(at(fmt.Sprintf("11:5%d:00", i)), true, true))
	}
	children = append(children, child(at("12:06:00"), false, false))
	a := newACJ(lastRun(at("12:06:00")), func(a *v1beta1.AdvancedCronJob) { a.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](2) })
	p := Decide(a, children, at("12:06:30"))
	var deleted []string
	for _, d := range p.Delete {
		deleted = append(deleted, d.Scheduled.Format("15:04"))
	}
	// Three oldest of five successes (limit 2); two oldest of three
	// failures (default 1); never the running one.
	if got := strings.Join(deleted, " "); got != "12:01 12:02 12:03 11:50 11:51" {
		t.Errorf("deleted %s", got)
	}
}

func TestDecidePausedAndBroken(t *testing.T) {
	a := newACJ(func(a *v1beta1.AdvancedCronJob) { a.Spec.Paused = ptr.To(true) })
	if p := Decide(a, nil, at("12:05:00")); !p.Create.IsZero() || p.RequeueAfter != 0 {
		t.Errorf("paused: create %v requeue %v", p.Create, p.RequeueAfter)
	}
	a = newACJ(func(a *v1beta1.AdvancedCronJob) { a.Spec.Schedule = "every minute" })
	if p := Decide(a, nil, at("12:05:00")); p.Err == nil || !p.Create.IsZero() {
		t.Errorf("bad schedule: err %v create %v", p.Err, p.Create)
	}
}

func TestTimeZone(t *testing.T) {
	// 09:00 in Tokyo is 00:00 UTC.
	a := newACJ(func(a *v1beta1.AdvancedCronJob) {
		a.Spec.Schedule = "0 9 * * *"
		a.Spec.TimeZone = ptr.To("Asia/Tokyo")
		a.CreationTimestamp = metav1.NewTime(at("12:00:00").AddDate(0, 0, -2))
	})
	p := Decide(a, nil, at("12:00:00"))
	if want := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC); !p.Create.Equal(want) {
		t.Errorf("Tokyo 09:00: create %v, want %v", p.Create.UTC(), want)
	}
	if want := 12 * time.Hour; p.RequeueAfter != want {
		t.Errorf("requeue %v, want %v", p.RequeueAfter, want)
	}
}

func TestParseSchedule(t *testing.T) {
	for _, c := range []struct {
		schedule string
		tz       *string
		wantErr  string
	}{
		{schedule: "*/5 * * * *"},
		{schedule: "@hourly"},
		{schedule: "0 3 * * 1-5", tz: ptr.To("America/New_York")},
		{schedule: "CRON_TZ=UTC 0 3 * * *"},
		{schedule: "* * *", wantErr: "unparsable schedule"},
		{schedule: "61 * * * *", wantErr: "unparsable schedule"},
		{schedule: "0 3 * * *", tz: ptr.To("Mars/Olympus"), wantErr: "unknown time zone"},
		{schedule: "TZ=UTC 0 3 * * *", tz: ptr.To("UTC"), wantErr: "use one of them"},
	} {
		_, err := ParseSchedule(c.schedule, c.tz)
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%q: err %v, want %q", c.schedule, err, c.wantErr)
		}
	}
}

func TestNewChild(t *testing.T) {
	a := newACJ(func(a *v1beta1.AdvancedCronJob) {
		a.Spec.Template.BroadcastJobTemplate.Labels = map[string]string{"team": "a"}
		a.Spec.Template.BroadcastJobTemplate.Spec.Paused = true
	})
	obj := NewChild(a, at("12:01:00"))
	b, ok := obj.(*v1beta1.BroadcastJob)
	if !ok || b.Name != ChildName("nightly", at("12:01:00")) || b.Labels["team"] != "a" || !b.Spec.Paused ||
		b.Annotations[v1beta1.ScheduledTimeAnnotation] != "2026-12-04T12:01:00Z" {
		t.Fatalf("broadcastjob child %+v", obj)
	}
	if ref := metav1.GetControllerOf(b); ref == nil || ref.Kind != "AdvancedCronJob" || ref.UID != "acj-uid" {
		t.Fatalf("owner %v", ref)
	}
	if c := broadcastJobChild(b); !c.Scheduled.Equal(at("12:01:00")) || c.Finished {
		t.Errorf("read back %+v", c)
	}

	a.Spec.Template = v1beta1.CronJobTemplate{JobTemplate: &batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](2)}}}
	j, ok := NewChild(a, at("12:02:00")).(*batchv1.Job)
	if !ok || *j.Spec.BackoffLimit != 2 {
		t.Fatalf("job child %+v", j)
	}
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
	delete(j.Annotations, v1beta1.ScheduledTimeAnnotation)
	if c := jobChild(j); !c.Finished || !c.Failed || !c.Scheduled.Equal(at("12:02:00")) {
		t.Errorf("failed job read back %+v (schedule time from the name)", c)
	}
}
