package nodesim

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are always created (so hot paths never check for nil) and only
// registered when Config.Registry is set.
type metrics struct {
	leaseLatency   prometheus.Histogram
	leaseErrors    prometheus.Counter
	heartbeatLag   prometheus.Histogram
	statusUpdates  prometheus.Counter
	hbWrites       *prometheus.CounterVec
	hbBytes        *prometheus.CounterVec
	hbLatency      *prometheus.HistogramVec
	podTransitions *prometheus.CounterVec
	nodes          *prometheus.GaugeVec
}

func newMetrics() *metrics {
	// 1ms..~10s in 22 steps of ~1.55x: fine enough to see the apiserver's
	// latency move under load, and the tail that makes leases go stale.
	buckets := prometheus.ExponentialBucketsRange(0.001, 10, 22)
	return &metrics{
		leaseLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "myriad_nodesim_lease_renew_duration_seconds",
			Help:    "Latency of one Lease renewal request.",
			Buckets: buckets,
		}),
		leaseErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "myriad_nodesim_lease_renew_errors_total",
			Help: "Lease renewals that failed.",
		}),
		heartbeatLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "myriad_nodesim_heartbeat_lag_seconds",
			Help:    "How late a heartbeat was sent compared with when it was due.",
			Buckets: buckets,
		}),
		statusUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "myriad_nodesim_node_status_updates_total",
			Help: "NodeStatus patches sent.",
		}),
		hbWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myriad_nodesim_heartbeat_writes_total",
			Help: "Heartbeat writes sent, by kind: lease (Lease create/update) or status (NodeStatus patch).",
		}, []string{"kind"}),
		hbBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myriad_nodesim_heartbeat_write_bytes_total",
			Help: "Request body bytes of heartbeat writes, by kind.",
		}, []string{"kind"}),
		hbLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "myriad_nodesim_heartbeat_write_duration_seconds",
			Help:    "Latency of one heartbeat write (a Lease renewal including any retry, or a NodeStatus patch), by kind.",
			Buckets: buckets,
		}, []string{"kind"}),
		podTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myriad_nodesim_pod_transitions_total",
			Help: "Pod status writes by resulting phase and kind of transition.",
		}, []string{"phase", "kind"}),
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "myriad_nodesim_nodes",
			Help: "Simulated nodes by state (total, failed).",
		}, []string{"state"}),
	}
}

// Kinds of heartbeat write (label "kind").
const (
	writeLease  = "lease"
	writeStatus = "status"
)

// heartbeatWrite records one heartbeat write of kind that sent bytes.
func (m *metrics) heartbeatWrite(kind string, bytes int, took time.Duration) {
	m.hbWrites.WithLabelValues(kind).Inc()
	m.hbBytes.WithLabelValues(kind).Add(float64(bytes))
	m.hbLatency.WithLabelValues(kind).Observe(took.Seconds())
}

// register adds the collectors plus a gauge that reads the pod queue depth.
func (m *metrics) register(r prometheus.Registerer, queueDepth func() float64) error {
	cs := []prometheus.Collector{
		m.leaseLatency, m.leaseErrors, m.heartbeatLag, m.statusUpdates, m.hbWrites, m.hbBytes, m.hbLatency, m.podTransitions, m.nodes,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "myriad_nodesim_workqueue_depth",
			Help: "Pods waiting in the pod status workqueue.",
		}, queueDepth),
	}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("register nodesim metrics: %w", err)
		}
	}
	return nil
}
