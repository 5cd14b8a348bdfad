package inplace

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// ReadState returns the pod's in-place update state; ok is false when the
// pod has never been updated in place.
func ReadState(pod *corev1.Pod) (st pub.InPlaceUpdateState, ok bool, err error) {
	v, ok := pod.Annotations[pub.InPlaceUpdateStateKey]
	if !ok {
		return st, false, nil
	}
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return st, true, fmt.Errorf("pod %s/%s annotation %s: %w", pod.Namespace, pod.Name, pub.InPlaceUpdateStateKey, err)
	}
	return st, true, nil
}

func writeState(pod *corev1.Pod, st pub.InPlaceUpdateState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode %s: %w", pub.InPlaceUpdateStateKey, err)
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[pub.InPlaceUpdateStateKey] = string(b)
	return nil
}
