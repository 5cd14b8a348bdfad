package nodesim

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/containermeta"
)

// The node agent: a pod whose container reads a label gets its runs
// reported; during an in-place update (InPlaceUpdateReady False) a changed
// label restarts that container alone, and the new run is reported with
// the new value's hash.
func TestAgentRestartsContainerForChangedLabel(t *testing.T) {
	h := start(t, Config{Count: 1, NamePrefix: "n-"})
	p := podOn("web", "n-0", "app", "proxy")
	p.Labels = map[string]string{"track": "stable"}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TRACK", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['track']"}}}}
	h.createPod(p)
	reported := func(p *corev1.Pod) bool {
		meta, err := containermeta.Read(p)
		return err == nil && meta != nil && len(meta.Containers) == 2
	}
	before := h.waitPod("web", "running and reported", func(p *corev1.Pod) bool { return running(p) && reported(p) })
	meta, _ := containermeta.Read(before)
	app := containermeta.Find(meta, before.Status.ContainerStatuses[0].ContainerID)
	if app == nil || app.Hashes.ExtractedEnvFromMetadataHash != containermeta.EnvHash(&before.Spec.Containers[0], before.Labels, nil) {
		t.Fatalf("app's run reported as %+v", app)
	}

	upd := before.DeepCopy()
	upd.Labels["track"] = "canary"
	upd.Status.Conditions = append(upd.Status.Conditions, corev1.PodCondition{Type: pub.InPlaceUpdateReady, Status: corev1.ConditionFalse})
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.stepUntil("restarted and reported", 100*time.Millisecond, 2*time.Second, h.podIs("web", func(p *corev1.Pod) bool {
		m, _ := containermeta.Read(p)
		return p.Status.ContainerStatuses[0].RestartCount == 1 && containermeta.Find(m, p.Status.ContainerStatuses[0].ContainerID) != nil
	}))
	after := h.pod("web")
	meta, _ = containermeta.Read(after)
	run := containermeta.Find(meta, after.Status.ContainerStatuses[0].ContainerID)
	if run.Hashes.ExtractedEnvFromMetadataHash != containermeta.EnvHash(&after.Spec.Containers[0], map[string]string{"track": "canary"}, nil) {
		t.Errorf("new run reported with hash %d, not the canary value's", run.Hashes.ExtractedEnvFromMetadataHash)
	}
	if last := after.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ContainerID != before.Status.ContainerStatuses[0].ContainerID {
		t.Errorf("app lastState %+v, want the old run", after.Status.ContainerStatuses[0].LastTerminationState)
	}
	if proxy := after.Status.ContainerStatuses[1]; proxy.RestartCount != 0 {
		t.Errorf("proxy, which reads no label, restarted: %+v", proxy)
	}
}

// Without an in-place update under way a label change restarts nothing,
// and pods that read no metadata get no report.
func TestAgentLeavesOtherPodsAlone(t *testing.T) {
	h := start(t, Config{Count: 1, NamePrefix: "n-"})
	h.createPod(podOn("plain", "n-0"))
	if p := h.waitPod("plain", "running", running); p.Annotations[pub.RuntimeContainerMetaKey] != "" {
		t.Errorf("a pod that reads no metadata got %s", p.Annotations[pub.RuntimeContainerMetaKey])
	}
	p := podOn("web", "n-0")
	p.Labels = map[string]string{"track": "stable"}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TRACK", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['track']"}}}}
	h.createPod(p)
	p = h.waitPod("web", "reported", func(p *corev1.Pod) bool { return p.Annotations[pub.RuntimeContainerMetaKey] != "" })
	cs := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, ContainerID: p.Status.ContainerStatuses[0].ContainerID}
	p.Labels["track"] = "canary"
	if envRestartDue(p, &p.Spec.Containers[0], &cs) {
		t.Error("restart due without InPlaceUpdateReady False")
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: pub.InPlaceUpdateReady, Status: corev1.ConditionFalse})
	if !envRestartDue(p, &p.Spec.Containers[0], &cs) {
		t.Error("restart not due with the label changed during an update")
	}
}
