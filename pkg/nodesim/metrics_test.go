package nodesim

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := start(t, Config{Count: 4, Registry: reg})
	h.step(20*time.Second, time.Second)
	h.createPod(podOn("p", "myriad-node-0"))
	h.waitPod("p", "running", running)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			switch {
			case m.Histogram != nil:
				got[mf.GetName()] += float64(m.Histogram.GetSampleCount())
			case m.Counter != nil:
				got[mf.GetName()] += m.Counter.GetValue()
			case m.Gauge != nil && len(m.Label) == 1 && m.Label[0].GetValue() == "failed":
				got[mf.GetName()+"{failed}"] = m.Gauge.GetValue()
			case m.Gauge != nil:
				got[mf.GetName()] += m.Gauge.GetValue()
			}
		}
	}
	for name, min := range map[string]float64{
		"myriad_nodesim_lease_renew_duration_seconds": 8,
		"myriad_nodesim_heartbeat_lag_seconds":        8,
		"myriad_nodesim_node_status_updates_total":    1,
		"myriad_nodesim_pod_transitions_total":        1,
		"myriad_nodesim_nodes":                        4,
	} {
		if got[name] < min {
			t.Errorf("%s = %v, want at least %v", name, got[name], min)
		}
	}
	if _, ok := got["myriad_nodesim_workqueue_depth"]; !ok {
		t.Error("workqueue depth gauge missing")
	}
	if got["myriad_nodesim_lease_renew_errors_total"] != 0 {
		t.Errorf("lease errors: %v", got["myriad_nodesim_lease_renew_errors_total"])
	}
}
