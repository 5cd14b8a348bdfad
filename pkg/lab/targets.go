package lab

// Metric names other instruments read. The simulator's are defined in
// pkg/nodesim/metrics.go; the others are upstream's.
const (
	metricSimLease    = "myriad_nodesim_lease_renew_duration_seconds"
	metricAPIRequest  = "apiserver_request_duration_seconds"
	metricAPIRequests = "apiserver_request_total"
	metricEtcdDBSize  = "etcd_mvcc_db_total_size_in_bytes"
	// maxScrapeErrorsKept bounds the distinct scrape failures a result
	// keeps.
	maxScrapeErrorsKept = 20
)

// leaseWrites selects Lease renewals among the API server's requests.
var leaseWrites = map[string]string{"verb": "PUT", "resource": "leases"}

// Targets are the metrics endpoints of the cluster under test. Any may be
// nil (e.g. an existing cluster whose etcd is out of reach); the report
// then says the figure is absent.
type Targets struct {
	NodeSim    *Scraper
	APIServers []*Scraper
	Etcd       *Scraper
}

// AddHistograms adds two histograms with the same bucket layout; false
// when the layouts differ.
func AddHistograms(a, b Histogram) (Histogram, bool) { return addHistograms(a, b) }

// addHistograms adds two histograms with the same bucket layout.
func addHistograms(a, b Histogram) (Histogram, bool) {
	if len(a.Buckets) != len(b.Buckets) {
		return a, false
	}
	out := Histogram{Count: a.Count + b.Count, Sum: a.Sum + b.Sum, Buckets: make([]Bucket, len(a.Buckets))}
	for i := range a.Buckets {
		if a.Buckets[i].UpperBound != b.Buckets[i].UpperBound {
			return a, false
		}
		out.Buckets[i] = Bucket{UpperBound: a.Buckets[i].UpperBound, Cumulative: a.Buckets[i].Cumulative + b.Buckets[i].Cumulative}
	}
	return out, true
}

func valuePtr(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}
