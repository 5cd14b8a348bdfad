package supervisor

import "time"

// crashLoop decides what follows a child's exit: how long to wait before
// the next start, or to give up. It is pure (the caller passes how long
// the incarnation ran) so the policy is tested without processes.
//
// The backoff doubles from First to Max and resets after Healthy of good
// running, as kubelet's container restart back-off does. A child that
// exits within Healthy of its start MaxCrashes times in a row is crash
// looping: restarting it forever would hide the failure from `myriad up`,
// so the supervisor gives up and reports it instead.
type crashLoop struct {
	First, Max, Healthy time.Duration
	MaxCrashes          int

	backoff time.Duration
	crashes int
}

func newCrashLoop(maxCrashes int) *crashLoop {
	return &crashLoop{First: time.Second, Max: 30 * time.Second, Healthy: time.Minute, MaxCrashes: maxCrashes}
}

// exited records one exit after ranFor and returns the wait before the
// next start, or giveUp.
func (l *crashLoop) exited(ranFor time.Duration) (wait time.Duration, giveUp bool) {
	if ranFor >= l.Healthy || l.backoff == 0 {
		l.backoff, l.crashes = l.First, 0
	}
	if ranFor < l.Healthy {
		l.crashes++
	}
	if l.MaxCrashes > 0 && l.crashes >= l.MaxCrashes {
		return 0, true
	}
	wait = l.backoff
	l.backoff = min(2*l.backoff, l.Max)
	return wait, false
}
