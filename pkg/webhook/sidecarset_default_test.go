package webhook

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/sidecarset"
)

// A SidecarSet written with nothing but its sidecars reads back with
// OpenKruise's defaults and the hashes of the revision it makes, the same
// hashes the controller writes to the pods.
func TestDefaultSidecarSet(t *testing.T) {
	ss := &v1beta1.SidecarSet{
		ObjectMeta: metav1.ObjectMeta{Name: "mesh"},
		Spec: v1beta1.SidecarSetSpec{
			Selector:         &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Containers:       []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "proxy", Image: "proxy:1"}}},
			InitContainers:   []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "init", Image: "init:1"}}},
			PatchPodMetadata: []v1beta1.SidecarSetPatchPodMetadata{{Annotations: map[string]string{"k": "v"}}},
		},
	}
	pulled := TemplateDefaults{PodTemplate: func(t *corev1.PodTemplateSpec) {
		for i := range t.Spec.Containers {
			t.Spec.Containers[i].TerminationMessagePath = "/dev/termination-log"
		}
	}}
	if err := DefaultSidecarSet(ss, pulled); err != nil {
		t.Fatal(err)
	}
	u := ss.Spec.UpdateStrategy
	if u.Type != v1beta1.RollingUpdateSidecarSetStrategyType || *u.MaxUnavailable != intstr.FromInt32(1) || *u.Partition != intstr.FromInt32(0) {
		t.Errorf("updateStrategy %+v; want RollingUpdate, maxUnavailable 1, partition 0", u)
	}
	c, i := ss.Spec.Containers[0], ss.Spec.InitContainers[0]
	if c.PodInjectPolicy != v1beta1.BeforeAppContainerType || i.PodInjectPolicy != v1beta1.AfterAppContainerType {
		t.Errorf("podInjectPolicy %q / %q; want BeforeAppContainer for containers, AfterAppContainer for init containers", c.PodInjectPolicy, i.PodInjectPolicy)
	}
	if c.UpgradeStrategy.UpgradeType != v1beta1.SidecarContainerColdUpgrade || c.ShareVolumePolicy.Type != v1beta1.ShareVolumePolicyDisabled {
		t.Errorf("sidecar defaults %+v / %+v", c.UpgradeStrategy, c.ShareVolumePolicy)
	}
	if c.TerminationMessagePath != "/dev/termination-log" || c.Image != "proxy:1" {
		t.Errorf("container defaults not applied or fields lost: %+v", c.Container)
	}
	if *ss.Spec.RevisionHistoryLimit != 10 || ss.Spec.PatchPodMetadata[0].PatchPolicy != v1beta1.SidecarSetRetainPatchPolicy {
		t.Errorf("revisionHistoryLimit %d, patchPolicy %q", *ss.Spec.RevisionHistoryLimit, ss.Spec.PatchPodMetadata[0].PatchPolicy)
	}
	rev, err := sidecarset.Revisions(ss)
	if err != nil {
		t.Fatal(err)
	}
	if ss.Annotations[v1beta1.SidecarSetHashAnnotation] != rev.Hash || ss.Annotations[v1beta1.SidecarSetHashWithoutImageAnnotation] != rev.HashWithoutImage || rev.Hash == "" {
		t.Errorf("hash annotations %v; want %+v", ss.Annotations, rev)
	}
	// An image change moves the hash, not the hash without images.
	before := rev
	ss.Spec.Containers[0].Image = "proxy:2"
	if err := DefaultSidecarSet(ss, pulled); err != nil {
		t.Fatal(err)
	}
	if ss.Annotations[v1beta1.SidecarSetHashAnnotation] == before.Hash || ss.Annotations[v1beta1.SidecarSetHashWithoutImageAnnotation] != before.HashWithoutImage {
		t.Errorf("after an image change %v; hash must move, hash-without-image must not", ss.Annotations)
	}
}
