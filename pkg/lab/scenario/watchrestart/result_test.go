package watchrestart

import (
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

func TestWatchRestartFailsWithoutARestartOrDisruption(t *testing.T) {
	quiet := []WatcherReport{{Bookmarks: true, Held: 5}, {Bookmarks: false, Held: 5}}
	res := BuildResult(Input{Info: lab.RunInfo{StoppedEarly: "creating objects: quota exceeded"}, Watchers: quiet})
	if res.Verdict.Pass || !strings.Contains(res.Verdict.Reasons[0], "quota exceeded") {
		t.Errorf("verdict %+v; want a failure that starts with where it stopped", res.Verdict)
	}
	at := time.Now()
	res = BuildResult(Input{Watchers: quiet, RestartAt: &at})
	if res.Verdict.Pass || !strings.Contains(strings.Join(res.Verdict.Reasons, ";"), "no data") {
		t.Errorf("verdict %+v; want 'no data' when no watcher was disrupted", res.Verdict)
	}
	if res.RelistRatio != nil || res.On.ResentFraction != nil {
		t.Errorf("ratio %v from no disrupted watcher; want none", res.RelistRatio)
	}
}

// One half disrupted and the other not (its connections were all on
// another API server) leaves the comparison without one of its figures:
// the run fails with no data for that half rather than passing.
func TestWatchRestartFailsWhenOneHalfWasNotDisrupted(t *testing.T) {
	at := time.Now()
	ws := []WatcherReport{
		{Bookmarks: true, Held: 5, Disrupted: true, RecoverySeconds: lab.Some(0.5)},
		{Bookmarks: false, Held: 5},
	}
	res := BuildResult(Input{Watchers: ws, RestartAt: &at})
	reasons := strings.Join(res.Verdict.Reasons, ";")
	if res.Verdict.Pass || !strings.Contains(reasons, "no data") || !strings.Contains(reasons, "without bookmarks") {
		t.Fatalf("verdict %+v; want no data for the watchers without bookmarks", res.Verdict)
	}
	if strings.Contains(reasons, "with bookmarks was") {
		t.Errorf("reasons %q blame the half that was measured", reasons)
	}
	// Both halves disrupted and back: a pass.
	ws[1].Disrupted, ws[1].Relisted, ws[1].RecoverySeconds = true, true, lab.Some(1.0)
	ws[1].After.ListItems = 5
	res = BuildResult(Input{Watchers: ws, RestartAt: &at})
	if !res.Verdict.Pass || res.Off.Disrupted != 1 || res.On.Disrupted != 1 {
		t.Errorf("verdict %+v, arms %d/%d disrupted; want a pass with one each", res.Verdict, res.On.Disrupted, res.Off.Disrupted)
	}
	if rows := res.Rows(); rows[len(rows)-1][1] != "0.0%" {
		t.Errorf("last row %v; want the relist ratio 0.0%%", rows[len(rows)-1])
	}
}
