package supervisor

import (
	"testing"
	"time"
)

func TestCrashLoopBacksOffThenGivesUp(t *testing.T) {
	l := newCrashLoop(5)
	var waits []time.Duration
	for i := 0; i < 4; i++ {
		w, giveUp := l.exited(2 * time.Second)
		if giveUp {
			t.Fatalf("gave up after %d quick exits, want 5", i+1)
		}
		waits = append(waits, w)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	if _, giveUp := l.exited(time.Second); !giveUp {
		t.Fatal("did not give up after the fifth quick exit")
	}
}

// A child that ran for a healthy while starts a fresh count: one crash a
// day is restarted forever, at once.
func TestCrashLoopForgivesHealthyRuns(t *testing.T) {
	l := newCrashLoop(3)
	for i := 0; i < 10; i++ {
		l.exited(time.Second)
		w, giveUp := l.exited(2 * time.Hour)
		if giveUp || w != time.Second {
			t.Fatalf("round %d: wait %v giveUp %v after a healthy run, want 1s and no", i, w, giveUp)
		}
	}
}

func TestCrashLoopBackoffIsCapped(t *testing.T) {
	l := newCrashLoop(0) // never gives up
	var w time.Duration
	for i := 0; i < 20; i++ {
		w, _ = l.exited(0)
	}
	if w != 30*time.Second {
		t.Fatalf("wait after 20 crashes = %v, want the 30s cap", w)
	}
}
