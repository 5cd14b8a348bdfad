package nodesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// podStatusPatch is the strategic merge patch from old to new status that
// the kubelet's status manager sends (k8s.io/kubernetes/pkg/util/pod
// PatchPodStatus): it carries only what changed, merges conditions by type
// so conditions other writers own (readiness gates, in-place update state)
// survive, and names the pod's UID so it cannot land on a pod recreated
// under the same name. Written here rather than imported because that
// package drags the whole kube feature-gate registry into nodesim, and
// only internal/components may link k8s.io/kubernetes. It returns nil if
// nothing changed.
//
// annotations, when not nil, are set on the pod in the same patch: pods/status
// takes annotation changes, and the node agent's report of container runs
// (runtimeMeta) must land with the status that starts them.
func podStatusPatch(uid types.UID, old, new *corev1.PodStatus, annotations map[string]string) ([]byte, error) {
	oldJSON, err := json.Marshal(corev1.Pod{Status: *old})
	if err != nil {
		return nil, fmt.Errorf("encode old status: %w", err)
	}
	newJSON, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid, Annotations: annotations}, Status: *new})
	if err != nil {
		return nil, fmt.Errorf("encode new status: %w", err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("build status patch: %w", err)
	}
	if bytes.Equal(patch, []byte(`{"metadata":{"uid":`+strconv.Quote(string(uid))+`}}`)) {
		return nil, nil
	}
	return patch, nil
}

// resourceVersionOf parses an object's resourceVersion. Versions are
// opaque to clients in general, but etcd-backed ones are increasing
// integers, and comparing them is how the scheduler's assume cache tells
// a stale informer copy from its own newer write too. ok is false for
// anything else.
func resourceVersionOf(m metav1.Object) (rv uint64, ok bool) {
	rv, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	return rv, err == nil
}
