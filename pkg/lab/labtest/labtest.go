// Package labtest holds what scenario tests share: a fake clock that moves
// on by itself whenever the code under test waits on it, so a scenario's
// phases run in milliseconds of wall time. It is imported by tests only.
package labtest

import (
	"sync"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// AutoStep steps clk by step whenever something waits on it (a ticker, a
// timer, an After), checking every poll of wall time, until stop is
// called. Code that waits on several timers at once sees them fire in
// order of their deadlines, as on a real clock.
func AutoStep(clk *testingclock.FakeClock, step, poll time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(poll):
			}
			if clk.HasWaiters() {
				clk.Step(step)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
