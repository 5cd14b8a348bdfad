package advancedcronjob

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// History kept when the limits are unset (OpenKruise's and upstream
// CronJob's defaults).
const (
	defaultSuccessfulJobsHistoryLimit = 3
	defaultFailedJobsHistoryLimit     = 1
)

// Child is one job an AdvancedCronJob owns, Job or BroadcastJob, as Decide
// needs it.
type Child struct {
	Kind, Name string
	UID        types.UID
	// Scheduled is the schedule time it was created for.
	Scheduled time.Time
	// Finished and Failed come from its Complete and Failed conditions.
	Finished, Failed bool
	// Deleting: it has a deletion timestamp.
	Deleting bool
}

// Plan is what one pass does to an AdvancedCronJob.
type Plan struct {
	// Create is the schedule time that gets a job now, or zero.
	Create time.Time
	// Delete are jobs to remove: running ones Replace supersedes, and
	// finished ones beyond the history limits.
	Delete []Child
	// Status is the status after this pass (written only after Create
	// succeeded, for LastScheduleTime).
	Status v1beta1.AdvancedCronJobStatus
	// EventReason and EventMessage explain a skipped run, or are empty.
	EventReason, EventMessage string
	// RequeueAfter is when the next schedule time falls (zero when paused
	// or the schedule is broken).
	RequeueAfter time.Duration
	// Err is a schedule that does not parse; nothing is created.
	Err error
}

// Decide plans one pass at now. children are the jobs the AdvancedCronJob
// owns, as cached.
func Decide(acj *v1beta1.AdvancedCronJob, children []Child, now time.Time) Plan {
	p := Plan{Status: *acj.Status.DeepCopy()}
	st := &p.Status
	st.Type = templateKind(acj)

	// History first: it does not depend on the schedule.
	var succeeded, failed []Child
	st.Active = nil
	var active []Child
	latest := time.Time{}
	for _, c := range children {
		if c.Scheduled.After(latest) {
			latest = c.Scheduled
		}
		switch {
		case c.Deleting:
		case !c.Finished:
			active = append(active, c)
		case c.Failed:
			failed = append(failed, c)
		default:
			succeeded = append(succeeded, c)
		}
	}
	sortChildren(active)
	for _, c := range active {
		st.Active = append(st.Active, corev1.ObjectReference{Kind: c.Kind, APIVersion: apiVersion(c.Kind),
			Namespace: acj.Namespace, Name: c.Name, UID: c.UID})
	}
	p.Delete = append(p.Delete, beyond(succeeded, acj.Spec.SuccessfulJobsHistoryLimit, defaultSuccessfulJobsHistoryLimit)...)
	p.Delete = append(p.Delete, beyond(failed, acj.Spec.FailedJobsHistoryLimit, defaultFailedJobsHistoryLimit)...)

	sched, err := ParseSchedule(acj.Spec.Schedule, acj.Spec.TimeZone)
	if err != nil {
		p.Err = err
		return p
	}
	if acj.Spec.Paused != nil && *acj.Spec.Paused {
		return p
	}
	// Times at or before the last one handled are never considered again,
	// nor those at or before the newest job still around (a status write
	// that has not reached the cache yet).
	earliest := acj.CreationTimestamp.Time
	if t := st.LastScheduleTime; t != nil && t.After(earliest) {
		earliest = t.Time
	}
	if latest.After(earliest) {
		earliest = latest
	}
	if sds := acj.Spec.StartingDeadlineSeconds; sds != nil {
		if from := now.Add(-time.Duration(*sds) * time.Second); from.After(earliest) {
			earliest = from
		}
	}
	if next := sched.Next(now); !next.IsZero() {
		p.RequeueAfter = next.Sub(now)
	}
	t, _ := mostRecent(sched, earliest, now)
	if t.IsZero() {
		return p
	}
	if sds := acj.Spec.StartingDeadlineSeconds; sds != nil && now.Sub(t) > time.Duration(*sds)*time.Second {
		p.EventReason, p.EventMessage = "MissSchedule", fmt.Sprintf("missed the run of %s by more than startingDeadlineSeconds (%ds)", t.UTC().Format(time.RFC3339), *sds)
		return p
	}
	switch acj.Spec.ConcurrencyPolicy {
	case v1beta1.ForbidConcurrent:
		if len(active) > 0 {
			// Like upstream CronJob, the run is held back, not recorded: if
			// the running job ends within startingDeadlineSeconds, it starts
			// late; the next pass looks again then.
			p.EventReason, p.EventMessage = "JobAlreadyActive", fmt.Sprintf("the run of %s waits: %d jobs still running and concurrencyPolicy is Forbid", t.UTC().Format(time.RFC3339), len(active))
			return p
		}
	case v1beta1.ReplaceConcurrent:
		p.Delete = append(active, p.Delete...)
	}
	p.Create = t
	lt := metav1.NewTime(t)
	st.LastScheduleTime = &lt
	return p
}

// ChildName is the name of the job for schedule time t (OpenKruise's
// scheme).
func ChildName(acj string, t time.Time) string {
	return fmt.Sprintf("%s-%d", acj, t.Unix())
}

func templateKind(acj *v1beta1.AdvancedCronJob) v1beta1.TemplateKind {
	switch {
	case acj.Spec.Template.BroadcastJobTemplate != nil:
		return v1beta1.BroadcastJobTemplate
	case acj.Spec.Template.JobTemplate != nil:
		return v1beta1.JobTemplate
	}
	return ""
}

func apiVersion(kind string) string {
	if kind == string(v1beta1.BroadcastJobTemplate) {
		return v1beta1.SchemeGroupVersion.String()
	}
	return "batch/v1"
}

// beyond returns the oldest finished jobs past limit (nil: def).
func beyond(done []Child, limit *int32, def int) []Child {
	keep := def
	if limit != nil {
		keep = int(max(0, *limit))
	}
	if len(done) <= keep {
		return nil
	}
	sortChildren(done)
	return done[:len(done)-keep]
}

func sortChildren(cs []Child) {
	sort.Slice(cs, func(i, j int) bool {
		if !cs[i].Scheduled.Equal(cs[j].Scheduled) {
			return cs[i].Scheduled.Before(cs[j].Scheduled)
		}
		return cs[i].Name < cs[j].Name
	})
}
