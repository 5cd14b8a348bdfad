package webhook

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

func claimSet(strategy v1beta1.VolumeClaimUpdateStrategyType, templates ...corev1.PersistentVolumeClaim) *v1beta1.StatefulSet {
	s := &v1beta1.StatefulSet{}
	s.Spec.VolumeClaimUpdateStrategy.Type = strategy
	s.Spec.VolumeClaimTemplates = templates
	return s
}

func claimTemplate(name, class, size string) corev1.PersistentVolumeClaim {
	c := corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if class != "" {
		c.Spec.StorageClassName = ptr.To(class)
	}
	c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	c.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}
	return c
}

func TestValidateClaimTemplateResize(t *testing.T) {
	classes := map[string]*storagev1.StorageClass{
		"grow":    {ObjectMeta: metav1.ObjectMeta{Name: "grow"}, AllowVolumeExpansion: ptr.To(true)},
		"fixed":   {ObjectMeta: metav1.ObjectMeta{Name: "fixed"}, AllowVolumeExpansion: ptr.To(false)},
		"default": {ObjectMeta: metav1.ObjectMeta{Name: "default"}, AllowVolumeExpansion: ptr.To(false)},
	}
	class := func(name *string) (*storagev1.StorageClass, error) {
		if name == nil {
			return classes["default"], nil
		}
		return classes[*name], nil
	}
	const on = v1beta1.OnPodRollingUpdateVolumeClaimUpdateStrategyType
	for _, tc := range []struct {
		name     string
		old, new *v1beta1.StatefulSet
		want     string // "" for admitted, else part of the error
	}{
		{"grow where the class allows", claimSet(on, claimTemplate("data", "grow", "1Gi")), claimSet(on, claimTemplate("data", "grow", "2Gi")), ""},
		{"grow where it does not", claimSet(on, claimTemplate("data", "fixed", "1Gi")), claimSet(on, claimTemplate("data", "fixed", "2Gi")),
			"spec.volumeClaimTemplates[0].spec.resources.requests.storage: Forbidden: storage class fixed does not allow volume expansion"},
		{"grow in the default class", claimSet(on, claimTemplate("data", "", "1Gi")), claimSet(on, claimTemplate("data", "", "2Gi")), "storage class default"},
		{"OnDelete: anything goes", claimSet("", claimTemplate("data", "fixed", "1Gi")), claimSet("", claimTemplate("data", "other", "2Gi")), ""},
		{"add a template", claimSet(on, claimTemplate("data", "grow", "1Gi")),
			claimSet(on, claimTemplate("data", "grow", "1Gi"), claimTemplate("logs", "grow", "1Gi")), "spec.volumeClaimTemplates: Forbidden"},
		{"rename", claimSet(on, claimTemplate("data", "grow", "1Gi")), claimSet(on, claimTemplate("db", "grow", "1Gi")), "metadata.name"},
		{"change class", claimSet(on, claimTemplate("data", "grow", "1Gi")), claimSet(on, claimTemplate("data", "fixed", "1Gi")), "only the storage size"},
	} {
		errs := ValidateClaimTemplateResize(tc.new, tc.old, class)
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%s: refused: %v", tc.name, errs)
		case tc.want != "" && (len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.want)):
			t.Errorf("%s: errors %v, want one with %q", tc.name, errs, tc.want)
		}
	}
}
