package webhook

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// statefulSet is a valid, defaulted three-replica database with one claim
// template that each case changes.
func statefulSet(mod func(*v1beta1.StatefulSet)) *v1beta1.StatefulSet {
	sts := &v1beta1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: v1beta1.StatefulSetSpec{
			Replicas:    ptr.To[int32](3),
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	if mod != nil {
		mod(sts)
	}
	DefaultStatefulSet(sts, false, TemplateDefaults{})
	return sts
}

func stsRU(sts *v1beta1.StatefulSet) *v1beta1.RollingUpdateStatefulSetStrategy {
	if sts.Spec.UpdateStrategy.RollingUpdate == nil {
		sts.Spec.UpdateStrategy.RollingUpdate = &v1beta1.RollingUpdateStatefulSetStrategy{}
	}
	return sts.Spec.UpdateStrategy.RollingUpdate
}

func TestDefaultStatefulSet(t *testing.T) {
	sts := statefulSet(func(s *v1beta1.StatefulSet) { s.Spec.Replicas = nil })
	ru := sts.Spec.UpdateStrategy.RollingUpdate
	if *sts.Spec.Replicas != 1 || sts.Spec.PodManagementPolicy != appsv1.OrderedReadyPodManagement ||
		sts.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || ru == nil ||
		*ru.Partition != 0 || ru.MaxUnavailable.IntValue() != 1 || ru.PodUpdatePolicy != v1beta1.RecreatePodUpdateStrategyType ||
		*ru.MinReadySeconds != 0 || *sts.Spec.RevisionHistoryLimit != 10 ||
		sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled != v1beta1.RetainPersistentVolumeClaimRetentionPolicyType ||
		sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != v1beta1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("defaults differ from OpenKruise's: %+v rollingUpdate %+v", sts.Spec, ru)
	}
	onDelete := statefulSet(func(s *v1beta1.StatefulSet) { s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType })
	if onDelete.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("OnDelete got a rollingUpdate %+v, which admission would then reject", onDelete.Spec.UpdateStrategy.RollingUpdate)
	}
	if errs := ValidateStatefulSet(onDelete); len(errs) > 0 {
		t.Errorf("defaulted OnDelete StatefulSet rejected: %v", errs)
	}
}

func TestValidateStatefulSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*v1beta1.StatefulSet)
		wantErr string // "" = accepted; else the field path and a word of the message
	}{
		{name: "defaults"},
		{name: "everything OpenKruise allows", mod: func(s *v1beta1.StatefulSet) {
			s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
			s.Spec.ReserveOrdinals = []intstr.IntOrString{intstr.FromInt32(1), intstr.FromString("3-5"), intstr.FromString("7-7")}
			s.Spec.Ordinals = &v1beta1.StatefulSetOrdinals{Start: 2}
			s.Spec.ScaleStrategy = &v1beta1.StatefulSetScaleStrategy{MaxUnavailable: intOrStr("50%")}
			s.Spec.PersistentVolumeClaimRetentionPolicy = &v1beta1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: "Delete", WhenDeleted: "Retain"}
			s.Spec.Lifecycle = &pub.Lifecycle{PreDelete: &pub.LifecycleHook{FinalizersHandler: []string{"example.com/drain"}}}
			*stsRU(s) = v1beta1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](3), MaxUnavailable: intOrStr("2"),
				PodUpdatePolicy: v1beta1.InPlaceIfPossiblePodUpdateStrategyType, Paused: true, MinReadySeconds: ptr.To[int32](300),
				InPlaceUpdateStrategy: &pub.InPlaceUpdateStrategy{GracePeriodSeconds: 5},
				UnorderedUpdate:       &v1beta1.UnorderedUpdateStrategy{PriorityStrategy: &pub.UpdatePriorityStrategy{}}}
		}},
		{name: "maxUnavailable under OrderedReady", mod: func(s *v1beta1.StatefulSet) { stsRU(s).MaxUnavailable = intOrStr("2") }},
		{name: "selector not matching template", wantErr: "spec.template.metadata.labels",
			mod: func(s *v1beta1.StatefulSet) { s.Spec.Selector.MatchLabels = map[string]string{"app": "other"} }},
		{name: "no selector", wantErr: "spec.selector: Required",
			mod: func(s *v1beta1.StatefulSet) { s.Spec.Selector = nil }},
		{name: "negative reserved ordinal", wantErr: "spec.reserveOrdinals[1]: Invalid value: -2",
			mod: func(s *v1beta1.StatefulSet) {
				s.Spec.ReserveOrdinals = []intstr.IntOrString{intstr.FromInt32(1), intstr.FromInt32(-2)}
			}},
		{name: "reserved range not a range", wantErr: `spec.reserveOrdinals[0]: Invalid value: "a-3"`,
			mod: func(s *v1beta1.StatefulSet) { s.Spec.ReserveOrdinals = []intstr.IntOrString{intstr.FromString("a-3")} }},
		{name: "reserved range backwards", wantErr: `spec.reserveOrdinals[0]: Invalid value: "5-3": range "5-3" starts after it ends`,
			mod: func(s *v1beta1.StatefulSet) { s.Spec.ReserveOrdinals = []intstr.IntOrString{intstr.FromString("5-3")} }},
		{name: "reserved ordinal as a bare string", wantErr: `spec.reserveOrdinals[0]`,
			mod: func(s *v1beta1.StatefulSet) { s.Spec.ReserveOrdinals = []intstr.IntOrString{intstr.FromString("4")} }},
		{name: "partition above replicas", wantErr: "spec.updateStrategy.rollingUpdate.partition: Invalid value: 4: must not be greater than spec.replicas (3)",
			mod: func(s *v1beta1.StatefulSet) { stsRU(s).Partition = ptr.To[int32](4) }},
		{name: "negative partition", wantErr: "spec.updateStrategy.rollingUpdate.partition",
			mod: func(s *v1beta1.StatefulSet) { stsRU(s).Partition = ptr.To[int32](-1) }},
		{name: "unknown podManagementPolicy", wantErr: `spec.podManagementPolicy: Unsupported value: "Ordered"`,
			mod: func(s *v1beta1.StatefulSet) { s.Spec.PodManagementPolicy = "Ordered" }},
		{name: "unknown update type", wantErr: `spec.updateStrategy.type: Unsupported value: "Recreate"`,
			mod: func(s *v1beta1.StatefulSet) { s.Spec.UpdateStrategy.Type = "Recreate" }},
		{name: "rollingUpdate with OnDelete", wantErr: "spec.updateStrategy.rollingUpdate: Forbidden",
			mod: func(s *v1beta1.StatefulSet) {
				s.Spec.UpdateStrategy = v1beta1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType,
					RollingUpdate: &v1beta1.RollingUpdateStatefulSetStrategy{}}
			}},
		{name: "unknown podUpdatePolicy", wantErr: `spec.updateStrategy.rollingUpdate.podUpdatePolicy: Unsupported value: "InPlace"`,
			mod: func(s *v1beta1.StatefulSet) { stsRU(s).PodUpdatePolicy = "InPlace" }},
		{name: "maxUnavailable 0", wantErr: "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0",
			mod: func(s *v1beta1.StatefulSet) { stsRU(s).MaxUnavailable = intOrStr("0") }},
		{name: "maxUnavailable 0%", wantErr: "spec.updateStrategy.rollingUpdate.maxUnavailable",
			mod: func(s *v1beta1.StatefulSet) { stsRU(s).MaxUnavailable = intOrStr("0%") }},
		{name: "maxUnavailable above 100%", wantErr: "spec.updateStrategy.rollingUpdate.maxUnavailable",
			mod: func(s *v1beta1.StatefulSet) { stsRU(s).MaxUnavailable = intOrStr("150%") }},
		{name: "scale maxUnavailable negative", wantErr: "spec.scaleStrategy.maxUnavailable",
			mod: func(s *v1beta1.StatefulSet) {
				s.Spec.ScaleStrategy = &v1beta1.StatefulSetScaleStrategy{MaxUnavailable: ptr.To(intstr.FromInt32(-1))}
			}},
		{name: "minReadySeconds above 300", wantErr: "spec.updateStrategy.rollingUpdate.minReadySeconds",
			mod: func(s *v1beta1.StatefulSet) { stsRU(s).MinReadySeconds = ptr.To[int32](301) }},
		{name: "unorderedUpdate under OrderedReady", wantErr: "spec.updateStrategy.rollingUpdate.unorderedUpdate: Forbidden",
			mod: func(s *v1beta1.StatefulSet) { stsRU(s).UnorderedUpdate = &v1beta1.UnorderedUpdateStrategy{} }},
		{name: "unknown retention", wantErr: `spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: "Keep"`,
			mod: func(s *v1beta1.StatefulSet) {
				s.Spec.PersistentVolumeClaimRetentionPolicy = &v1beta1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: "Keep"}
			}},
		{name: "negative ordinals.start", wantErr: "spec.ordinals.start",
			mod: func(s *v1beta1.StatefulSet) { s.Spec.Ordinals = &v1beta1.StatefulSetOrdinals{Start: -1} }},
		{name: "restartPolicy Never", wantErr: "spec.template.spec.restartPolicy",
			mod: func(s *v1beta1.StatefulSet) { s.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }},
		{name: "negative replicas", wantErr: "spec.replicas",
			mod: func(s *v1beta1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](-1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateStatefulSet(statefulSet(tc.mod))
			got := ""
			if len(errs) > 0 {
				got = errs.ToAggregate().Error()
			}
			switch {
			case tc.wantErr == "" && got != "":
				t.Errorf("rejected: %s", got)
			case tc.wantErr != "" && !strings.Contains(got, tc.wantErr):
				t.Errorf("errors %q, want one containing %q", got, tc.wantErr)
			}
		})
	}
}

func TestValidateStatefulSetUpdate(t *testing.T) {
	old := statefulSet(nil)
	check := func(name string, mod func(*v1beta1.StatefulSet), wantErr string) {
		t.Helper()
		errs := ValidateStatefulSetUpdate(statefulSet(mod), old, inplace.EligibilityOptions{})
		got := ""
		if len(errs) > 0 {
			got = errs.ToAggregate().Error()
		}
		if (wantErr == "" && got != "") || (wantErr != "" && !strings.Contains(got, wantErr)) {
			t.Errorf("%s: errors %q, want %q", name, got, wantErr)
		}
	}
	check("scale and new image", func(s *v1beta1.StatefulSet) {
		s.Spec.Replicas = ptr.To[int32](5)
		s.Spec.Template.Spec.Containers[0].Image = "db:2"
		s.Spec.ReserveOrdinals = []intstr.IntOrString{intstr.FromString("1-2")}
	}, "")
	check("new selector", func(s *v1beta1.StatefulSet) {
		s.Spec.Selector.MatchLabels["tier"] = "x"
		s.Spec.Template.Labels["tier"] = "x"
	}, "spec.selector: Invalid value")
	check("new serviceName", func(s *v1beta1.StatefulSet) { s.Spec.ServiceName = "other" }, "spec.serviceName")
	check("new podManagementPolicy", func(s *v1beta1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }, "spec.podManagementPolicy")
	check("InPlaceOnly with an env change", func(s *v1beta1.StatefulSet) {
		stsRU(s).PodUpdatePolicy = v1beta1.InPlaceOnlyPodUpdateStrategyType
		s.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
	}, "spec.template")

	// A label the container reads into its environment cannot change in
	// place; the error names the labels, not a spec field.
	envOld := statefulSet(func(s *v1beta1.StatefulSet) {
		stsRU(s).PodUpdatePolicy = v1beta1.InPlaceOnlyPodUpdateStrategyType
		s.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "ROLE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['role']"}}}}
	})
	envNew := envOld.DeepCopy()
	envNew.Spec.Template.Labels["role"] = "primary"
	if errs := ValidateStatefulSetUpdate(envNew, envOld, inplace.EligibilityOptions{}); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "spec.template.metadata.labels: Forbidden") {
		t.Errorf("InPlaceOnly with a label read by env: errors %v, want spec.template.metadata.labels forbidden", errs)
	}

	// Scaling below an unchanged partition (kubectl scale, an HPA) must not
	// make the next edit fail.
	held := statefulSet(func(s *v1beta1.StatefulSet) { stsRU(s).Partition = ptr.To[int32](3) })
	scaled := statefulSet(func(s *v1beta1.StatefulSet) {
		stsRU(s).Partition = ptr.To[int32](3)
		s.Spec.Replicas = ptr.To[int32](1)
		s.Spec.Template.Spec.Containers[0].Image = "db:2"
	})
	if errs := ValidateStatefulSetUpdate(scaled, held, inplace.EligibilityOptions{}); len(errs) > 0 {
		t.Errorf("edit after scaling below an unchanged partition rejected: %v", errs)
	}
}
