package sidecarset

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// policyWrites counts the controller's writes of policies and
	// bindings, by operation (apply, delete) and result (ok, error): each
	// apply changes what every new pod in the cluster meets at admission.
	policyWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myriad_sidecarset_policy_writes_total",
		Help: "MutatingAdmissionPolicy and binding writes made by the SidecarSet controller, by operation and result.",
	}, []string{"operation", "result"})
	// uninjectedPods is, per SidecarSet, the live pods it selects that
	// run without its sidecars: what an alert on missing sidecars watches.
	uninjectedPods = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "myriad_sidecarset_uninjected_pods",
		Help: "Live pods a SidecarSet selects that run without its sidecars.",
	}, []string{"sidecarset"})
)

func init() {
	metrics.Registry.MustRegister(policyWrites, uninjectedPods)
}

func countWrite(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	policyWrites.WithLabelValues(op, result).Inc()
}
