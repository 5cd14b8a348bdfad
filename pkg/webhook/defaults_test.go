package webhook

import (
	"context"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// fakeTemplateDefaults marks what it touched, standing in for Kubernetes'
// defaults (tested where they are linked, in internal/components).
var fakeTemplateDefaults = TemplateDefaults{
	PodTemplate: func(t *corev1.PodTemplateSpec) { t.Spec.SchedulerName = "defaulted" },
	Claim: func(c *corev1.PersistentVolumeClaim) {
		fs := corev1.PersistentVolumeFilesystem
		c.Spec.VolumeMode = &fs
	},
}

func TestDefaultCloneSet(t *testing.T) {
	cs := cloneSet()
	cs.Spec.Replicas = nil
	cs.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
	cs.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{Spec: corev1.PersistentVolumeClaimSpec{
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
	DefaultCloneSet(cs, true, fakeTemplateDefaults)

	s := cs.Spec
	u := s.UpdateStrategy
	if *s.Replicas != 1 || *s.RevisionHistoryLimit != 10 || s.ProgressDeadlineSeconds != nil {
		t.Errorf("replicas %d revisionHistoryLimit %d progressDeadlineSeconds %v; want 1, 10 and unset", *s.Replicas, *s.RevisionHistoryLimit, s.ProgressDeadlineSeconds)
	}
	if u.Type != v1alpha1.RecreateCloneSetUpdateStrategyType || *u.Partition != intstr.FromInt32(0) ||
		*u.MaxUnavailable != intstr.FromString("20%") || *u.MaxSurge != intstr.FromInt32(0) || u.InPlaceUpdateStrategy != nil {
		t.Errorf("updateStrategy %+v; want ReCreate, partition 0, maxUnavailable 20%%, maxSurge 0", u)
	}
	if c := s.Template.Spec.Containers[0]; c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("container imagePullPolicy %q, want Always so in-place image updates pull", c.ImagePullPolicy)
	}
	if c := s.Template.Spec.InitContainers[0]; c.ImagePullPolicy != "" {
		t.Errorf("init container imagePullPolicy %q; left to the pod defaults", c.ImagePullPolicy)
	}
	if s.Template.Spec.SchedulerName != "defaulted" || s.VolumeClaimTemplates[0].Spec.VolumeMode == nil {
		t.Error("pod and claim template defaults not applied")
	}

	// What the user set stays; in-place types get an inPlaceUpdateStrategy.
	cs = cloneSet()
	cs.Spec.UpdateStrategy = v1alpha1.CloneSetUpdateStrategy{Type: v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType, MaxUnavailable: intOrStr("3")}
	cs.Spec.Template.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
	DefaultCloneSet(cs, true, TemplateDefaults{})
	if u := cs.Spec.UpdateStrategy; *u.MaxUnavailable != intstr.FromInt32(3) || u.InPlaceUpdateStrategy == nil || *cs.Spec.Replicas != 10 {
		t.Errorf("updateStrategy %+v replicas %d; want maxUnavailable 3 kept, an inPlaceUpdateStrategy, replicas 10", u, *cs.Spec.Replicas)
	}
	if p := cs.Spec.Template.Spec.Containers[0].ImagePullPolicy; p != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy %q, want the user's IfNotPresent", p)
	}
}

// On update the templates are defaulted only when the pod template changed,
// so a scale or a strategy change never changes the revision.
func TestCloneSetDefaulterTemplatesOnlyWhenChanged(t *testing.T) {
	d := &CloneSetDefaulter{Templates: fakeTemplateDefaults}
	old := cloneSet()
	for _, tc := range []struct {
		name          string
		op            admissionv1.Operation
		change        func(*v1alpha1.CloneSet)
		wantTemplates bool
	}{
		{"create", admissionv1.Create, func(*v1alpha1.CloneSet) {}, true},
		{"scale", admissionv1.Update, func(cs *v1alpha1.CloneSet) { cs.Spec.Replicas = new(int32) }, false},
		{"new image", admissionv1.Update, func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" }, true},
	} {
		cs := old.DeepCopy()
		tc.change(cs)
		oldRaw := raw(t, old)
		if tc.op == admissionv1.Create {
			oldRaw.Raw = nil
		}
		ctx := admission.NewContextWithRequest(context.Background(), admissionRequest(tc.op, raw(t, cs), oldRaw))
		if err := d.Default(ctx, cs); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := cs.Spec.Template.Spec.SchedulerName == "defaulted"
		if got != tc.wantTemplates {
			t.Errorf("%s: template defaulted = %v, want %v", tc.name, got, tc.wantTemplates)
		}
		if *cs.Spec.UpdateStrategy.MaxUnavailable != intstr.FromString("20%") {
			t.Errorf("%s: maxUnavailable %v, want the 20%% default on every write", tc.name, cs.Spec.UpdateStrategy.MaxUnavailable)
		}
	}
}
