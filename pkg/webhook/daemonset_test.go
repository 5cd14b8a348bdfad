package webhook

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// daemonSet is a valid, defaulted node agent that each case changes.
func daemonSet(mod func(*v1beta1.DaemonSet)) *v1beta1.DaemonSet {
	ds := &v1beta1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"},
		Spec: v1beta1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:1"}}},
			},
			UpdateStrategy: v1beta1.DaemonSetUpdateStrategy{RollingUpdate: &v1beta1.RollingUpdateDaemonSet{}},
		},
	}
	if mod != nil {
		mod(ds)
	}
	DefaultDaemonSet(ds, false, TemplateDefaults{})
	return ds
}

func ru(ds *v1beta1.DaemonSet) *v1beta1.RollingUpdateDaemonSet {
	return ds.Spec.UpdateStrategy.RollingUpdate
}

func TestValidateDaemonSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*v1beta1.DaemonSet)
		wantErr string // "" = accepted; else the field path and a word of the message
	}{
		{name: "defaults"},
		{name: "phased in-place rollout", mod: func(ds *v1beta1.DaemonSet) {
			*ru(ds) = v1beta1.RollingUpdateDaemonSet{Type: v1beta1.InplaceRollingUpdateType, MaxUnavailable: intOrStr("10%"),
				Partition: intOrStr("3"), Paused: ptr.To(true), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"wave": "1"}}}
		}},
		{name: "surge", mod: func(ds *v1beta1.DaemonSet) { ru(ds).MaxSurge = intOrStr("25%") }},
		{name: "deprecated Surging is Standard with surge", mod: func(ds *v1beta1.DaemonSet) { ru(ds).Type = v1beta1.DeprecatedSurgingRollingUpdateType }},
		{name: "selector not matching template", wantErr: "spec.template.metadata.labels",
			mod: func(ds *v1beta1.DaemonSet) { ds.Spec.Selector.MatchLabels = map[string]string{"app": "other"} }},
		{name: "empty selector", wantErr: "spec.selector: Invalid value",
			mod: func(ds *v1beta1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} }},
		{name: "unknown rollingUpdateType", wantErr: `spec.updateStrategy.rollingUpdate.rollingUpdateType: Unsupported value: "Rolling"`,
			mod: func(ds *v1beta1.DaemonSet) { ru(ds).Type = "Rolling" }},
		{name: "unknown update type", wantErr: "spec.updateStrategy.type: Unsupported value",
			mod: func(ds *v1beta1.DaemonSet) { ds.Spec.UpdateStrategy.Type = "Recreate" }},
		{name: "maxSurge with InPlaceIfPossible", wantErr: "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: must be 0 with rollingUpdateType InPlaceIfPossible",
			mod: func(ds *v1beta1.DaemonSet) {
				*ru(ds) = v1beta1.RollingUpdateDaemonSet{Type: v1beta1.InplaceRollingUpdateType, MaxSurge: intOrStr("1")}
			}},
		{name: "maxSurge and maxUnavailable both set", wantErr: "spec.updateStrategy.rollingUpdate.maxSurge",
			mod: func(ds *v1beta1.DaemonSet) {
				*ru(ds) = v1beta1.RollingUpdateDaemonSet{MaxSurge: intOrStr("1"), MaxUnavailable: intOrStr("1")}
			}},
		{name: "maxUnavailable and maxSurge both 0", wantErr: "spec.updateStrategy.rollingUpdate.maxUnavailable",
			mod: func(ds *v1beta1.DaemonSet) {
				*ru(ds) = v1beta1.RollingUpdateDaemonSet{MaxSurge: intOrStr("0%"), MaxUnavailable: intOrStr("0")}
			}},
		{name: "negative partition", wantErr: "spec.updateStrategy.rollingUpdate.partition",
			mod: func(ds *v1beta1.DaemonSet) { ru(ds).Partition = ptr.To(intstr.FromInt32(-1)) }},
		{name: "partition above 100%", wantErr: "spec.updateStrategy.rollingUpdate.partition",
			mod: func(ds *v1beta1.DaemonSet) { ru(ds).Partition = intOrStr("120%") }},
		{name: "unparsable rollout selector", wantErr: "spec.updateStrategy.rollingUpdate.selector.matchExpressions[0].operator",
			mod: func(ds *v1beta1.DaemonSet) {
				ru(ds).Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "wave", Operator: "Near"}}}
			}},
		{name: "rollout selector with a bad label key", wantErr: "spec.updateStrategy.rollingUpdate.selector.matchLabels",
			mod: func(ds *v1beta1.DaemonSet) {
				ru(ds).Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "1"}}
			}},
		{name: "burstReplicas 0", wantErr: "spec.burstReplicas",
			mod: func(ds *v1beta1.DaemonSet) { ds.Spec.BurstReplicas = ptr.To(intstr.FromInt32(0)) }},
		{name: "inPlaceUpdate hook", wantErr: "spec.lifecycle.inPlaceUpdate: Forbidden",
			mod: func(ds *v1beta1.DaemonSet) {
				ds.Spec.Lifecycle = &pub.Lifecycle{InPlaceUpdate: &pub.LifecycleHook{FinalizersHandler: []string{"example.com/x"}}}
			}},
		{name: "preDelete hook", mod: func(ds *v1beta1.DaemonSet) {
			ds.Spec.Lifecycle = &pub.Lifecycle{PreDelete: &pub.LifecycleHook{FinalizersHandler: []string{"example.com/drain"}}}
		}},
		{name: "restartPolicy Never", wantErr: "spec.template.spec.restartPolicy",
			mod: func(ds *v1beta1.DaemonSet) { ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateDaemonSet(daemonSet(tc.mod))
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

func TestValidateDaemonSetUpdate(t *testing.T) {
	old := daemonSet(nil)
	moved := daemonSet(func(ds *v1beta1.DaemonSet) {
		ds.Spec.Selector.MatchLabels["tier"] = "node"
		ds.Spec.Template.Labels["tier"] = "node"
	})
	if errs := ValidateDaemonSetUpdate(moved, old); !strings.Contains(errs.ToAggregate().Error(), "spec.selector: Invalid value") {
		t.Errorf("selector change: %v", errs)
	}
	image := daemonSet(func(ds *v1beta1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
	if errs := ValidateDaemonSetUpdate(image, old); len(errs) > 0 {
		t.Errorf("image change rejected: %v", errs)
	}
}

func TestDefaultDaemonSet(t *testing.T) {
	ds := &v1beta1.DaemonSet{}
	DefaultDaemonSet(ds, true, TemplateDefaults{PodTemplate: func(t *corev1.PodTemplateSpec) { t.Spec.DNSPolicy = corev1.DNSClusterFirst }})
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != v1beta1.RollingUpdateDaemonSetStrategyType || r == nil || r.Type != v1beta1.StandardRollingUpdateType ||
		r.MaxUnavailable.String() != "1" || r.MaxSurge.String() != "0" || ds.Spec.BurstReplicas.String() != "250" ||
		*ds.Spec.RevisionHistoryLimit != 10 || ds.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("OpenKruise defaults not applied: %+v %+v", ds.Spec, r)
	}
	surging := &v1beta1.DaemonSet{Spec: v1beta1.DaemonSetSpec{UpdateStrategy: v1beta1.DaemonSetUpdateStrategy{
		RollingUpdate: &v1beta1.RollingUpdateDaemonSet{Type: v1beta1.DeprecatedSurgingRollingUpdateType}}}}
	DefaultDaemonSet(surging, false, TemplateDefaults{})
	if r := surging.Spec.UpdateStrategy.RollingUpdate; r.Type != v1beta1.StandardRollingUpdateType || r.MaxSurge.String() != "1" || r.MaxUnavailable.String() != "0" {
		t.Errorf("Surging defaulted to %+v, want Standard with maxSurge 1 and maxUnavailable 0", r)
	}
	if errs := ValidateDaemonSet(daemonSet(func(ds *v1beta1.DaemonSet) { ru(ds).Type = v1beta1.DeprecatedSurgingRollingUpdateType })); len(errs) > 0 {
		t.Errorf("defaulted Surging rejected: %v", errs)
	}
}

// The DaemonSet webhooks see writes of both versions (Equivalent) and
// nothing but daemonsets: never its status, never pods.
func TestDaemonSetWebhooks(t *testing.T) {
	url := "https://127.0.0.1:9443" + ValidateDaemonSetPath
	v := DaemonSetValidatingWebhook(admissionregistrationv1.WebhookClientConfig{URL: &url})
	m := DaemonSetMutatingWebhook(admissionregistrationv1.WebhookClientConfig{URL: &url})
	for _, wh := range []struct {
		name  string
		rules []admissionregistrationv1.RuleWithOperations
		match *admissionregistrationv1.MatchPolicyType
	}{{v.Name, v.Rules, v.MatchPolicy}, {m.Name, m.Rules, m.MatchPolicy}} {
		if len(wh.rules) != 1 || strings.Join(wh.rules[0].Resources, ",") != "daemonsets" ||
			strings.Join(wh.rules[0].APIVersions, ",") != "v1beta1" || *wh.match != admissionregistrationv1.Equivalent {
			t.Errorf("%s: rules %+v match %s", wh.name, wh.rules, *wh.match)
		}
	}
	if *v.ClientConfig.URL != url || *v.FailurePolicy != admissionregistrationv1.Fail {
		t.Errorf("client %v failure policy %s", *v.ClientConfig.URL, *v.FailurePolicy)
	}
}
