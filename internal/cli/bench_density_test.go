package cli

import "testing"

func TestBenchDensityScrapesEveryTenSecondsByDefault(t *testing.T) {
	f := newBenchDensityCommand().Flags().Lookup("scrape-interval")
	if f == nil || f.DefValue != "10s" || f.Value.String() != "10s" {
		t.Errorf("--scrape-interval = %v, want 10s by default: a boundary scrape lost under load must cost 10s, not the phase", f)
	}
}
