package longread

import (
	"strings"
	"testing"
)

// A phase kind that repeats gets a number, so each phase of the report
// and result.json has a name of its own.
func TestPhaseNamesAreDistinct(t *testing.T) {
	got := strings.Join(PhaseNames([]string{"baseline", "list-cache", "baseline", "list-cache", "baseline"}), ",")
	if want := "baseline,list-cache,baseline-2,list-cache-2,baseline-3"; got != want {
		t.Errorf("PhaseNames = %s; want %s", got, want)
	}
}
