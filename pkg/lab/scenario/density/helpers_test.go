package density

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// apiBuckets are apiserver_request_duration_seconds' bucket bounds.
var apiBuckets = []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60}

// observed is the histogram of values as the API server would keep it.
func observed(values ...float64) lab.Histogram {
	h := lab.Histogram{Count: float64(len(values))}
	for _, ub := range apiBuckets {
		n := 0.0
		for _, v := range values {
			if v <= ub {
				n++
			}
		}
		h.Buckets = append(h.Buckets, lab.Bucket{UpperBound: ub, Cumulative: n})
	}
	for _, v := range values {
		h.Sum += v
	}
	return h
}

// many repeats v n times.
func many(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func simNode(name string, ready corev1.ConditionStatus) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{nodesim.SimulatedLabel: "true"}}}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "KubeletReady"}}
	return n
}

func trackedPod(i int, created time.Time, node string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "ns", UID: types.UID(fmt.Sprintf("uid-%d", i)),
			CreationTimestamp: metav1.NewTime(created)},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: phase},
	}
}
