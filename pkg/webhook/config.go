package webhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// CloneSetWebhookName names the CloneSet webhook inside the configuration;
// the API server requires a fully qualified name and prints it in denials.
const CloneSetWebhookName = "clonesets.validate.myriad.dev"

// ValidatingWebhookConfiguration routes CloneSet creates and updates, and
// nothing else, to the webhook at client. The caller fills client with
// either a URL (https://127.0.0.1:PORT + ValidateCloneSetPath, when the
// manager runs on the host as under `myriad up`) or a Service reference with
// Path ValidateCloneSetPath, plus the CA bundle that signed the serving
// certificate.
func ValidatingWebhookConfiguration(name string, client admissionregistrationv1.WebhookClientConfig) *admissionregistrationv1.ValidatingWebhookConfiguration {
	// Fail closed: a CloneSet admitted unvalidated can be half-applied, a
	// template the controller cannot roll out or a strategy that stalls the
	// rollout, with nothing telling the user why. Failing closed costs
	// little because only CloneSet writes are in scope: pods, their status
	// and the CloneSet's status and scale subresources never reach the
	// webhook, so a webhook that is down blocks no pod creation, no
	// controller status write and no `kubectl scale`.
	failurePolicy := admissionregistrationv1.Fail
	// Equivalent: a write through another version of the same kind is
	// converted to v1alpha1 and validated too.
	matchPolicy := admissionregistrationv1.Equivalent
	sideEffects := admissionregistrationv1.SideEffectClassNone
	scope := admissionregistrationv1.NamespacedScope
	timeout := int32(5) // validation is pure and takes microseconds
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta: metav1.TypeMeta{
			APIVersion: admissionregistrationv1.SchemeGroupVersion.String(),
			Kind:       "ValidatingWebhookConfiguration",
		},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:         CloneSetWebhookName,
			ClientConfig: *client.DeepCopy(),
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{v1alpha1.GroupName},
					APIVersions: []string{v1alpha1.SchemeGroupVersion.Version},
					Resources:   []string{"clonesets"}, // no subresources: status and scale are not validated
					Scope:       &scope,
				},
			}},
			FailurePolicy:           &failurePolicy,
			MatchPolicy:             &matchPolicy,
			SideEffects:             &sideEffects,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
}
