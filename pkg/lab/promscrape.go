package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scraper reads one Prometheus text endpoint.
type Scraper struct {
	Name   string
	URL    string
	Client *http.Client
}

// NewScraper returns a scraper for url. With caFile set it speaks HTTPS and
// presents certFile/keyFile; otherwise plain HTTP.
func NewScraper(name, url, caFile, certFile, keyFile string) (*Scraper, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	if caFile != "" {
		caPEM, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s scraper: %w", name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%s scraper: no certificate in %s", name, caFile)
		}
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s scraper: %w", name, err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	return &Scraper{Name: name, URL: url, Client: &http.Client{Transport: tr, Timeout: 20 * time.Second}}, nil
}

// Scrape fetches and parses the endpoint once.
func (s *Scraper) Scrape(ctx context.Context) (Families, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, err
	}
	// Ask for the classic text format: it is what expfmt's text parser reads.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("scrape %s: HTTP %d: %s", s.Name, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	f, err := ParseText(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.Name, err)
	}
	return f, nil
}

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// ParseText parses the Prometheus text exposition format.
func ParseText(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// Value sums the counter, gauge or untyped series of name whose labels
// include match. Some "_total" metrics are gauges (etcd's WAL bytes), so the
// type is not checked.
func (f Families) Value(name string, match map[string]string) (float64, bool) {
	mf, ok := f[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range mf.GetMetric() {
		if !labelsMatch(m, match) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		default:
			continue
		}
		found = true
	}
	return sum, found
}

// Histogram adds up every series of the histogram name whose labels include
// match (e.g. verb=PUT, resource=leases over all scopes and versions).
func (f Families) Histogram(name string, match map[string]string) (Histogram, bool) {
	mf, ok := f[name]
	if !ok {
		return Histogram{}, false
	}
	byBound := map[float64]float64{}
	var h Histogram
	found := false
	for _, m := range mf.GetMetric() {
		if m.Histogram == nil || !labelsMatch(m, match) {
			continue
		}
		found = true
		hm := m.GetHistogram()
		h.Count += float64(hm.GetSampleCount())
		h.Sum += hm.GetSampleSum()
		for _, b := range hm.GetBucket() {
			if !math.IsInf(b.GetUpperBound(), +1) {
				byBound[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
		}
	}
	for ub, c := range byBound {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: ub, Cumulative: c})
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].UpperBound < h.Buckets[j].UpperBound })
	return h, found
}

func labelsMatch(m *dto.Metric, match map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if want, ok := match[lp.GetName()]; ok {
			if lp.GetValue() != want {
				return false
			}
			n++
		}
	}
	return n == len(match)
}

// Histogram is a classic Prometheus histogram: cumulative counts per finite
// upper bound, ascending; Count is the +Inf bucket.
type Histogram struct {
	Count   float64
	Sum     float64
	Buckets []Bucket
}

// Bucket is one finite bucket of a Histogram.
type Bucket struct {
	UpperBound float64
	Cumulative float64
}

// Sub returns what was observed between prev and h (two scrapes of the same
// series). If the counts went down the process restarted and h alone is
// what it observed since.
func (h Histogram) Sub(prev Histogram) Histogram {
	if h.Count < prev.Count || len(prev.Buckets) != len(h.Buckets) {
		return h
	}
	d := Histogram{Count: h.Count - prev.Count, Sum: h.Sum - prev.Sum, Buckets: make([]Bucket, len(h.Buckets))}
	for i, b := range h.Buckets {
		if prev.Buckets[i].UpperBound != b.UpperBound {
			return h
		}
		d.Buckets[i] = Bucket{UpperBound: b.UpperBound, Cumulative: b.Cumulative - prev.Buckets[i].Cumulative}
	}
	return d
}

// Quantile estimates the q-quantile (0 <= q <= 1) the way Prometheus'
// histogram_quantile does: find the bucket holding rank q*Count and
// interpolate linearly inside it, taking 0 as the lower edge of the first
// bucket; a rank in the +Inf bucket answers the highest finite bound. It is
// written here rather than imported because the only implementation lives
// inside the Prometheus server (promql), far too large a dependency for
// twenty lines. NaN means nothing was observed.
func (h Histogram) Quantile(q float64) float64 {
	if h.Count <= 0 || len(h.Buckets) == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	q = min(max(q, 0), 1)
	rank := q * h.Count
	// Scrapes race with observations, so cumulative counts may dip; like
	// Prometheus, treat them as monotonic.
	cum := make([]float64, len(h.Buckets))
	for i, b := range h.Buckets {
		cum[i] = b.Cumulative
		if i > 0 {
			cum[i] = max(cum[i], cum[i-1])
		}
	}
	b := sort.Search(len(cum), func(i int) bool { return cum[i] >= rank })
	if b == len(cum) {
		return h.Buckets[len(h.Buckets)-1].UpperBound
	}
	end := h.Buckets[b].UpperBound
	start, below := 0.0, 0.0
	if b > 0 {
		start, below = h.Buckets[b-1].UpperBound, cum[b-1]
	} else if end <= 0 {
		return end
	}
	inBucket := cum[b] - below
	if inBucket <= 0 {
		return start
	}
	return start + (end-start)*(rank-below)/inBucket
}
