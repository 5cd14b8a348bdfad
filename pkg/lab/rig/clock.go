package rig

import (
	"context"
	"time"

	"k8s.io/utils/clock"
)

// WithTimeout is context.WithTimeout on clk: scenarios read time from
// their injected clock only, so a phase's end moves with a test's fake
// clock.
func WithTimeout(ctx context.Context, clk clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	t := clk.NewTimer(d)
	go func() {
		defer t.Stop()
		select {
		case <-t.C():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
