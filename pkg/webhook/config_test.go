package webhook

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/rules"
	"k8s.io/utils/ptr"
)

func TestValidatingWebhookConfiguration(t *testing.T) {
	client := admissionregistrationv1.WebhookClientConfig{
		URL:      ptr.To("https://127.0.0.1:9443" + ValidateCloneSetPath),
		CABundle: []byte("ca"),
	}
	cfg := ValidatingWebhookConfiguration("myriad-clonesets", client)
	client.CABundle[0] = 'X' // the configuration must not alias the caller's bundle

	if cfg.Name != "myriad-clonesets" || len(cfg.Webhooks) == 0 || cfg.Webhooks[0].Name != CloneSetWebhookName {
		t.Fatalf("name %q with %d webhooks, want myriad-clonesets with the CloneSet one first", cfg.Name, len(cfg.Webhooks))
	}
	wh := cfg.Webhooks[0]
	if errs := validation.IsFullyQualifiedName(field.NewPath("name"), wh.Name); len(errs) > 0 {
		t.Errorf("webhook name: %v", errs.ToAggregate())
	}
	if *wh.ClientConfig.URL != "https://127.0.0.1:9443"+ValidateCloneSetPath || string(wh.ClientConfig.CABundle) != "ca" {
		t.Errorf("client config %+v", wh.ClientConfig)
	}
	if *wh.FailurePolicy != admissionregistrationv1.Fail || *wh.MatchPolicy != admissionregistrationv1.Equivalent ||
		*wh.SideEffects != admissionregistrationv1.SideEffectClassNone || *wh.TimeoutSeconds != 5 ||
		len(wh.AdmissionReviewVersions) != 1 || wh.AdmissionReviewVersions[0] != "v1" {
		t.Errorf("failurePolicy %s matchPolicy %s sideEffects %s timeout %d reviewVersions %v",
			*wh.FailurePolicy, *wh.MatchPolicy, *wh.SideEffects, *wh.TimeoutSeconds, wh.AdmissionReviewVersions)
	}
	if wh.NamespaceSelector != nil || wh.ObjectSelector != nil || len(wh.MatchConditions) > 0 {
		t.Errorf("the webhook must see every CloneSet: namespaceSelector %v objectSelector %v matchConditions %v",
			wh.NamespaceSelector, wh.ObjectSelector, wh.MatchConditions)
	}

	// Ask the API server's own rule matcher which requests reach the webhook.
	cloneSets := schema.GroupVersionResource{Group: "apps.kruise.io", Version: "v1alpha1", Resource: "clonesets"}
	cloneSetKind := schema.GroupVersionKind{Group: "apps.kruise.io", Version: "v1alpha1", Kind: "CloneSet"}
	for _, tc := range []struct {
		name        string
		kind        schema.GroupVersionKind
		resource    schema.GroupVersionResource
		subresource string
		op          admission.Operation
		want        bool
	}{
		{"create cloneset", cloneSetKind, cloneSets, "", admission.Create, true},
		{"update cloneset", cloneSetKind, cloneSets, "", admission.Update, true},
		{"delete cloneset", cloneSetKind, cloneSets, "", admission.Delete, false},
		{"update cloneset status", cloneSetKind, cloneSets, "status", admission.Update, false},
		{"update cloneset scale", schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, cloneSets, "scale", admission.Update, false},
		{"create pod", schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "", admission.Create, false},
		{"update pod status", schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "status", admission.Update, false},
		{"create pod binding", schema.GroupVersionKind{Version: "v1", Kind: "Binding"}, schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "binding", admission.Create, false},
		{"create deployment", schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "", admission.Create, false},
		{"create other kruise kind", schema.GroupVersionKind{Group: "apps.kruise.io", Version: "v1alpha1", Kind: "BroadcastJob"}, schema.GroupVersionResource{Group: "apps.kruise.io", Version: "v1alpha1", Resource: "broadcastjobs"}, "", admission.Create, false},
		{"update controllerrevision", schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ControllerRevision"}, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"}, "", admission.Update, false},
	} {
		attr := admission.NewAttributesRecord(nil, nil, tc.kind, "default", "x", tc.resource, tc.subresource, tc.op, nil, false, nil)
		matched := false
		for _, r := range wh.Rules {
			m := rules.Matcher{Rule: r, Attr: attr}
			matched = matched || m.Matches()
		}
		if matched != tc.want {
			t.Errorf("%s: reaches the webhook = %v, want %v", tc.name, matched, tc.want)
		}
	}
}

func TestMutatingWebhookConfiguration(t *testing.T) {
	url := "https://127.0.0.1:9443" + DefaultCloneSetPath
	cfg := MutatingWebhookConfiguration("myriad-clonesets", admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte("ca")})
	if cfg.Name != "myriad-clonesets" || cfg.Kind != "MutatingWebhookConfiguration" || len(cfg.Webhooks) == 0 || cfg.Webhooks[0].Name != CloneSetDefaultingWebhookName {
		t.Fatalf("%s %q with %d webhooks, want a MutatingWebhookConfiguration with the CloneSet one first", cfg.Kind, cfg.Name, len(cfg.Webhooks))
	}
	wh := cfg.Webhooks[0]
	if errs := validation.IsFullyQualifiedName(field.NewPath("name"), wh.Name); len(errs) > 0 || wh.Name == CloneSetWebhookName {
		t.Errorf("webhook name %q: %v (and it must differ from the validating one)", wh.Name, errs.ToAggregate())
	}
	if *wh.ClientConfig.URL != url || *wh.FailurePolicy != admissionregistrationv1.Fail ||
		*wh.SideEffects != admissionregistrationv1.SideEffectClassNone || *wh.ReinvocationPolicy != admissionregistrationv1.NeverReinvocationPolicy {
		t.Errorf("client %v failurePolicy %s sideEffects %s reinvocation %s", *wh.ClientConfig.URL, *wh.FailurePolicy, *wh.SideEffects, *wh.ReinvocationPolicy)
	}
	// Only CloneSet creates and updates: never pods, status or scale.
	cloneSets := schema.GroupVersionResource{Group: "apps.kruise.io", Version: "v1alpha1", Resource: "clonesets"}
	cloneSetKind := schema.GroupVersionKind{Group: "apps.kruise.io", Version: "v1alpha1", Kind: "CloneSet"}
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	for _, tc := range []struct {
		name        string
		kind        schema.GroupVersionKind
		resource    schema.GroupVersionResource
		subresource string
		op          admission.Operation
		want        bool
	}{
		{"create cloneset", cloneSetKind, cloneSets, "", admission.Create, true},
		{"update cloneset", cloneSetKind, cloneSets, "", admission.Update, true},
		{"update cloneset status", cloneSetKind, cloneSets, "status", admission.Update, false},
		{"update cloneset scale", schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, cloneSets, "scale", admission.Update, false},
		{"create pod", schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, pods, "", admission.Create, false},
	} {
		attr := admission.NewAttributesRecord(nil, nil, tc.kind, "default", "x", tc.resource, tc.subresource, tc.op, nil, false, nil)
		matched := false
		for _, r := range wh.Rules {
			matched = matched || (&rules.Matcher{Rule: r, Attr: attr}).Matches()
		}
		if matched != tc.want {
			t.Errorf("%s: reaches the webhook = %v, want %v", tc.name, matched, tc.want)
		}
	}
}
