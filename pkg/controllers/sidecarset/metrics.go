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
	// podWrites counts the controller's writes of pods (sidecar upgrades,
	// hot-upgrade flips, the SidecarSetUpgradable condition), by
	// operation and result.
	podWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myriad_sidecarset_pod_writes_total",
		Help: "Pod writes made by the SidecarSet controller to upgrade sidecars in place, by operation and result.",
	}, []string{"operation", "result"})
	// upgradedPods counts, per SidecarSet, the pods whose sidecars were
	// moved to a new revision in place.
	upgradedPods = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myriad_sidecarset_upgraded_pods_total",
		Help: "Pods whose sidecars a SidecarSet upgraded in place.",
	}, []string{"sidecarset"})
	// notUpgradablePods is, per SidecarSet, the injected pods its latest
	// revision cannot reach in place (it changed more than images).
	notUpgradablePods = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "myriad_sidecarset_not_upgradable_pods",
		Help: "Injected pods a SidecarSet's latest revision cannot reach in place.",
	}, []string{"sidecarset"})
)

func init() {
	metrics.Registry.MustRegister(policyWrites, uninjectedPods, podWrites, upgradedPods, notUpgradablePods)
}

func countWrite(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	policyWrites.WithLabelValues(op, result).Inc()
}

func countPodWrite(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	podWrites.WithLabelValues(op, result).Inc()
}
