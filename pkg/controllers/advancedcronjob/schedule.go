package advancedcronjob

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // spec.timeZone names must resolve on hosts without zoneinfo

	"github.com/robfig/cron/v3"
)

// ParseSchedule parses spec.schedule (five fields or a descriptor such as
// @hourly) read in spec.timeZone, or in the manager's local zone when that
// is unset, with the rules of upstream CronJob: a schedule may carry its
// own TZ= or CRON_TZ= prefix only when timeZone is unset.
func ParseSchedule(schedule string, timeZone *string) (cron.Schedule, error) {
	s := strings.TrimSpace(schedule)
	if timeZone != nil {
		if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
			return nil, fmt.Errorf("schedule %q carries a time zone and spec.timeZone is set; use one of them", schedule)
		}
		if _, err := time.LoadLocation(*timeZone); err != nil {
			return nil, fmt.Errorf("unknown time zone %q: %w", *timeZone, err)
		}
		s = "CRON_TZ=" + *timeZone + " " + s
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("unparsable schedule %q: %w", schedule, err)
	}
	return sched, nil
}

// mostRecent returns the latest schedule time in (earliest, now], and
// whether more than one such time was missed. A schedule is scanned from
// a window before now that doubles until it holds a time or reaches
// earliest, so a job last run a year ago with a per-minute schedule costs a
// few iterations, not half a million.
func mostRecent(sched cron.Schedule, earliest, now time.Time) (t time.Time, many bool) {
	t1 := sched.Next(earliest)
	if t1.IsZero() || t1.After(now) {
		return time.Time{}, false
	}
	t2 := sched.Next(t1)
	if t2.IsZero() || t2.After(now) {
		return t1, false
	}
	for window := t2.Sub(t1); ; window *= 2 {
		from := now.Add(-window)
		if !from.After(earliest) {
			from = earliest
		}
		var last time.Time
		for s := sched.Next(from); !s.IsZero() && !s.After(now); s = sched.Next(s) {
			last = s
		}
		if !last.IsZero() || from.Equal(earliest) {
			return last, true
		}
	}
}
