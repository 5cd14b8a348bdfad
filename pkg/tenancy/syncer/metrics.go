package syncer

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are per tenant; a tenant's series are dropped when the syncer
// stops serving it, so cardinality follows the live tenants.
type metrics struct {
	queueWait *prometheus.HistogramVec
	syncTime  *prometheus.HistogramVec
	synced    *prometheus.CounterVec
	conflicts *prometheus.CounterVec
	depth     *prometheus.GaugeVec
	tenants   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "myriad_syncer_queue_wait_seconds", Help: "Time a work key waited in the fair queue before a worker took it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"tenant"}),
		syncTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "myriad_syncer_sync_duration_seconds", Help: "Time to sync one object, by direction (down: tenant to super; up: super to tenant).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"tenant", "direction", "kind"}),
		synced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myriad_syncer_objects_synced_total", Help: "Objects written (created, updated or deleted) to bring one side in line with the other.",
		}, []string{"tenant", "direction", "kind"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myriad_syncer_conflicts_total", Help: "Writes refused for a stale resourceVersion, retried.",
		}, []string{"tenant"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "myriad_syncer_queue_depth", Help: "Work keys queued per tenant.",
		}, []string{"tenant"}),
		tenants: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "myriad_syncer_tenants", Help: "Tenants being served (Ready, caches started).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.queueWait, m.syncTime, m.synced, m.conflicts, m.depth, m.tenants} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register syncer metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Waited and Depth make metrics the fair queue's Observer.
func (m *metrics) Waited(tenant string, d time.Duration) {
	m.queueWait.WithLabelValues(tenant).Observe(d.Seconds())
}
func (m *metrics) Depth(tenant string, n int) { m.depth.WithLabelValues(tenant).Set(float64(n)) }

func (m *metrics) forget(tenant string) {
	l := prometheus.Labels{"tenant": tenant}
	m.queueWait.DeletePartialMatch(l)
	m.syncTime.DeletePartialMatch(l)
	m.synced.DeletePartialMatch(l)
	m.conflicts.DeletePartialMatch(l)
	m.depth.DeletePartialMatch(l)
}
