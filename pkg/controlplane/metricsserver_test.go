package controlplane

import (
	"testing"
	"time"
)

func TestMetricsResolutionAndTimeout(t *testing.T) {
	for _, c := range []struct {
		nodes               int
		resolution, timeout time.Duration
	}{
		{10, 15 * time.Second, 10 * time.Second},
		{2500, 15 * time.Second, 10 * time.Second},
		{5000, 30 * time.Second, 15 * time.Second},
		{10000, 60 * time.Second, 30 * time.Second},
	} {
		res := MetricsResolution(c.nodes)
		if res != c.resolution || KubeletRequestTimeout(res) != c.timeout {
			t.Errorf("%d nodes: resolution %s, timeout %s; want %s, %s", c.nodes, res, KubeletRequestTimeout(res), c.resolution, c.timeout)
		}
	}
	// metrics-server refuses a timeout of 90% of the resolution or more.
	for res := 10 * time.Second; res <= 5*time.Minute; res += time.Second {
		if to := KubeletRequestTimeout(res); to >= res*9/10 || to <= 0 {
			t.Errorf("resolution %s: timeout %s", res, to)
		}
	}
}
