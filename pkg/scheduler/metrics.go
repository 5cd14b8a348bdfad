package scheduler

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// Attempt results, the label of myriad_scheduler_schedule_attempts_total.
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultConflict      = "conflict"
	resultError         = "error"
)

type metrics struct {
	attempts  *prometheus.CounterVec
	e2e       prometheus.Histogram
	algorithm prometheus.Histogram
	binding   prometheus.Histogram
	inFlight  prometheus.Gauge
	leader    prometheus.Gauge
}

// latencyBuckets span 100µs (a cached decision) to ~100s (a backed-off pod
// in a saturated cluster).
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 21)

func newMetrics(reg prometheus.Registerer, q *Queue, sc *core.Scheduler) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myriad_scheduler_schedule_attempts_total",
			Help: "Scheduling attempts by result: scheduled, unschedulable, conflict (node taken meanwhile or binding refused), error.",
		}, []string{"result"}),
		e2e: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "myriad_scheduler_e2e_scheduling_duration_seconds",
			Help:    "Time from a pod entering the queue to its Binding being accepted.",
			Buckets: latencyBuckets,
		}),
		algorithm: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "myriad_scheduler_algorithm_duration_seconds",
			Help:    "Time of one decision (filters, scores, sampling) in the core.",
			Buckets: latencyBuckets,
		}),
		binding: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "myriad_scheduler_binding_duration_seconds",
			Help:    "Time of one Binding request.",
			Buckets: latencyBuckets,
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "myriad_scheduler_binder_in_flight",
			Help: "Bindings and status writes in progress.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "myriad_scheduler_leader",
			Help: "1 while this instance holds the leader Lease.",
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.attempts, m.e2e, m.algorithm, m.binding, m.inFlight, m.leader,
		&queueCollector{q: q}, &statsCollector{sc: sc})
	return m
}

// queueCollector reads queue depths at scrape time instead of keeping
// gauges in step with every queue operation.
type queueCollector struct{ q *Queue }

var queueDesc = prometheus.NewDesc("myriad_scheduler_pending_pods", "Pods waiting, per queue: active, backoff, unschedulable, gated.", []string{"queue"}, nil)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDesc }
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	a, b, p, g := c.q.Lengths()
	for _, v := range []struct {
		name string
		n    int
	}{{"active", a}, {"backoff", b}, {"unschedulable", p}, {"gated", g}} {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(v.n), v.name)
	}
}

// statsCollector exports core.Stats: what each Borg technique saved.
type statsCollector struct{ sc *core.Scheduler }

var (
	hitsDesc    = prometheus.NewDesc("myriad_scheduler_cache_hits_total", "Work reused, per technique: equivalence_class (pod's class known), filter and score ((class, node generation) results reused).", []string{"technique"}, nil)
	missesDesc  = prometheus.NewDesc("myriad_scheduler_cache_misses_total", "Work computed afresh, per technique.", []string{"technique"}, nil)
	visitedDesc = prometheus.NewDesc("myriad_scheduler_nodes_visited_total", "Nodes examined by decisions; relaxed randomization keeps it below attempts x nodes.", nil, nil)
	evictedDesc = prometheus.NewDesc("myriad_scheduler_classes_evicted_total", "Equivalence classes evicted from the LRU.", nil, nil)
	decideDesc  = prometheus.NewDesc("myriad_scheduler_decisions_total", "Decisions made by the core.", nil, nil)
	preemptDesc = prometheus.NewDesc("myriad_scheduler_preemption_attempts_total", "Pods that fit nowhere and were considered for preemption.", nil, nil)
	plansDesc   = prometheus.NewDesc("myriad_scheduler_preemptions_total", "Preemptions decided: a node nominated and victims chosen.", nil, nil)
	victimsDesc = prometheus.NewDesc("myriad_scheduler_preemption_victims_total", "Pods chosen as preemption victims.", nil, nil)
)

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hitsDesc, missesDesc, visitedDesc, evictedDesc, decideDesc, preemptDesc, plansDesc, victimsDesc} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.sc.Stats()
	for _, t := range []struct {
		name         string
		hits, misses uint64
	}{
		{"equivalence_class", st.ClassHits, st.ClassMisses},
		{"filter", st.FilterHits, st.FilterMisses},
		{"score", st.ScoreHits, st.ScoreMisses},
	} {
		ch <- prometheus.MustNewConstMetric(hitsDesc, prometheus.CounterValue, float64(t.hits), t.name)
		ch <- prometheus.MustNewConstMetric(missesDesc, prometheus.CounterValue, float64(t.misses), t.name)
	}
	ch <- prometheus.MustNewConstMetric(visitedDesc, prometheus.CounterValue, float64(st.NodesVisited))
	ch <- prometheus.MustNewConstMetric(evictedDesc, prometheus.CounterValue, float64(st.ClassesEvicted))
	ch <- prometheus.MustNewConstMetric(decideDesc, prometheus.CounterValue, float64(st.Attempts))
	ch <- prometheus.MustNewConstMetric(preemptDesc, prometheus.CounterValue, float64(st.PreemptionAttempts))
	ch <- prometheus.MustNewConstMetric(plansDesc, prometheus.CounterValue, float64(st.Preemptions))
	ch <- prometheus.MustNewConstMetric(victimsDesc, prometheus.CounterValue, float64(st.Victims))
}
