package sidecarset

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// upPod is an injected pod on revision hash (hash-without-image hw) with
// one sidecar "proxy" running image img, Ready as given.
func upPod(name, hash, hw, img string, ready bool) *corev1.Pod {
	p := statusPod(name, true, hash, ready, corev1.PodRunning)
	p.Annotations[v1beta1.SidecarSetHashWithoutImageAnnotation] = `{"s":{"hash":"` + hw + `","sidecarSetName":"s"}}`
	p.Spec.NodeName = "n"
	p.Spec.Containers = []corev1.Container{{Name: "app", Image: "app:1"}, {Name: "proxy", Image: img}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "app", Image: "app:1", ImageID: "app@1", ContainerID: "c-app", Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "proxy", Image: img, ImageID: img + "@id", ContainerID: "c-" + name, Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
	}
	return p
}

func upSidecarSet() *v1beta1.SidecarSet {
	ss := sidecarSet("s", nil)
	ss.Spec.Containers = []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "proxy", Image: "proxy:2"}}}
	return ss
}

var rev2 = Revision{Hash: "h2", HashWithoutImage: "hw"}

func planOf(ss *v1beta1.SidecarSet, pods ...*corev1.Pod) upgradePlan {
	return planUpgrade(ss, views(ss, rev2, pods))
}

func podNames(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return fmt.Sprint(out)
}

func TestPlanMaxUnavailable(t *testing.T) {
	ss := upSidecarSet()
	ss.Spec.UpdateStrategy.MaxUnavailable = ptr.To(intstr.FromInt32(2))
	var pods []*corev1.Pod
	for i := range 5 {
		pods = append(pods, upPod(fmt.Sprint("p", i), "h1", "hw", "proxy:1", true))
	}
	if p := planOf(ss, pods...); len(p.upgrade) != 2 {
		t.Fatalf("upgrade %s, want 2 pods under maxUnavailable 2", podNames(p.upgrade))
	}
	// One pod upgraded whose sidecar is still restarting counts against
	// maxUnavailable; a not-ready old pod is upgraded for free.
	busy := upPod("busy", "h2", "hw", "proxy:2", true)
	busy.Status.ContainerStatuses[1] = corev1.ContainerStatus{Name: "proxy", Image: "proxy:1", ImageID: "proxy:1@id", ContainerID: "c-busy", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	_ = recordUpgrade(busy, "s", "h2", []string{"proxy"}, metav1.Now())
	sick := upPod("sick", "h1", "hw", "proxy:1", false)
	p := planOf(ss, append([]*corev1.Pod{busy, sick}, pods...)...)
	if p.unavailable != 1 || len(p.upgrade) != 2 || p.upgrade[0].Name != "sick" {
		t.Fatalf("unavailable %d, upgrade %s; want 1 and [sick + one ready pod]", p.unavailable, podNames(p.upgrade))
	}
}

func TestPlanPartitionSelectorPausedNotUpdate(t *testing.T) {
	ss := upSidecarSet()
	ss.Spec.UpdateStrategy.MaxUnavailable = ptr.To(intstr.FromString("100%"))
	ss.Spec.UpdateStrategy.Partition = ptr.To(intstr.FromInt32(3))
	var pods []*corev1.Pod
	for i := range 5 {
		pods = append(pods, upPod(fmt.Sprint("p", i), "h1", "hw", "proxy:1", true))
	}
	if p := planOf(ss, pods...); len(p.upgrade) != 2 {
		t.Fatalf("partition 3 of 5: upgrade %s, want 2", podNames(p.upgrade))
	}
	ss.Spec.UpdateStrategy.Partition = ptr.To(intstr.FromString("20%"))
	if p := planOf(ss, pods...); len(p.upgrade) != 4 {
		t.Fatalf("partition 20%% of 5: upgrade %s, want 4", podNames(p.upgrade))
	}
	ss.Spec.UpdateStrategy.Partition = nil
	pods[1].Labels = map[string]string{"canary": "true"}
	ss.Spec.UpdateStrategy.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"canary": "true"}}
	if p := planOf(ss, pods...); podNames(p.upgrade) != "[p1]" {
		t.Fatalf("selector: upgrade %s, want [p1]", podNames(p.upgrade))
	}
	ss.Spec.UpdateStrategy.Paused = true
	if p := planOf(ss, pods...); len(p.upgrade) != 0 || p.rolling {
		t.Fatalf("paused: upgrade %s", podNames(p.upgrade))
	}
	ss.Spec.UpdateStrategy.Paused = false
	ss.Spec.UpdateStrategy.Type = v1beta1.NotUpdateSidecarSetStrategyType
	if p := planOf(ss, pods...); len(p.upgrade) != 0 {
		t.Fatalf("NotUpdate: upgrade %s", podNames(p.upgrade))
	}
}

func TestPlanNotUpgradableAndPriority(t *testing.T) {
	ss := upSidecarSet()
	ss.Spec.UpdateStrategy.MaxUnavailable = ptr.To(intstr.FromInt32(1))
	ss.Spec.UpdateStrategy.PriorityStrategy = &pub.UpdatePriorityStrategy{OrderPriority: []pub.UpdatePriorityOrderTerm{{OrderedKey: "rank"}}}
	envChanged := upPod("env", "h0", "other", "proxy:1", true)
	low := upPod("low", "h1", "hw", "proxy:1", true)
	low.Labels = map[string]string{"rank": "1"}
	high := upPod("high", "h1", "hw", "proxy:1", true)
	high.Labels = map[string]string{"rank": "9"}
	p := planOf(ss, envChanged, low, high)
	if podNames(p.notUpgradable) != "[env]" || podNames(p.upgrade) != "[high]" {
		t.Fatalf("notUpgradable %s upgrade %s; want [env] and [high]", podNames(p.notUpgradable), podNames(p.upgrade))
	}
	c := upgradableCondition(ss, p, metav1.Now())
	if c.Status != metav1.ConditionFalse || c.Reason != ReasonNotImageOnlyChange {
		t.Fatalf("condition %+v, want False %s", c, ReasonNotImageOnlyChange)
	}
}

func TestUpgradePodCold(t *testing.T) {
	ss := upSidecarSet()
	ss.ResourceVersion = "77"
	pod := upPod("p", "h1", "hw", "proxy:1", true)
	pod.Annotations[v1beta1.SidecarSetHashAnnotation] = `{"other":{"hash":"x","controllerRevision":"keep"},"s":{"hash":"h1","sidecarSetName":"s","extra":1}}`
	now := metav1.NewTime(time.Unix(1000, 0))
	if err := upgradePod(pod, ss, rev2, now); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.Containers[1].Image != "proxy:2" || pod.Spec.Containers[0].Image != "app:1" {
		t.Fatalf("containers %+v: want proxy:2 and the app untouched", pod.Spec.Containers)
	}
	if podHash(pod, "s") != "h2" {
		t.Fatalf("hash annotation %s", pod.Annotations[v1beta1.SidecarSetHashAnnotation])
	}
	var all map[string]map[string]any
	if err := json.Unmarshal([]byte(pod.Annotations[v1beta1.SidecarSetHashAnnotation]), &all); err != nil {
		t.Fatal(err)
	}
	if all["other"]["controllerRevision"] != "keep" || all["s"]["extra"] != float64(1) {
		t.Fatalf("other entries and unknown keys must survive: %v", all)
	}
	// The upgrade is in flight until the runtime reports the new image.
	if sidecarsConsistent(ss, pod, false) {
		t.Fatal("consistent before the runtime restarted the sidecar")
	}
	pod.Status.ContainerStatuses[1] = corev1.ContainerStatus{Name: "proxy", Image: "proxy:2", ImageID: "proxy:2@id", ContainerID: "c-new", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	if !sidecarsConsistent(ss, pod, false) {
		t.Fatal("not consistent after the runtime runs the new image")
	}
}

func TestHotUpgradeThenFlip(t *testing.T) {
	ss := upSidecarSet()
	ss.ResourceVersion = "88"
	ss.Spec.Containers[0].UpgradeStrategy = v1beta1.SidecarContainerUpgradeStrategy{UpgradeType: v1beta1.SidecarContainerHotUpgrade, HotUpgradeEmptyImage: "empty:1"}
	pod := upPod("p", "h1", "hw", "proxy:1", true)
	pod.Spec.Containers = []corev1.Container{{Name: "app", Image: "app:1"}, {Name: "proxy-1", Image: "proxy:1"}, {Name: "proxy-2", Image: "empty:1"}}
	run := func(name, img, id string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, Image: img, ImageID: img + "@id", ContainerID: id, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{run("app", "app:1", "a"), run("proxy-1", "proxy:1", "x1"), run("proxy-2", "empty:1", "x2")}
	pod.Annotations[WorkingHotUpgradeAnnotation] = `{"proxy":"proxy-1"}`
	pod.Annotations[versionAnnotationPrefix+"proxy-1"] = "1"

	if err := upgradePod(pod, ss, rev2, metav1.Now()); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.Containers[2].Image != "proxy:2" || pod.Spec.Containers[1].Image != "proxy:1" {
		t.Fatalf("the idle container must take the new image while the working one serves: %+v", pod.Spec.Containers)
	}
	if w, _ := workingPair(pod, "proxy"); w != "proxy-2" {
		t.Fatalf("working container %s, want proxy-2", w)
	}
	if pod.Annotations[versionAnnotationPrefix+"proxy-2"] != "88" || pod.Annotations[versionAltAnnotationPrefix+"proxy-2"] != "1" {
		t.Fatalf("version annotations %v", pod.Annotations)
	}
	v := view(ss, rev2, nil, pod)
	if !v.hotUpgrading || v.consistent || v.ready {
		t.Fatalf("view %+v: want hot upgrading, not consistent, not ready", v)
	}
	// The runtime starts the new image: the plan flips the old container.
	pod.Status.ContainerStatuses[2] = run("proxy-2", "proxy:2", "x3")
	p := planOf(ss, pod)
	if podNames(p.flip) != "[p]" || len(p.upgrade) != 0 {
		t.Fatalf("flip %s upgrade %s; want [p] and nothing", podNames(p.flip), podNames(p.upgrade))
	}
	if err := flipPod(pod, ss, metav1.Now()); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.Containers[1].Image != "empty:1" || pod.Spec.Containers[2].Image != "proxy:2" {
		t.Fatalf("after the flip %+v: want proxy-1 empty, proxy-2 working", pod.Spec.Containers)
	}
	pod.Status.ContainerStatuses[1] = run("proxy-1", "empty:1", "x4")
	if v := view(ss, rev2, nil, pod); v.hotUpgrading || !v.consistent || !v.ready || !v.updated {
		t.Fatalf("view after the flip %+v: want updated, consistent and ready", v)
	}
}

// A pod whose upgraded sidecar cannot start (its image does not pull) is
// not held back: the next revision, perhaps the fix, reaches it; one whose
// sidecar still runs, ready, its old image waits.
func TestPlanFailedUpgradeDoesNotBlock(t *testing.T) {
	ss := upSidecarSet()
	ss.Spec.UpdateStrategy.MaxUnavailable = ptr.To(intstr.FromString("100%"))
	broken := upPod("broken", "h1", "hw", "proxy:bad", false)
	_ = recordUpgrade(broken, "s", "h1", []string{"proxy"}, metav1.Now())
	broken.Status.ContainerStatuses[1] = corev1.ContainerStatus{Name: "proxy", Image: "proxy:bad",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}
	busy := upPod("busy", "h1", "hw", "proxy:1.5", true)
	busy.Status.ContainerStatuses[1].Image, busy.Status.ContainerStatuses[1].ImageID = "proxy:1", "proxy:1@id"
	_ = recordUpgrade(busy, "s", "h1", []string{"proxy"}, metav1.Now())
	if p := planOf(ss, broken, busy); podNames(p.upgrade) != "[broken]" {
		t.Fatalf("upgrade %s; want [broken] (busy still restarts its sidecar)", podNames(p.upgrade))
	}
}

// As OpenKruise hashes a SidecarSet: the containers make the revision;
// volumes, pull secrets and pod metadata reach new pods only; an image
// moves Hash but not HashWithoutImage.
func TestRevisionHashCoversContainers(t *testing.T) {
	base := upSidecarSet()
	r0, _ := Revisions(base)
	other := base.DeepCopy()
	other.Spec.Volumes = []corev1.Volume{{Name: "v"}}
	other.Spec.PatchPodMetadata = []v1beta1.SidecarSetPatchPodMetadata{{Annotations: map[string]string{"k": "v"}}}
	other.Spec.InitContainers = []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "init", Image: "i"}}}
	if r, _ := Revisions(other); r != r0 {
		t.Errorf("volumes, metadata and plain init containers moved the revision: %+v vs %+v", r, r0)
	}
	always := corev1.ContainerRestartPolicyAlways
	other.Spec.InitContainers[0].RestartPolicy = &always
	if r, _ := Revisions(other); r.Hash == r0.Hash {
		t.Error("a native sidecar init container must be part of the revision")
	}
	img := base.DeepCopy()
	img.Spec.Containers[0].Image = "proxy:9"
	if r, _ := Revisions(img); r.Hash == r0.Hash || r.HashWithoutImage != r0.HashWithoutImage {
		t.Errorf("image change: %+v vs %+v; want Hash moved, HashWithoutImage kept", r, r0)
	}
}

// An upgrade merges a MergePatchJson annotation into the pod's as a JSON
// merge patch.
func TestUpgradeMergesPatchJSON(t *testing.T) {
	ss := upSidecarSet()
	ss.Spec.PatchPodMetadata = []v1beta1.SidecarSetPatchPodMetadata{{PatchPolicy: v1beta1.SidecarSetMergePatchJSONPatchPolicy,
		Annotations: map[string]string{"key": `{"proxy":2,"gone":null}`}}}
	pod := upPod("p", "h1", "hw", "proxy:1", true)
	pod.Annotations["key"] = `{"app":1,"proxy":1,"gone":true}`
	if err := upgradePod(pod, ss, rev2, metav1.Now()); err != nil {
		t.Fatal(err)
	}
	if got := pod.Annotations["key"]; got != `{"app":1,"proxy":2}` {
		t.Errorf("merged annotation %s, want {\"app\":1,\"proxy\":2}", got)
	}
}
