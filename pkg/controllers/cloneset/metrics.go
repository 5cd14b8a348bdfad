package cloneset

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// podOperations counts the pod writes the controller makes, by operation
// (create, delete, inplace_update, lifecycle) and result (ok, error), on
// top of controller-runtime's reconcile metrics.
var podOperations = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "myriad_cloneset_pod_operations_total",
	Help: "Pod writes made by the CloneSet controller, by operation and result.",
}, []string{"operation", "result"})

// expectationWaits counts passes that waited for the cache to show the
// controller's own earlier writes.
var expectationWaits = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "myriad_cloneset_expectation_waits_total",
	Help: "Reconciles of a CloneSet deferred until the cache showed the controller's earlier writes.",
})

func init() {
	metrics.Registry.MustRegister(podOperations, expectationWaits)
}

func countOp(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	podOperations.WithLabelValues(op, result).Inc()
}
