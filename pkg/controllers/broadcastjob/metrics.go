package broadcastjob

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// podOperations counts the pod writes the controller makes, by operation
// (create, delete) and result (ok, error): API writes per node is what a
// BroadcastJob costs a large cluster.
var podOperations = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "myriad_broadcastjob_pod_operations_total",
	Help: "Pod writes made by the BroadcastJob controller, by operation and result.",
}, []string{"operation", "result"})

func init() {
	metrics.Registry.MustRegister(podOperations)
}

func countOp(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	podOperations.WithLabelValues(op, result).Inc()
}
