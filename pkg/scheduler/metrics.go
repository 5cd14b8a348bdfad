package scheduler

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// Attempt results, the result label of scheduler_schedule_attempts_total
// and scheduler_scheduling_attempt_duration_seconds, as kube-scheduler
// reports them: a conflict (the node taken meanwhile, or the Binding
// refused) is an error there, and myriad_scheduler_conflicts_total says
// which.
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

// Conflict stages, the label of myriad_scheduler_conflicts_total.
const (
	conflictAssume = "assume"
	conflictBind   = "bind"
)

// metrics are kube-scheduler's where the meaning is the same (so its
// dashboards and alerts work against Myriad's scheduler: attempts and
// their duration per result and profile, the decision's duration, the
// scheduling SLI, pending pods per queue) and Myriad's own, prefixed
// myriad_scheduler_, for what kube-scheduler has no name for (conflicts
// of optimistic binding, the binder pool, the leader, and what each Borg
// technique saved).
type metrics struct {
	profile   string
	attempts  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	algorithm prometheus.Histogram
	sli       *prometheus.HistogramVec
	conflicts *prometheus.CounterVec
	binding   prometheus.Histogram
	inFlight  prometheus.Gauge
	leader    prometheus.Gauge
}

// latencyBuckets span 100µs (a cached decision) to ~100s (a backed-off pod
// in a saturated cluster): finer at the bottom than kube-scheduler's
// (from 1 ms), since a cached decision takes a fraction of a millisecond.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 21)

func newMetrics(reg prometheus.Registerer, q *Queue, sc *core.Scheduler, profile string) *metrics {
	m := &metrics{
		profile: profile,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scheduler_schedule_attempts_total",
			Help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem (here also a conflict: see myriad_scheduler_conflicts_total).",
		}, []string{"result", "profile"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scheduler_scheduling_attempt_duration_seconds",
			Help:    "Scheduling attempt latency in seconds (scheduling algorithm + binding).",
			Buckets: latencyBuckets,
		}, []string{"result", "profile"}),
		algorithm: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scheduler_scheduling_algorithm_duration_seconds",
			Help:    "Scheduling algorithm latency in seconds: one decision (filters, scores, sampling) in the core.",
			Buckets: latencyBuckets,
		}),
		sli: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scheduler_pod_scheduling_sli_duration_seconds",
			Help:    "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue until its Binding is accepted, by the number of attempts.",
			Buckets: latencyBuckets,
		}, []string{"attempts"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myriad_scheduler_conflicts_total",
			Help: "Decisions that lost a race, by stage: assume (the node changed between decision and reservation; decided again at once), bind (the Binding was refused).",
		}, []string{"stage"}),
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
	reg.MustRegister(m.attempts, m.duration, m.algorithm, m.sli, m.conflicts, m.binding, m.inFlight, m.leader,
		&queueCollector{q: q}, &statsCollector{sc: sc})
	return m
}

// attempt counts one attempt that began at began with its result.
func (m *metrics) attempt(result string, began time.Time) {
	m.attempts.WithLabelValues(result, m.profile).Inc()
	m.duration.WithLabelValues(result, m.profile).Observe(time.Since(began).Seconds())
}

// queueCollector reads queue depths at scrape time instead of keeping
// gauges in step with every queue operation.
type queueCollector struct{ q *Queue }

var queueDesc = prometheus.NewDesc("scheduler_pending_pods", "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods; 'gated' means number of gated pods.", []string{"queue"}, nil)

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
