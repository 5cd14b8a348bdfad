package lifecycle

import (
	"encoding/json"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// A follow patch applies to the pod it was made from however else the pod
// changed, and to no pod whose state or revision moved meanwhile.
func TestFollowPatch(t *testing.T) {
	const rev = "controller-revision-hash"
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	read := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "1",
		Labels: map[string]string{pub.LifecycleStateKey: string(pub.LifecycleStatePreparingNormal), rev: "r1"}}}
	patch, err := FollowPatch(read, pub.LifecycleStateNormal, rev, now)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(pod *corev1.Pod) (*corev1.Pod, error) {
		raw, _ := json.Marshal(pod)
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Apply(raw)
		if err != nil {
			return nil, err
		}
		var got corev1.Pod
		return &got, json.Unmarshal(out, &got)
	}

	// Since the read: bound, its status written, its resourceVersion moved.
	moved := read.DeepCopy()
	moved.ResourceVersion, moved.Spec.NodeName, moved.Status.Phase = "7", "node-1", corev1.PodRunning
	got, err := apply(moved)
	if err != nil {
		t.Fatalf("a pod changed only by others refused the move: %v", err)
	}
	if got.Labels[pub.LifecycleStateKey] != string(pub.LifecycleStateNormal) || got.Annotations[pub.LifecycleTimestampKey] != "2026-12-07T03:00:00Z" {
		t.Errorf("after the patch: labels %v, annotations %v", got.Labels, got.Annotations)
	}
	if got.Spec.NodeName != "node-1" || got.Status.Phase != corev1.PodRunning {
		t.Error("the patch touched what others wrote")
	}
	// Read with annotations: another writer's new one is kept.
	read.Annotations = map[string]string{"note": "y"}
	patch, err = FollowPatch(read, pub.LifecycleStateNormal, rev, now)
	if err != nil {
		t.Fatal(err)
	}
	withNotes := moved.DeepCopy()
	withNotes.Annotations = map[string]string{"note": "y", "a/b~c": "x"}
	if got, err := apply(withNotes); err != nil || got.Annotations["a/b~c"] != "x" || got.Annotations["note"] != "y" || got.Annotations[pub.LifecycleTimestampKey] == "" {
		t.Errorf("a pod with annotations: %v %v", got.Annotations, err)
	}
	// Read with none: one added since fails the move rather than be lost.
	read.Annotations = nil
	if patch, err = FollowPatch(read, pub.LifecycleStateNormal, rev, now); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(withNotes); err == nil {
		t.Error("the move replaced annotations written since the read")
	}
	if got, err := apply(moved); err != nil || got.Annotations[pub.LifecycleTimestampKey] == "" {
		t.Errorf("a pod still without annotations: %v %v", got, err)
	}

	for what, change := range map[string]func(*corev1.Pod){
		"state":    func(p *corev1.Pod) { p.Labels[pub.LifecycleStateKey] = string(pub.LifecycleStatePreparingDelete) },
		"revision": func(p *corev1.Pod) { p.Labels[rev] = "r2" },
		"no state": func(p *corev1.Pod) { delete(p.Labels, pub.LifecycleStateKey) },
	} {
		p := moved.DeepCopy()
		change(p)
		if _, err := apply(p); err == nil {
			t.Errorf("the move applied to a pod whose %s changed", what)
		}
	}
}
