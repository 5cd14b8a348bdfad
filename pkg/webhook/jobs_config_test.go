package webhook

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/rules"
	"k8s.io/utils/ptr"
)

// Each job kind's writes reach its own path on the one webhook server, in
// either served version, and nothing else does.
func TestJobWebhookRouting(t *testing.T) {
	url := "https://127.0.0.1:9443" + ValidateCloneSetPath
	vcfg := ValidatingWebhookConfiguration("w", admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte("ca")})
	mcfg := MutatingWebhookConfiguration("w", admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte("ca")})
	svc := ValidatingWebhookConfiguration("w", admissionregistrationv1.WebhookClientConfig{
		Service: &admissionregistrationv1.ServiceReference{Namespace: "kruise-system", Name: "hook", Path: ptr.To(ValidateCloneSetPath)}})

	type hook struct {
		name, url string
		rules     []admissionregistrationv1.RuleWithOperations
		policy    admissionregistrationv1.FailurePolicyType
		match     admissionregistrationv1.MatchPolicyType
	}
	hooks := map[string]hook{}
	for _, w := range vcfg.Webhooks {
		hooks[w.Name] = hook{w.Name, *w.ClientConfig.URL, w.Rules, *w.FailurePolicy, *w.MatchPolicy}
	}
	for _, w := range mcfg.Webhooks {
		hooks[w.Name] = hook{w.Name, *w.ClientConfig.URL, w.Rules, *w.FailurePolicy, *w.MatchPolicy}
	}
	bcj := schema.GroupVersionResource{Group: "apps.kruise.io", Version: "v1beta1", Resource: "broadcastjobs"}
	acj := schema.GroupVersionResource{Group: "apps.kruise.io", Version: "v1beta1", Resource: "advancedcronjobs"}
	for _, c := range []struct {
		name, path string
		resource   schema.GroupVersionResource
		other      schema.GroupVersionResource
	}{
		{BroadcastJobWebhookName, ValidateBroadcastJobPath, bcj, acj},
		{BroadcastJobDefaultingWebhookName, DefaultBroadcastJobPath, bcj, acj},
		{AdvancedCronJobWebhookName, ValidateAdvancedCronJobPath, acj, bcj},
		{AdvancedCronJobDefaultingWebhookName, DefaultAdvancedCronJobPath, acj, bcj},
	} {
		h, ok := hooks[c.name]
		if !ok {
			t.Errorf("no webhook %s", c.name)
			continue
		}
		if h.url != "https://127.0.0.1:9443"+c.path || h.policy != admissionregistrationv1.Fail || h.match != admissionregistrationv1.Equivalent {
			t.Errorf("%s: url %s failurePolicy %s matchPolicy %s", c.name, h.url, h.policy, h.match)
		}
		reaches := func(r schema.GroupVersionResource, sub string, op admission.Operation) bool {
			attr := admission.NewAttributesRecord(nil, nil, r.GroupVersion().WithKind("X"), "default", "x", r, sub, op, nil, false, nil)
			for _, rule := range h.rules {
				if (&rules.Matcher{Rule: rule, Attr: attr}).Matches() {
					return true
				}
			}
			return false
		}
		if !reaches(c.resource, "", admission.Create) || !reaches(c.resource, "", admission.Update) {
			t.Errorf("%s: creates and updates of %s do not reach it", c.name, c.resource.Resource)
		}
		if reaches(c.resource, "status", admission.Update) || reaches(c.resource, "", admission.Delete) || reaches(c.other, "", admission.Create) {
			t.Errorf("%s: status writes, deletes or %s reach it", c.name, c.other.Resource)
		}
	}
	for _, w := range svc.Webhooks {
		if w.Name == BroadcastJobWebhookName && *w.ClientConfig.Service.Path != ValidateBroadcastJobPath {
			t.Errorf("service path %s", *w.ClientConfig.Service.Path)
		}
	}
	if *svc.Webhooks[0].ClientConfig.Service.Path != ValidateCloneSetPath {
		t.Errorf("the CloneSet webhook's service path changed")
	}
}
