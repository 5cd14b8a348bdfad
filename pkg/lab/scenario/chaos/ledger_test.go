package chaos

import (
	"strings"
	"testing"
)

func TestLedgerFindsEveryLostAcknowledgedWrite(t *testing.T) {
	l := NewLedger()
	l.Created("c-1")
	l.Created("c-2")
	l.Updated("u-1", 3)
	l.Updated("u-1", 2) // an older ack arriving late does not lower the bar
	l.Updated("u-2", 5)
	l.Updated("u-3", 1)
	l.Unknown()
	stored := map[string]int64{
		"c-1": 0,
		"u-1": 4, // a later write that timed out landed: fine
		"u-2": 4, // rolled back below an acknowledged write: lost
		"x":   0, // a create whose answer was lost: fine
	}
	lost := l.Check(stored)
	want := []string{
		"c-2: created (acknowledged), missing at the end",
		"u-2: updated to 5 (acknowledged), 4 at the end",
		"u-3: updated to 1 (acknowledged), missing at the end",
	}
	if strings.Join(lost, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lost =\n%s\nwant\n%s", strings.Join(lost, "\n"), strings.Join(want, "\n"))
	}
	if acked, unknown := l.Counts(); acked != 6 || unknown != 1 {
		t.Fatalf("counts = %d acked, %d unknown; want 6, 1", acked, unknown)
	}
}

func TestLedgerWithEverythingStoredLosesNothing(t *testing.T) {
	l := NewLedger()
	l.Created("a")
	l.Updated("b", 7)
	if lost := l.Check(map[string]int64{"a": 0, "b": 7}); len(lost) != 0 {
		t.Fatalf("lost = %v, want none", lost)
	}
}
