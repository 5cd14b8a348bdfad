package inplace

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/containermeta"
)

// agent plays the node agent: it restarts, while the gate is False, every
// container whose reported environment differs from what the pod's
// metadata now gives, and reports each run's environment hash.
func (h *harness) agent() {
	h.t.Helper()
	p := h.pod()
	closed := GateCondition(p) != nil && GateCondition(p).Status == corev1.ConditionFalse
	meta, _ := containermeta.Read(p)
	var set pub.RuntimeContainerMetaSet
	for i := range p.Status.ContainerStatuses {
		cs := &p.Status.ContainerStatuses[i]
		c := specContainer(p, cs.Name)
		want := containermeta.EnvHash(c, p.Labels, p.Annotations)
		run := containermeta.Find(meta, cs.ContainerID)
		if run != nil && run.Hashes.ExtractedEnvFromMetadataHash != want && closed {
			h.started++
			cs.ContainerID, cs.RestartCount, run = fmt.Sprintf("containerd://%d", h.started), cs.RestartCount+1, nil
		}
		if run == nil {
			run = &pub.RuntimeContainerMeta{Name: cs.Name, ContainerID: cs.ContainerID, RestartCount: cs.RestartCount,
				Hashes: pub.RuntimeContainerHashes{ExtractedEnvFromMetadataHash: want}}
		}
		set.Containers = append(set.Containers, *run)
	}
	p.Annotations = applyMetadata(p.Annotations, MetadataUpdate{Set: map[string]string{pub.RuntimeContainerMetaKey: containermeta.Encode(&set)}})
	if _, err := h.c.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// OpenKruise's "in-place update two container image and env from metadata
// with priorities": side (priority 10) reads annotation config, app's image
// changes. Side restarts first with the new value, app's image changes only
// once the agent reports side's new environment.
func TestEnvFromMetadataRestartsInBatches(t *testing.T) {
	h := newHarness(t)
	p := h.pod()
	p.Annotations = map[string]string{"config": "foo"}
	p.Spec.Containers[1].Env = []corev1.EnvVar{{Name: pub.ContainerLaunchPriorityEnvName, Value: "10"},
		{Name: "CONFIG", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['config']"}}}}
	if _, err := h.c.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.agent()
	plan := Plan{Containers: []ContainerUpdate{{Name: "app", Image: "nginx:b"}, {Name: "side", RestartForEnv: true}},
		Annotations: MetadataUpdate{Set: map[string]string{"config": "bar"}}}
	if !Applicable(h.pod(), plan) {
		t.Fatal("not applicable with the agent reporting")
	}
	h.mustApply("r2", plan)
	p = h.pod()
	if p.Annotations["config"] != "bar" || specContainer(p, "app").Image != "nginx:a" {
		t.Fatalf("first batch: config %q app %s; want config bar, app unchanged", p.Annotations["config"], specContainer(p, "app").Image)
	}
	if h.complete() || !slices.Equal(Pending(h.pod()), []string{"app", "side"}) {
		t.Fatalf("pending %v before the agent restarted side", Pending(h.pod()))
	}
	h.agent() // restarts side with config=bar
	if h.complete() {
		t.Fatal("done with app's batch to go")
	}
	if img := specContainer(h.pod(), "app").Image; img != "nginx:b" {
		t.Fatalf("second batch not started after side's restart: app %s", img)
	}
	h.kubelet()
	h.agent()
	if !h.complete() {
		t.Fatalf("not done after both batches: pending %v", Pending(h.pod()))
	}
	p = h.pod()
	st, _, _ := ReadState(p)
	if !st.UpdateEnvFromMetadata || len(st.ContainerBatchesRecord) != 2 ||
		!slices.Equal(st.ContainerBatchesRecord[0].Containers, []string{"side"}) || !slices.Equal(st.ContainerBatchesRecord[1].Containers, []string{"app"}) {
		t.Fatalf("state %+v; want env update recorded, batches [side] then [app]", st)
	}
	if cs := containerStatus(p, "side"); cs.RestartCount != 1 {
		t.Fatalf("side restarted %d times, want 1", cs.RestartCount)
	}
}

// A label only a later batch reads waits for that batch: the container of
// the first batch (app, an image change) restarts alone.
func TestEnvFromMetadataOfLaterBatchIsDeferred(t *testing.T) {
	h := newHarness(t)
	p := h.pod()
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: pub.ContainerLaunchPriorityEnvName, Value: "10"}}
	p.Spec.Containers[1].Env = []corev1.EnvVar{{Name: "TRACK", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['track']"}}}}
	p.Labels["track"] = "stable"
	if _, err := h.c.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.agent()
	h.mustApply("r2", Plan{Containers: []ContainerUpdate{{Name: "app", Image: "nginx:b"}, {Name: "side", RestartForEnv: true}},
		Labels: MetadataUpdate{Set: map[string]string{"track": "canary", "team": "a"}}})
	p = h.pod()
	if p.Labels["track"] != "stable" || p.Labels["team"] != "a" || specContainer(p, "app").Image != "nginx:b" {
		t.Fatalf("first batch: labels %v app %s; want track deferred, team set, app changed", p.Labels, specContainer(p, "app").Image)
	}
	h.kubelet()
	h.agent()
	if h.complete() {
		t.Fatal("done with side's batch to go")
	}
	if got := h.pod().Labels["track"]; got != "canary" {
		t.Fatalf("second batch did not set track: %q", got)
	}
	h.agent()
	if !h.complete() {
		t.Fatalf("not done: pending %v", Pending(h.pod()))
	}
}

// Restarts wait for the agent's report of the new run: a missing report
// keeps the update pending.
func TestEnvRestartWaitsForTheAgent(t *testing.T) {
	h := newHarness(t)
	p := h.pod()
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TRACK", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['track']"}}}}
	if _, err := h.c.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.agent()
	h.mustApply("r2", Plan{Containers: []ContainerUpdate{{Name: "app", RestartForEnv: true}}, Labels: MetadataUpdate{Set: map[string]string{"track": "canary"}}})
	h.kubelet() // the kubelet alone changes nothing
	if h.complete() || Check(h.pod()) {
		t.Fatal("done before the agent restarted app")
	}
	h.expectGate(corev1.ConditionFalse)
	h.agent()
	if !h.complete() {
		t.Fatalf("not done after the restart: pending %v", Pending(h.pod()))
	}
	h.expectGate(corev1.ConditionTrue)
}
