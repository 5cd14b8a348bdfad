package soak

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// simMetrics is the simulator's exposition after n scrapes of a status-
// mode run: no Lease series ever, and none for status until its first
// patch, which lands after the first scrape.
func simMetrics(n int64) string {
	s := "# TYPE myriad_nodesim_heartbeat_writes_total counter\n# TYPE myriad_nodesim_heartbeat_write_bytes_total counter\n"
	if n > 0 {
		s += fmt.Sprintf("myriad_nodesim_heartbeat_writes_total{kind=\"status\"} %d\nmyriad_nodesim_heartbeat_write_bytes_total{kind=\"status\"} %d\n", 2*n, 800*n)
	}
	return s
}

// The CI failure "NodeStatus / Lease bytes per heartbeat = <nil>": the
// first scrape came before the first NodeStatus patch, so the simulator
// had no heartbeat series yet and the window had no baseline. An answered
// scrape without a series is zero writes of that kind.
func TestStatusWritesCountFromAScrapeBeforeTheFirstWrite(t *testing.T) {
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(simMetrics(scrapes.Add(1) - 1)))
	}))
	defer srv.Close()
	sc, err := lab.NewScraper("nodes", srv.URL, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(t0)
	ticked := make(chan struct{}, 1)
	m := &Meter{Duration: 30 * time.Second, ScrapeInterval: 15 * time.Second, ProgressInterval: 5 * time.Second, Clock: clk,
		Targets: lab.Targets{NodeSim: sc}, ticked: tickedHook(ticked)}
	meas := run(t, clk, ticked, func() Measurement { return m.Measure(context.Background()) })
	res := Build(Input{Info: lab.NewRunInfo(Name, lab.Machine{}, nil, t0), Nodes: 1, Duration: 30 * time.Second, Measurement: &meas, StoppedAt: meas.To, HeartbeatMode: "status"})
	hb := res.Heartbeat
	if hb == nil || hb.BytesPerWrite == nil {
		t.Fatalf("heartbeat writes %+v (missing: %v)", hb, res.Missing)
	}
	if hb.StatusWrites != 4 || *hb.BytesPerWrite != 400 || hb.LeaseWrites != 0 {
		t.Errorf("heartbeat writes %+v, want 4 status writes of 400 B", *hb)
	}
}
