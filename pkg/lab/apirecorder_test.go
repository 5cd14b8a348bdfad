package lab

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// apiServerMetrics serves an API server's /metrics: n POSTs of pods so
// far, half of them slow, and 5,000 stored objects. down makes it fail.
func apiServerMetrics(n *atomic.Int64, down *atomic.Bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		c := n.Load()
		l := `component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"`
		var b strings.Builder
		b.WriteString("# TYPE apiserver_request_duration_seconds histogram\n")
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_bucket{%s,le=\"0.1\"} %d\n", l, c/2)
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_bucket{%s,le=\"1\"} %d\n", l, c)
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", l, c)
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_sum{%s} 1\napiserver_request_duration_seconds_count{%s} %d\n", l, l, c)
		fmt.Fprintf(&b, "# TYPE apiserver_request_total counter\napiserver_request_total{verb=\"POST\"} %d\n", c)
		b.WriteString("# TYPE apiserver_resource_objects gauge\napiserver_resource_objects{group=\"\",resource=\"pods\"} 4000\n")
		b.WriteString("apiserver_resource_objects{group=\"\",resource=\"secrets\"} 1000\napiserver_resource_objects{group=\"\",resource=\"leases\"} -1\n")
		b.WriteString("# TYPE apiserver_storage_size_bytes gauge\napiserver_storage_size_bytes{storage_cluster_id=\"x\"} 1.048576e+07\n")
		_, _ = w.Write([]byte(b.String()))
	}))
}

func TestAPIRecorderIntervalsAndFailures(t *testing.T) {
	var n atomic.Int64
	var down atomic.Bool
	srv := apiServerMetrics(&n, &down)
	defer srv.Close()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	sc, err := NewScraper("kube-apiserver", srv.URL, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	r := &APIRecorder{APIServers: []*Scraper{sc}, Interval: 10 * time.Second, Clock: clk}
	ctx := context.Background()

	first := r.Snapshot(ctx)
	if first.Latencies == nil || *first.Objects != 5000 || *first.EtcdDBBytes != 10<<20 {
		t.Fatalf("first snapshot = %+v, want latencies, 5000 objects (the -1 skipped), 10 MiB", first)
	}
	n.Store(200)
	clk.Step(10 * time.Second)
	second := r.Snapshot(ctx)
	pts := r.Points()
	if len(pts) != 1 || *pts[0].RequestsPerSecond != 20 {
		t.Fatalf("points = %+v, want one interval at 20 requests/s", pts)
	}
	// Half the 200 POSTs were slow: p99 interpolates to 0.982s.
	if p99 := pts[0].VerbP99["POST"]; p99 < 0.98 || p99 > 0.99 {
		t.Errorf("POST p99 = %g, want ~0.982", p99)
	}
	if d := second.Latencies.Sub(first.Latencies); len(d) != 1 {
		t.Errorf("phase difference = %+v, want the POST pods series", d)
	}

	down.Store(true)
	clk.Step(10 * time.Second)
	third := r.Snapshot(ctx)
	if third.Latencies != nil || third.Requests != nil || third.Objects != nil {
		t.Errorf("a failed scrape must not carry the last figures over (a phase ending there would look measured), got %+v", third)
	}
	if errs := r.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "503") {
		t.Errorf("errors = %v, want the 503 once", errs)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	r.Snapshot(cancelled)
	if len(r.Errors()) != 1 {
		t.Errorf("a scrape cut short by the run's end is no error: %v", r.Errors())
	}
}

// A boundary scrape that fails while the API server is saturated costs
// one interval: the boundary takes the last good scrape at or before it,
// and every window edge keeps the last good scrape at or before it.
func TestAPIRecorderBoundariesUseTheLastGoodScrape(t *testing.T) {
	var n atomic.Int64
	var down atomic.Bool
	srv := apiServerMetrics(&n, &down)
	defer srv.Close()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	sc, err := NewScraper("kube-apiserver", srv.URL, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	r := &APIRecorder{APIServers: []*Scraper{sc}, Interval: 10 * time.Second, Clock: clk, Window: time.Minute}
	ctx := context.Background()
	posts := func(s APISnapshot) float64 {
		return s.Latencies[APIKey{Verb: "POST", Resource: "pods", Scope: "resource"}].Count
	}

	start := r.OpenWindows(ctx)
	if posts(start) != 0 || !start.At.Equal(t0) {
		t.Fatalf("start = %+v, want the scrape at t0", start)
	}
	// Periodic scrapes every 10s; the API server stops answering after 50s.
	for s := 10; s <= 90; s += 10 {
		clk.SetTime(t0.Add(time.Duration(s) * time.Second))
		n.Store(int64(s))
		down.Store(s > 50)
		r.Snapshot(ctx)
	}
	// The phase ends at 95s, its own scrape failing too.
	clk.SetTime(t0.Add(95 * time.Second))
	n.Store(95)
	grid, end := r.CloseWindows(ctx)
	if end.Latencies == nil || posts(end) != 50 || !end.At.Equal(t0.Add(50*time.Second)) {
		t.Fatalf("end = %v at %s, want the last good scrape (50 POSTs at 50s)", end.Latencies, end.At.Sub(t0))
	}
	// The edge at 60s keeps the 50s scrape, not nothing.
	if len(grid) != 1 || posts(grid[0]) != 50 || !grid[0].At.Equal(t0.Add(50*time.Second)) {
		t.Errorf("grid = %+v, want one edge (60s) with the 50s scrape", grid)
	}
}
