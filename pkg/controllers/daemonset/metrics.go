package daemonset

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// podOperations counts the pod writes the controller makes, by operation
// (create, delete, inplace_update, lifecycle) and result (ok, error), on
// top of controller-runtime's reconcile metrics.
var podOperations = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "myriad_daemonset_pod_operations_total",
	Help: "Pod writes made by the Advanced DaemonSet controller, by operation and result.",
}, []string{"operation", "result"})

// expectationWaits counts passes deferred until the cache showed the
// controller's own earlier writes.
var expectationWaits = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "myriad_daemonset_expectation_waits_total",
	Help: "Reconciles of a DaemonSet deferred until the cache showed the controller's earlier writes.",
})

// nodesUnavailable is, per DaemonSet, the desired nodes without an
// available daemon pod: the number a rollout keeps within maxUnavailable.
var nodesUnavailable = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "myriad_daemonset_nodes_unavailable",
	Help: "Nodes that should run the DaemonSet's pod and have no available one.",
}, []string{"namespace", "name"})

func init() {
	metrics.Registry.MustRegister(podOperations, expectationWaits, nodesUnavailable)
}

func countOp(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	podOperations.WithLabelValues(op, result).Inc()
}
