package batch

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestSlowStartStopsAfterFailingBatch(t *testing.T) {
	var calls atomic.Int32
	n, err := SlowStart(100, func(i int) error {
		calls.Add(1)
		if i == 5 { // in the third batch (3..6)
			return errors.New("refused")
		}
		return nil
	})
	if err == nil || n != 7 || calls.Load() != 7 {
		t.Fatalf("made %d calls (reported %d), err %v; want 7 and the error: batches 1, 2, 4 then stop", calls.Load(), n, err)
	}
	n, err = SlowStart(10, func(int) error { return nil })
	if err != nil || n != 10 {
		t.Fatalf("all succeed: %d, %v", n, err)
	}
}

func TestParallelBoundsAndJoins(t *testing.T) {
	var running, peak atomic.Int32
	err := Parallel(500, func(i int) error {
		cur := running.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		running.Add(-1)
		if i%100 == 0 {
			return errors.New("x")
		}
		return nil
	})
	if peak.Load() > Parallelism {
		t.Fatalf("%d writes at once, bound is %d", peak.Load(), Parallelism)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 5 {
		t.Fatalf("errors %v; want the 5 failures joined", err)
	}
}
