package lab

import (
	"strings"
	"testing"
)

// FuzzParseText: whatever a scraped endpoint sends, parsing it and reading
// figures from it answers or fails, never panics; the bench then reports
// a missing figure as no data.
func FuzzParseText(f *testing.F) {
	f.Add("# TYPE apiserver_request_total counter\napiserver_request_total{verb=\"GET\",code=\"200\"} 12\n")
	f.Add("# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n")
	f.Add("x{a=\"b\" 1\n")
	f.Add("# TYPE g gauge\ng NaN\ng{x=\"y\"} -Inf\n")
	f.Fuzz(func(t *testing.T, text string) {
		fams, err := ParseText(strings.NewReader(text))
		if err != nil {
			return
		}
		for name := range fams {
			fams.Value(name, nil)
			fams.Value(name, map[string]string{"verb": "GET"})
			fams.Histogram(name, nil)
		}
	})
}
