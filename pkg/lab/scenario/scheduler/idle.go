package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// idleSettle is how long a scheduler runs on after its last binding before
// its idle window opens: the last pods' status updates (Pending → Running)
// arrive in these seconds, and they are the pods' cost, not the cluster's.
const idleSettle = 10 * time.Second

// measureIdle keeps a scheduler that has bound every pod running for
// --idle-window and returns its CPU rate over that window, in cores: what
// it costs to follow the cluster (node status reports, leases, the runtime)
// with nothing to schedule. A phase's CPU per pod includes that cost for
// as long as the phase lasts, and on a slow API server it lasts long.
// nil, nil when --idle-window is 0.
func (b *bench) measureIdle(ctx context.Context, order, total int, kind string, proc schedProcess) (*float64, error) {
	window := b.o.IdleWindow
	if window <= 0 {
		return nil, nil
	}
	defer b.con.EndProgress()
	if err := b.idleWait(ctx, min(idleSettle, window), func(left time.Duration) string {
		return fmt.Sprintf("phase %d/%d %s: all bound; idle window opens in %s", order, total, kind, left.Round(time.Second))
	}); err != nil {
		return nil, err
	}
	first, err := proc.Sample()
	if err != nil {
		return nil, fmt.Errorf("sample the scheduler: %w", err)
	}
	opened := b.clk.Now()
	if err := b.idleWait(ctx, window, func(left time.Duration) string {
		return fmt.Sprintf("phase %d/%d %s: measuring the idle scheduler's CPU, %s left", order, total, kind, left.Round(time.Second))
	}); err != nil {
		return nil, err
	}
	last, err := proc.Sample()
	if err != nil {
		return nil, fmt.Errorf("sample the scheduler: %w", err)
	}
	if ev := proc.Events(); len(ev) > 0 || last.PID != first.PID {
		return nil, fmt.Errorf("the scheduler exited during its idle window (see %s)", proc.Log())
	}
	secs := b.clk.Since(opened).Seconds()
	if secs <= 0 {
		return nil, fmt.Errorf("idle window of %gs", secs)
	}
	return lab.Some(max(0, last.CPUSeconds-first.CPUSeconds) / secs), nil
}

// idleWait waits d on the bench's clock, showing what line(left) says.
func (b *bench) idleWait(ctx context.Context, d time.Duration, line func(left time.Duration) string) error {
	end := b.clk.Now().Add(d)
	tick := b.clk.NewTicker(time.Second)
	defer tick.Stop()
	timer := b.clk.NewTimer(d)
	defer timer.Stop()
	for {
		b.con.Progress(line(end.Sub(b.clk.Now())))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C():
			return nil
		case <-tick.C():
		}
	}
}
