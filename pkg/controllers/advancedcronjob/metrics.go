package advancedcronjob

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// runs counts schedule times handled, by the kind of job and the outcome:
// created, exists (an earlier pass created it), error, or the reason a run
// was skipped (MissSchedule, JobAlreadyActive).
var runs = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "myriad_advancedcronjob_runs_total",
	Help: "Schedule times handled by the AdvancedCronJob controller, by job kind and outcome.",
}, []string{"kind", "outcome"})

func init() {
	metrics.Registry.MustRegister(runs)
}
