package webhook

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

func TestSelectorsOverlap(t *testing.T) {
	eq := func(k, v string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	}
	expr := func(k string, op metav1.LabelSelectorOperator, vals ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: k, Operator: op, Values: vals}}}
	}
	for _, tc := range []struct {
		name string
		a, b *metav1.LabelSelector
		want bool
		// a label set both select, when they overlap
		both map[string]string
	}{
		{"different keys", eq("app", "web"), eq("tier", "front"), true, map[string]string{"app": "web", "tier": "front"}},
		{"same key, other value", eq("app", "web"), eq("app", "db"), false, nil},
		{"value in the set", eq("app", "web"), expr("app", metav1.LabelSelectorOpIn, "web", "api"), true, map[string]string{"app": "web"}},
		{"sets that do not meet", expr("app", metav1.LabelSelectorOpIn, "a", "b"), expr("app", metav1.LabelSelectorOpIn, "c"), false, nil},
		{"every value excluded", expr("app", metav1.LabelSelectorOpIn, "a", "b"), expr("app", metav1.LabelSelectorOpNotIn, "a", "b", "c"), false, nil},
		{"one value left", expr("app", metav1.LabelSelectorOpIn, "a", "b"), expr("app", metav1.LabelSelectorOpNotIn, "a"), true, map[string]string{"app": "b"}},
		{"exists and does not", expr("app", metav1.LabelSelectorOpExists), expr("app", metav1.LabelSelectorOpDoesNotExist), false, nil},
		{"a value and does not exist", eq("app", "web"), expr("app", metav1.LabelSelectorOpDoesNotExist), false, nil},
		{"not in and absent", expr("app", metav1.LabelSelectorOpNotIn, "web"), expr("app", metav1.LabelSelectorOpDoesNotExist), true, map[string]string{}},
		{"everything", &metav1.LabelSelector{}, eq("app", "web"), true, map[string]string{"app": "web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, pair := range [][2]*metav1.LabelSelector{{tc.a, tc.b}, {tc.b, tc.a}} {
				if got := selectorsOverlap(pair[0], pair[1]); got != tc.want {
					t.Errorf("overlap %v, want %v", got, tc.want)
				}
			}
			if tc.both != nil {
				for _, s := range []*metav1.LabelSelector{tc.a, tc.b} {
					sel, err := metav1.LabelSelectorAsSelector(s)
					if err != nil || !sel.Matches(labels.Set(tc.both)) {
						t.Errorf("the test's witness %v is not selected by %v", tc.both, s)
					}
				}
			}
		})
	}
}

func TestSidecarSetNamesMustNotMeetAnotherForTheSamePods(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	existing := validSidecarSet()
	existing.Name = "mesh"
	existing.Spec.Containers = []v1beta1.SidecarContainer{
		{Container: corev1.Container{Name: "envoy", Image: "envoy:1"}},
		{Container: corev1.Container{Name: "hot", Image: "hot:1"}, UpgradeStrategy: v1beta1.SidecarContainerUpgradeStrategy{
			UpgradeType: v1beta1.SidecarContainerHotUpgrade, HotUpgradeEmptyImage: "empty:1"}},
	}
	existing.Spec.InitContainers = []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "mesh-init", Image: "init:1"}}}
	existing.Spec.Volumes = []corev1.Volume{{Name: "certs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	existing.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
	a := SidecarSetAdmission{SidecarSets: fake.NewClientBuilder().WithScheme(scheme).WithObjects(existing).Build()}

	for _, tc := range []struct {
		name   string
		mutate func(*v1beta1.SidecarSet)
		field  string // "" when accepted
	}{
		{"a container of the same name", func(s *v1beta1.SidecarSet) { s.Spec.Containers[0].Name = "envoy" }, "spec.containers[0].name"},
		{"an init container named as its container", func(s *v1beta1.SidecarSet) {
			s.Spec.InitContainers = []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "envoy", Image: "x"}}}
		}, "spec.initContainers[0].name"},
		{"an init container of the same name", func(s *v1beta1.SidecarSet) {
			s.Spec.InitContainers = []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "mesh-init", Image: "x"}}}
		}, "spec.initContainers[0].name"},
		{"a name of its HotUpgrade pair", func(s *v1beta1.SidecarSet) { s.Spec.Containers[0].Name = "hot-2" }, "spec.containers[0].name"},
		{"a different volume of the same name", func(s *v1beta1.SidecarSet) { s.Spec.Volumes[0].Name = "certs" }, "spec.volumes[0].name"},
		{"the same volume", func(s *v1beta1.SidecarSet) { s.Spec.Volumes = existing.Spec.Volumes }, ""},
		{"pods of another app", func(s *v1beta1.SidecarSet) {
			s.Spec.Containers[0].Name = "envoy"
			s.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
		}, ""},
		{"a narrower selector still meets", func(s *v1beta1.SidecarSet) {
			s.Spec.Containers[0].Name = "envoy"
			s.Spec.Selector.MatchLabels["tier"] = "front"
		}, "spec.containers[0].name"},
		{"namespaces of another env", func(s *v1beta1.SidecarSet) {
			s.Spec.Containers[0].Name = "envoy"
			s.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "dev"}}
		}, ""},
		{"a v1alpha1 namespace the other's selector may hold", func(s *v1beta1.SidecarSet) {
			s.Spec.Containers[0].Name = "envoy"
			s.Spec.Namespace = "shop"
		}, "spec.containers[0].name"},
		{"the SidecarSet itself, updated", func(s *v1beta1.SidecarSet) {
			s.Name = "mesh"
			s.Spec.Containers[0].Name = "envoy"
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := validSidecarSet()
			tc.mutate(ss)
			_, err := a.ValidateCreate(context.Background(), ss)
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field+": Invalid value") || !strings.Contains(err.Error(), "SidecarSet mesh")):
				t.Errorf("got %v, want %s refused naming SidecarSet mesh", err, tc.field)
			}
		})
	}
}
