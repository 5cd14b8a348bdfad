package statefulset

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// podOperations counts the writes the controller makes, by operation
// (create, delete, inplace_update, complete, lifecycle, create_claim,
// claim_owners) and result (ok, error), on top of controller-runtime's
// reconcile metrics.
var podOperations = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "myriad_statefulset_pod_operations_total",
	Help: "Pod and claim writes made by the Advanced StatefulSet controller, by operation and result.",
}, []string{"operation", "result"})

// expectationWaits counts passes that waited for the cache to show the
// controller's own earlier writes.
var expectationWaits = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "myriad_statefulset_expectation_waits_total",
	Help: "Reconciles of an Advanced StatefulSet deferred until the cache showed the controller's earlier writes.",
})

// stuckPods is how many of a set's pods are stuck terminating: past their
// deletion deadline by the controller's stuck-after time, and passed over.
var stuckPods = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "myriad_statefulset_pods_stuck_terminating",
	Help: "Pods of an Advanced StatefulSet still terminating past their deletion deadline by the stuck-after time.",
}, []string{"namespace", "name"})

func init() {
	metrics.Registry.MustRegister(podOperations, expectationWaits, stuckPods)
}

func countOp(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	podOperations.WithLabelValues(op, result).Inc()
}

func forgetMetrics(key types.NamespacedName) {
	stuckPods.DeleteLabelValues(key.Namespace, key.Name)
}
