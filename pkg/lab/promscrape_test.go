package lab

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hist builds a histogram with bounds 0.1, 0.2, 0.5, 1 and the given
// cumulative counts; count is the +Inf bucket.
func hist(count float64, cum ...float64) Histogram {
	h := Histogram{Count: count}
	for i, ub := range []float64{0.1, 0.2, 0.5, 1} {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: ub, Cumulative: cum[i]})
	}
	return h
}

func TestQuantileInterpolatesLikePrometheus(t *testing.T) {
	// 10 observations <= 0.1, 20 in (0.1,0.2], 60 in (0.2,0.5], 10 in (0.5,1].
	h := hist(100, 10, 30, 90, 100)
	for _, c := range []struct {
		name string
		h    Histogram
		q    float64
		want float64
	}{
		{"p5 in the first bucket interpolates from 0", h, 0.05, 0.05}, // 0 + 0.1*5/10
		{"p50", h, 0.5, 0.3},                          // 0.2 + 0.3*20/60
		{"p99", h, 0.99, 0.95},                        // 0.5 + 0.5*9/10
		{"p100 is the bucket's upper bound", h, 1, 1}, // 0.5 + 0.5*10/10
		{"rank in +Inf answers the highest finite bound", hist(200, 10, 30, 90, 100), 0.99, 1},
		{"dipping counts are treated as monotonic", hist(100, 10, 30, 25, 100), 0.5, 0.5 + 0.5*20/70},
	} {
		if got := c.h.Quantile(c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: Quantile(%g) = %g, want %g", c.name, c.q, got, c.want)
		}
	}
	if got := (Histogram{}).Quantile(0.99); !math.IsNaN(got) {
		t.Errorf("empty histogram: got %g, want NaN", got)
	}
}

func TestHistogramSubIsWhatHappenedBetweenScrapes(t *testing.T) {
	before := hist(20, 5, 10, 20, 20)
	after := hist(120, 15, 40, 110, 120)
	d := after.Sub(before)
	if d.Count != 100 || d.Buckets[2].Cumulative != 90 {
		t.Fatalf("delta = %+v", d)
	}
	if got := d.Quantile(0.5); math.Abs(got-0.3) > 1e-9 {
		t.Errorf("p50 of delta = %g, want 0.3", got)
	}
	// A restart resets counters: what the new process saw is the delta.
	if got := before.Sub(after); got.Count != 20 {
		t.Errorf("after a reset Sub = %+v, want the newer histogram", got)
	}
}

const metricsFixture = `# HELP myriad_nodesim_lease_renew_duration_seconds Latency of one Lease renewal request.
# TYPE myriad_nodesim_lease_renew_duration_seconds histogram
myriad_nodesim_lease_renew_duration_seconds_bucket{le="0.1"} 10
myriad_nodesim_lease_renew_duration_seconds_bucket{le="0.2"} 30
myriad_nodesim_lease_renew_duration_seconds_bucket{le="0.5"} 90
myriad_nodesim_lease_renew_duration_seconds_bucket{le="1"} 100
myriad_nodesim_lease_renew_duration_seconds_bucket{le="+Inf"} 100
myriad_nodesim_lease_renew_duration_seconds_sum 30
myriad_nodesim_lease_renew_duration_seconds_count 100
# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{component="apiserver",group="coordination.k8s.io",resource="leases",scope="namespace",verb="PUT",le="0.1"} 8
apiserver_request_duration_seconds_bucket{component="apiserver",group="coordination.k8s.io",resource="leases",scope="namespace",verb="PUT",le="1"} 9
apiserver_request_duration_seconds_bucket{component="apiserver",group="coordination.k8s.io",resource="leases",scope="namespace",verb="PUT",le="+Inf"} 10
apiserver_request_duration_seconds_sum{component="apiserver",group="coordination.k8s.io",resource="leases",scope="namespace",verb="PUT"} 2
apiserver_request_duration_seconds_count{component="apiserver",group="coordination.k8s.io",resource="leases",scope="namespace",verb="PUT"} 10
apiserver_request_duration_seconds_bucket{component="apiserver",group="coordination.k8s.io",resource="leases",scope="cluster",verb="PUT",le="0.1"} 2
apiserver_request_duration_seconds_bucket{component="apiserver",group="coordination.k8s.io",resource="leases",scope="cluster",verb="PUT",le="1"} 2
apiserver_request_duration_seconds_bucket{component="apiserver",group="coordination.k8s.io",resource="leases",scope="cluster",verb="PUT",le="+Inf"} 2
apiserver_request_duration_seconds_sum{component="apiserver",group="coordination.k8s.io",resource="leases",scope="cluster",verb="PUT"} 0.1
apiserver_request_duration_seconds_count{component="apiserver",group="coordination.k8s.io",resource="leases",scope="cluster",verb="PUT"} 2
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="nodes",scope="cluster",verb="GET",le="0.1"} 500
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="nodes",scope="cluster",verb="GET",le="1"} 500
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="nodes",scope="cluster",verb="GET",le="+Inf"} 500
apiserver_request_duration_seconds_sum{component="apiserver",group="",resource="nodes",scope="cluster",verb="GET"} 5
apiserver_request_duration_seconds_count{component="apiserver",group="",resource="nodes",scope="cluster",verb="GET"} 500
# TYPE etcd_disk_wal_write_bytes_total gauge
etcd_disk_wal_write_bytes_total 1.048576e+06
# TYPE etcd_mvcc_db_total_size_in_bytes gauge
etcd_mvcc_db_total_size_in_bytes 2.097152e+07
`

func TestParseAndSelect(t *testing.T) {
	f, err := ParseText(strings.NewReader(metricsFixture))
	if err != nil {
		t.Fatal(err)
	}
	sim, ok := f.Histogram(metricSimLease, nil)
	if !ok || sim.Count != 100 || len(sim.Buckets) != 4 {
		t.Fatalf("simulator histogram = %+v, %v", sim, ok)
	}
	if got := sim.Quantile(0.99); math.Abs(got-0.95) > 1e-9 {
		t.Errorf("simulator p99 = %g, want 0.95", got)
	}
	// PUT leases over both scopes, GET nodes left out.
	api, ok := f.Histogram(metricAPIRequest, leaseWrites)
	if !ok || api.Count != 12 || api.Buckets[0].Cumulative != 10 {
		t.Fatalf("PUT leases histogram = %+v, %v", api, ok)
	}
	if v, ok := f.Value("etcd_disk_wal_write_bytes_total", nil); !ok || v != 1<<20 {
		t.Errorf("WAL bytes = %g, %v; want 1MiB (a gauge despite _total)", v, ok)
	}
	if _, ok := f.Value("no_such_metric", nil); ok {
		t.Error("a missing metric was reported present")
	}
	if _, ok := f.Histogram(metricAPIRequest, map[string]string{"verb": "DELETE"}); ok {
		t.Error("a histogram with no matching series was reported present")
	}
}

func TestScrapeOverHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(metricsFixture))
	}))
	defer srv.Close()
	s, err := NewScraper("test", srv.URL, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Value(metricEtcdDBSize, nil); !ok {
		t.Error("db size missing after scrape")
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	defer bad.Close()
	s.URL = bad.URL
	if _, err := s.Scrape(context.Background()); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("scrape of a 403 endpoint: err = %v", err)
	}
}
