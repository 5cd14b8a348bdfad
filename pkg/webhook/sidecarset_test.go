package webhook

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

func validSidecarSet() *v1beta1.SidecarSet {
	return &v1beta1.SidecarSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: v1beta1.SidecarSetSpec{
			Selector:   &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Containers: []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "agent", Image: "agent:1"}}},
			Volumes:    []corev1.Volume{{Name: "logs"}},
		},
	}
}

func TestValidateSidecarSetNamesTheField(t *testing.T) {
	if errs := ValidateSidecarSet(validSidecarSet()); len(errs) > 0 {
		t.Fatalf("a valid SidecarSet was refused: %v", errs)
	}
	for _, tc := range []struct {
		field  string
		mutate func(*v1beta1.SidecarSet)
	}{
		{"spec.selector", func(s *v1beta1.SidecarSet) { s.Spec.Selector = nil }},
		{"spec.selector", func(s *v1beta1.SidecarSet) { s.Spec.Selector = &metav1.LabelSelector{} }},
		{"spec.selector.matchExpressions[0].operator", func(s *v1beta1.SidecarSet) {
			s.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}
		}},
		{"spec.namespaceSelector.matchLabels", func(s *v1beta1.SidecarSet) {
			s.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}}
		}},
		{"spec.namespace", func(s *v1beta1.SidecarSet) { s.Spec.Namespace = "Not_A_Namespace" }},
		{"spec.containers[1].name", func(s *v1beta1.SidecarSet) { s.Spec.Containers = append(s.Spec.Containers, s.Spec.Containers[0]) }},
		{"spec.containers[0].name", func(s *v1beta1.SidecarSet) {
			s.Spec.InitContainers = []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "agent", Image: "x"}}}
		}},
		{"spec.containers[0].image", func(s *v1beta1.SidecarSet) { s.Spec.Containers[0].Image = "" }},
		{"spec.containers[0].upgradeStrategy.hotUpgradeEmptyImage", func(s *v1beta1.SidecarSet) {
			s.Spec.Containers[0].UpgradeStrategy.UpgradeType = v1beta1.SidecarContainerHotUpgrade
		}},
		{"spec.containers[0].upgradeStrategy.upgradeType", func(s *v1beta1.SidecarSet) {
			s.Spec.Containers[0].UpgradeStrategy.UpgradeType = "Warm"
		}},
		{"spec.containers[1].name", func(s *v1beta1.SidecarSet) {
			s.Spec.Containers[0].UpgradeStrategy = v1beta1.SidecarContainerUpgradeStrategy{UpgradeType: v1beta1.SidecarContainerHotUpgrade, HotUpgradeEmptyImage: "empty:1"}
			s.Spec.Containers = append(s.Spec.Containers, v1beta1.SidecarContainer{Container: corev1.Container{Name: "agent-2", Image: "x"}})
		}},
		{"spec.containers[0].podInjectPolicy", func(s *v1beta1.SidecarSet) { s.Spec.Containers[0].PodInjectPolicy = "Middle" }},
		{"spec.containers[0].shareVolumePolicy.type", func(s *v1beta1.SidecarSet) { s.Spec.Containers[0].ShareVolumePolicy.Type = "yes" }},
		{"spec.volumes[1].name", func(s *v1beta1.SidecarSet) { s.Spec.Volumes = append(s.Spec.Volumes, s.Spec.Volumes[0]) }},
		{"spec.injectionStrategy.revision.policy", func(s *v1beta1.SidecarSet) {
			s.Spec.InjectionStrategy.Revision = &v1beta1.SidecarSetInjectRevision{Policy: "Sometimes"}
		}},
		{"spec.containers[agent].transferEnv[0]", func(s *v1beta1.SidecarSet) {
			s.Spec.Containers[0].TransferEnv = []v1beta1.TransferEnvVar{{EnvName: "TZ"}}
		}},
	} {
		ss := validSidecarSet()
		tc.mutate(ss)
		errs := ValidateSidecarSet(ss)
		if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.field) {
			t.Errorf("errors %v, want one naming %s", errs, tc.field)
		}
	}
}

func TestSidecarSetWebhookIsClusterScopedAndSeesNoPods(t *testing.T) {
	url := "https://127.0.0.1:1/x"
	cfg := ValidatingWebhookConfiguration("c", admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte("ca")})
	for _, w := range cfg.Webhooks {
		if w.Name != SidecarSetWebhookName {
			continue
		}
		r := w.Rules[0]
		if r.Resources[0] != "sidecarsets" || len(r.Resources) != 1 || *r.Scope != "Cluster" || !strings.HasSuffix(*w.ClientConfig.URL, ValidateSidecarSetPath) {
			t.Errorf("rule %+v url %s", r, *w.ClientConfig.URL)
		}
		return
	}
	t.Error("no SidecarSet webhook in the configuration")
}

// A valid new SidecarSet's injection is put in force at admission; an
// invalid one, and a dry run, write nothing.
func TestSidecarSetAdmissionEnforcesNewSidecarSets(t *testing.T) {
	var enforced []string
	a := SidecarSetAdmission{Enforce: func(_ context.Context, ss *v1beta1.SidecarSet) bool {
		enforced = append(enforced, ss.Name)
		return true
	}}
	ctx := func(dryRun bool) context.Context {
		return admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{DryRun: &dryRun}})
	}
	if _, err := a.ValidateCreate(ctx(false), validSidecarSet()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ValidateCreate(ctx(true), validSidecarSet()); err != nil {
		t.Fatal(err)
	}
	bad := validSidecarSet()
	bad.Spec.Selector = nil
	if _, err := a.ValidateCreate(ctx(false), bad); err == nil {
		t.Fatal("invalid SidecarSet admitted")
	}
	if len(enforced) != 1 {
		t.Errorf("enforced %d times, want once (not for the dry run or the invalid one)", len(enforced))
	}
	url := "https://127.0.0.1:1/x"
	for _, w := range ValidatingWebhookConfiguration("c", admissionregistrationv1.WebhookClientConfig{URL: &url}).Webhooks {
		if w.Name == SidecarSetWebhookName && (*w.SideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun ||
			time.Duration(*w.TimeoutSeconds)*time.Second <= SidecarSetEnforceWait) {
			t.Errorf("webhook side effects %s, timeout %ds: want NoneOnDryRun and more than the %s wait", *w.SideEffects, *w.TimeoutSeconds, SidecarSetEnforceWait)
		}
	}
}
