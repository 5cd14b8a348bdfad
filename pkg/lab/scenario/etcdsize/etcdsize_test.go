package etcdsize

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/labtest"
)

// closable is a fake store the scenario can close.
type closable struct {
	fakeEtcd
	closed bool
}

func (c *closable) Close() { c.closed = true }

func testScenario(t *testing.T) (*Scenario, map[string]*closable) {
	o := Defaults()
	o.OutDir, o.DBSize, o.Duration, o.Workers, o.CompactEvery, o.SampleEvery = t.TempDir(), "16Mi", time.Minute, 2, time.Second, time.Second
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	s := New(o)
	started := map[string]*closable{}
	s.start = func(_ clock.Clock, dir, fl string, _ int64) (store, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		st := &closable{}
		started[fl] = st
		return st, nil
	}
	s.diskFree = func(string) (uint64, error) { return 100 << 30, nil }
	return s, started
}

// Side by side, both members grow until the first reaches the target;
// the other stops with it. Each is closed and its data removed.
func TestRunGrowsBothFreelistsSideBySide(t *testing.T) {
	s, started := testScenario(t)
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	stop := labtest.AutoStep(clk, 100*time.Millisecond, 200*time.Microsecond)
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}).(*Result)
	stop()
	if !res.Verdict.Pass || len(res.Runs) != 2 {
		t.Fatalf("verdict %+v, %d runs; want a pass with map and array", res.Verdict, len(res.Runs))
	}
	reasons := map[string]bool{}
	for _, run := range res.Runs {
		reasons[run.StopReason] = true
		if run.Puts == 0 || run.Put.Count != run.Puts || len(run.Bands) == 0 {
			t.Errorf("%s: %d puts, %d timed, %d bands; want puts timed in bands", run.Freelist, run.Puts, run.Put.Count, len(run.Bands))
		}
		if run.StopReason == StopTarget && run.DBBytes < 16<<20 {
			t.Errorf("%s stopped at the target with %d bytes", run.Freelist, run.DBBytes)
		}
	}
	if !reasons[StopTarget] || len(reasons) > 2 || (len(reasons) == 2 && !reasons[StopPartner]) {
		t.Errorf("stop reasons %v; want the target reached and (maybe) the partner stopped with it", reasons)
	}
	for fl, st := range started {
		if !st.closed {
			t.Errorf("%s member not closed", fl)
		}
		if _, err := os.Stat(s.o.dir(fl)); !os.IsNotExist(err) {
			t.Errorf("%s data kept without --keep-data: %v", fl, err)
		}
	}
	if res.DiskFreeStart != 100<<30 || !res.SideBySide {
		t.Errorf("disk free %d, side by side %v", res.DiskFreeStart, res.SideBySide)
	}
}

// One after the other, a member that cannot start stops the run; the
// freelists that never ran are no data, and the run fails saying why.
func TestRunWhoseMemberDoesNotStartHasNoData(t *testing.T) {
	s, _ := testScenario(t)
	s.o.SideBySide = false
	start := s.start
	s.start = func(clk clock.Clock, dir, fl string, target int64) (store, error) {
		if fl == "array" {
			return nil, errors.New("etcd not ready within 1m")
		}
		return start(clk, dir, fl, target)
	}
	clk := testingclock.NewFakeClock(time.Now())
	stop := labtest.AutoStep(clk, 100*time.Millisecond, 200*time.Microsecond)
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(io.Discard)}).(*Result)
	stop()
	reasons := strings.Join(res.Verdict.Reasons, ";")
	if res.Verdict.Pass || len(res.Runs) != 1 || !strings.Contains(reasons, "stopped early: array freelist: etcd not ready") ||
		!strings.Contains(reasons, "no data: array freelist: put latency (its run did not happen)") {
		t.Errorf("verdict %+v, %d runs; want the map run kept and no data for array", res.Verdict, len(res.Runs))
	}
}

// A run that recorded no put has no latency to compare: no data, a
// failure, whatever stopped it.
func TestRunWithoutPutsIsNoData(t *testing.T) {
	runs := []Run{{Freelist: "map", StopReason: StopDuration, Seconds: 60}, {Freelist: "array", StopReason: StopPartner, Puts: 10, Put: lab.SummarizeLatencies([]float64{0.01})}}
	res := BuildResult(Input{Freelists: []string{"map", "array"}, Runs: runs})
	if res.Verdict.Pass || !strings.Contains(strings.Join(res.Verdict.Reasons, ";"), "no data: map freelist: put latency (no put succeeded in 1m0s)") {
		t.Errorf("verdict %+v; want no data for the map run", res.Verdict)
	}
	// A planned freelist missing from the runs, with no stop recorded, is
	// no data too.
	res = BuildResult(Input{Freelists: []string{"map", "array"}, Runs: runs[1:]})
	if res.Verdict.Pass || !strings.Contains(strings.Join(res.Verdict.Reasons, ";"), "no data: map freelist") {
		t.Errorf("verdict %+v; want no data for the missing map run", res.Verdict)
	}
}
