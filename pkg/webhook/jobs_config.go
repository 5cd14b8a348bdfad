package webhook

import (
	"net/url"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// Names of the BroadcastJob and AdvancedCronJob webhooks inside the two
// configurations.
const (
	BroadcastJobWebhookName              = "broadcastjobs.validate.myriad.dev"
	BroadcastJobDefaultingWebhookName    = "broadcastjobs.default.myriad.dev"
	AdvancedCronJobWebhookName           = "advancedcronjobs.validate.myriad.dev"
	AdvancedCronJobDefaultingWebhookName = "advancedcronjobs.default.myriad.dev"
)

// atPath is client with its path replaced: one server serves every kind's
// webhook, each at its own path.
func atPath(client admissionregistrationv1.WebhookClientConfig, path string) admissionregistrationv1.WebhookClientConfig {
	c := *client.DeepCopy()
	if c.Service != nil {
		c.Service.Path = &path
	}
	if c.URL != nil {
		if u, err := url.Parse(*c.URL); err == nil {
			u.Path, u.RawPath = path, ""
			s := u.String()
			c.URL = &s
		}
	}
	return c
}

// jobWebhook is cloneSetWebhook's settings for another resource at path:
// the same fail-closed policy, for the same reason (only writes of that
// kind wait on it; status writes never do).
func jobWebhook(client admissionregistrationv1.WebhookClientConfig, resource, path string) webhookSettings {
	w := cloneSetWebhook(atPath(client, path))
	w.rules[0].Rule.APIVersions = []string{v1beta1.SchemeGroupVersion.Version}
	w.rules[0].Rule.Resources = []string{resource}
	return w
}

// jobValidatingWebhooks are the BroadcastJob and AdvancedCronJob entries of
// ValidatingWebhookConfiguration.
func jobValidatingWebhooks(client admissionregistrationv1.WebhookClientConfig) []admissionregistrationv1.ValidatingWebhook {
	var out []admissionregistrationv1.ValidatingWebhook
	for _, j := range []struct{ name, resource, path string }{
		{BroadcastJobWebhookName, "broadcastjobs", ValidateBroadcastJobPath},
		{AdvancedCronJobWebhookName, "advancedcronjobs", ValidateAdvancedCronJobPath},
	} {
		w := jobWebhook(client, j.resource, j.path)
		out = append(out, admissionregistrationv1.ValidatingWebhook{Name: j.name, ClientConfig: w.client, Rules: w.rules,
			FailurePolicy: w.failurePolicy, MatchPolicy: w.matchPolicy, SideEffects: w.sideEffects, TimeoutSeconds: w.timeout,
			AdmissionReviewVersions: []string{"v1"}})
	}
	return out
}

// jobMutatingWebhooks are the BroadcastJob and AdvancedCronJob entries of
// MutatingWebhookConfiguration.
func jobMutatingWebhooks(client admissionregistrationv1.WebhookClientConfig) []admissionregistrationv1.MutatingWebhook {
	var out []admissionregistrationv1.MutatingWebhook
	for _, j := range []struct{ name, resource, path string }{
		{BroadcastJobDefaultingWebhookName, "broadcastjobs", DefaultBroadcastJobPath},
		{AdvancedCronJobDefaultingWebhookName, "advancedcronjobs", DefaultAdvancedCronJobPath},
	} {
		w := jobWebhook(client, j.resource, j.path)
		reinvocation := admissionregistrationv1.NeverReinvocationPolicy
		out = append(out, admissionregistrationv1.MutatingWebhook{Name: j.name, ClientConfig: w.client, Rules: w.rules,
			FailurePolicy: w.failurePolicy, MatchPolicy: w.matchPolicy, SideEffects: w.sideEffects, TimeoutSeconds: w.timeout,
			ReinvocationPolicy: &reinvocation, AdmissionReviewVersions: []string{"v1"}})
	}
	return out
}
