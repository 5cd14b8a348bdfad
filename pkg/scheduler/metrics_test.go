package scheduler

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// kube-scheduler's metric names, labels and meanings, so its dashboards
// read Myriad's scheduler: a pod bound on its second attempt (the first
// Binding refused) counts one error and one scheduled attempt, an SLI
// sample with attempts="2", and a bind conflict; a pod that fits nowhere
// counts unschedulable and waits in the unschedulable queue.
func TestMetricsFollowKubeScheduler(t *testing.T) {
	c := newCluster(t, node("n1", "4"))
	var refused atomic.Bool
	c.setBindHook(func(b *v1.Binding) error {
		if b.Name == "web" && refused.CompareAndSwap(false, true) {
			return apierrors.NewConflict(podsGVR.GroupResource(), b.Name, nil)
		}
		return nil
	})
	reg := prometheus.NewPedanticRegistry()
	s := c.startWith(t, Config{Core: core.DefaultConfig(), Binders: 2, Registry: reg})
	c.create(t, podRequesting("web", "1"))
	c.create(t, podRequesting("big", "16"))
	eventually(t, "web bound", func() bool { return c.pod(t, "web").Spec.NodeName == "n1" })
	eventually(t, "big parked", func() bool { _, _, p, _ := s.Queue().Lengths(); return p == 1 })

	want := `
# HELP myriad_scheduler_conflicts_total Decisions that lost a race, by stage: assume (the node changed between decision and reservation; decided again at once), bind (the Binding was refused).
# TYPE myriad_scheduler_conflicts_total counter
myriad_scheduler_conflicts_total{stage="bind"} 1
# HELP scheduler_pending_pods Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods; 'gated' means number of gated pods.
# TYPE scheduler_pending_pods gauge
scheduler_pending_pods{queue="active"} 0
scheduler_pending_pods{queue="backoff"} 0
scheduler_pending_pods{queue="gated"} 0
scheduler_pending_pods{queue="unschedulable"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "scheduler_pending_pods", "myriad_scheduler_conflicts_total"); err != nil {
		t.Fatal(err)
	}
	attempts := func(result string) float64 {
		return testutil.ToFloat64(s.metrics.attempts.WithLabelValues(result, "myriad"))
	}
	// big may be tried again when web's binding changes the cluster.
	if attempts(resultScheduled) != 1 || attempts(resultError) != 1 || attempts(resultUnschedulable) < 1 {
		t.Fatalf("attempts scheduled %v error %v unschedulable %v; want 1, 1, at least 1",
			attempts(resultScheduled), attempts(resultError), attempts(resultUnschedulable))
	}
	if n := testutil.CollectAndCount(s.metrics.duration); n != 3 {
		t.Fatalf("%d attempt duration series, want one per result", n)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "scheduler_pod_scheduling_sli_duration_seconds" {
			continue
		}
		if len(f.Metric) != 1 || f.Metric[0].GetLabel()[0].GetValue() != "2" || f.Metric[0].GetHistogram().GetSampleCount() != 1 {
			t.Fatalf("SLI %v, want one sample with attempts=2", f.Metric)
		}
		return
	}
	t.Fatal("no scheduler_pod_scheduling_sli_duration_seconds")
}
