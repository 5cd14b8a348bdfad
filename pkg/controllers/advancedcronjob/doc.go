// Package advancedcronjob is Myriad's AdvancedCronJob controller:
// OpenKruise's apps.kruise.io AdvancedCronJob (stored as v1beta1), which
// creates a batch/v1 Job or a BroadcastJob on a cron schedule.
//
// Decide is a pure function of the AdvancedCronJob, the jobs it owns and
// the clock: which schedule time (if any) gets a job now, which running
// jobs Replace deletes, which finished jobs fall out of the history limits,
// the status, and when the next schedule time falls. The controller runs
// it, carries the plan out and requeues for the next time; it never starts
// a goroutine or timer per object.
//
// A schedule time gets at most one job, ever. A job's name is derived from
// its schedule time (name-<unix seconds>, as OpenKruise), so a pass working
// from a stale cache gets AlreadyExists instead of a duplicate; and
// status.lastScheduleTime records the latest time handled, and no time at
// or before it is considered again, so a job removed by its TTL or by
// history cleanup is never re-created for the same time (kruise#862,
// #1488, #2213).
package advancedcronjob
