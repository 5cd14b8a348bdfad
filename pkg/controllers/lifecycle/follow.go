package lifecycle

import (
	"encoding/json"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// FollowPatch is the JSON patch that moves pod to state at now, on the
// condition that its state label and its revision label (revisionKey) are
// still what pod says: a "test" of each, then the label and the
// timestamp annotation (with, when pod has no annotations, a test that it
// still has none).
//
// It is for the moves that follow from what already happened to the pod
// (PreparingNormal → Normal once it is placed or its hooks are armed,
// Updating → Updated once its update is done, Updated or PreparingUpdate →
// Normal): nothing another writer does to the pod undoes them, except the
// controller's own next decision, which changes one of the two labels. A
// resourceVersion precondition would also fail them on the kubelet's
// status writes and the scheduler's binding: under load, half of such
// moves failed that way and were written again. OpenKruise writes these
// moves with no precondition at all. Decisions (PreparingDelete,
// PreparingUpdate) keep the resourceVersion precondition.
func FollowPatch(pod *corev1.Pod, state pub.LifecycleStateType, revisionKey string, now time.Time) ([]byte, error) {
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	ops := []op{
		{"test", labelPath(pub.LifecycleStateKey), pod.Labels[pub.LifecycleStateKey]},
		{"test", labelPath(revisionKey), pod.Labels[revisionKey]},
		{"add", labelPath(pub.LifecycleStateKey), string(state)},
	}
	ts := now.UTC().Format(time.RFC3339)
	if pod.Annotations == nil {
		// Only while there still are none: an add of the whole map would
		// drop any another writer has put there since.
		ops = append(ops, op{"test", "/metadata/annotations", nil},
			op{"add", "/metadata/annotations", map[string]string{pub.LifecycleTimestampKey: ts}})
	} else {
		ops = append(ops, op{"add", "/metadata/annotations/" + escape(pub.LifecycleTimestampKey), ts})
	}
	return json.Marshal(ops)
}

func labelPath(key string) string { return "/metadata/labels/" + escape(key) }

// escape is a JSON pointer token (RFC 6901).
func escape(s string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }
