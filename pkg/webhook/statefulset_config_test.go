package webhook

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/utils/ptr"
)

// Both configurations send Advanced StatefulSet writes to their own paths,
// and only apps.kruise.io statefulsets: apps/v1 StatefulSets never wait on
// Myriad's webhook.
func TestStatefulSetWebhooksInConfigurations(t *testing.T) {
	client := admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://127.0.0.1:9443" + ValidateCloneSetPath)}
	check := func(kind, url string, rules []admissionregistrationv1.RuleWithOperations, wantPath string) {
		t.Helper()
		if url != "https://127.0.0.1:9443"+wantPath {
			t.Errorf("%s webhook calls %s, want path %s", kind, url, wantPath)
		}
		if len(rules) != 1 || len(rules[0].APIGroups) != 1 || rules[0].APIGroups[0] != "apps.kruise.io" ||
			len(rules[0].Resources) != 1 || rules[0].Resources[0] != "statefulsets" {
			t.Errorf("%s webhook rules %+v, want apps.kruise.io statefulsets only", kind, rules)
		}
	}
	found := 0
	for _, w := range ValidatingWebhookConfiguration("myriad-clonesets", client).Webhooks {
		if w.Name == StatefulSetWebhookName {
			found++
			check("validating", *w.ClientConfig.URL, w.Rules, ValidateStatefulSetPath)
		}
	}
	for _, w := range MutatingWebhookConfiguration("myriad-clonesets", client).Webhooks {
		if w.Name == StatefulSetDefaultingWebhookName {
			found++
			check("mutating", *w.ClientConfig.URL, w.Rules, DefaultStatefulSetPath)
		}
	}
	if found != 2 {
		t.Errorf("found %d StatefulSet webhooks, want one validating and one mutating", found)
	}
}
