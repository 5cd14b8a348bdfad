package webhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// CloneSetWebhookName names the CloneSet webhook inside the validating
// configuration, CloneSetDefaultingWebhookName inside the mutating one; the
// API server requires fully qualified names and prints them in denials.
const (
	CloneSetWebhookName           = "clonesets.validate.myriad.dev"
	CloneSetDefaultingWebhookName = "clonesets.default.myriad.dev"
)

// ValidatingWebhookConfiguration routes CloneSet creates and updates, and
// nothing else, to the webhook at client. The caller fills client with
// either a URL (https://127.0.0.1:PORT + ValidateCloneSetPath, when the
// manager runs on the host as under `myriad up`) or a Service reference with
// Path ValidateCloneSetPath, plus the CA bundle that signed the serving
// certificate.
func ValidatingWebhookConfiguration(name string, client admissionregistrationv1.WebhookClientConfig) *admissionregistrationv1.ValidatingWebhookConfiguration {
	c := cloneSetWebhook(client)
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta: metav1.TypeMeta{
			APIVersion: admissionregistrationv1.SchemeGroupVersion.String(),
			Kind:       "ValidatingWebhookConfiguration",
		},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: append([]admissionregistrationv1.ValidatingWebhook{{
			Name:                    CloneSetWebhookName,
			ClientConfig:            c.client,
			Rules:                   c.rules,
			FailurePolicy:           c.failurePolicy,
			MatchPolicy:             c.matchPolicy,
			SideEffects:             c.sideEffects,
			TimeoutSeconds:          c.timeout,
			AdmissionReviewVersions: []string{"v1"},
		}}, append(jobValidatingWebhooks(client), DaemonSetValidatingWebhook(atPath(client, ValidateDaemonSetPath)), sidecarSetValidatingWebhook(client), StatefulSetValidatingWebhook(client))...),
	}
}

// MutatingWebhookConfiguration routes CloneSet creates and updates, and
// nothing else, to the defaulting webhook at client, which the caller fills
// as for ValidatingWebhookConfiguration but with DefaultCloneSetPath. It
// fails closed for the same reasons: a CloneSet stored undefaulted reads
// back differently from OpenKruise, and only CloneSet writes wait on it.
func MutatingWebhookConfiguration(name string, client admissionregistrationv1.WebhookClientConfig) *admissionregistrationv1.MutatingWebhookConfiguration {
	c := cloneSetWebhook(client)
	// Never: the defaults depend on no other field another webhook could set.
	reinvocation := admissionregistrationv1.NeverReinvocationPolicy
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta: metav1.TypeMeta{
			APIVersion: admissionregistrationv1.SchemeGroupVersion.String(),
			Kind:       "MutatingWebhookConfiguration",
		},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: append([]admissionregistrationv1.MutatingWebhook{{
			Name:                    CloneSetDefaultingWebhookName,
			ClientConfig:            c.client,
			Rules:                   c.rules,
			FailurePolicy:           c.failurePolicy,
			MatchPolicy:             c.matchPolicy,
			SideEffects:             c.sideEffects,
			TimeoutSeconds:          c.timeout,
			ReinvocationPolicy:      &reinvocation,
			AdmissionReviewVersions: []string{"v1"},
		}}, append(jobMutatingWebhooks(client), DaemonSetMutatingWebhook(atPath(client, DefaultDaemonSetPath)), StatefulSetMutatingWebhook(client), sidecarSetMutatingWebhook(client))...),
	}
}

// webhookSettings are what the validating and the mutating CloneSet
// webhooks share.
type webhookSettings struct {
	client        admissionregistrationv1.WebhookClientConfig
	rules         []admissionregistrationv1.RuleWithOperations
	failurePolicy *admissionregistrationv1.FailurePolicyType
	matchPolicy   *admissionregistrationv1.MatchPolicyType
	sideEffects   *admissionregistrationv1.SideEffectClass
	timeout       *int32
}

func cloneSetWebhook(client admissionregistrationv1.WebhookClientConfig) webhookSettings {
	return workloadWebhook(client, "clonesets", v1alpha1.SchemeGroupVersion.Version)
}

// workloadWebhook is the webhook of one apps.kruise.io resource, served
// at version; the reasons for each setting are CloneSet's and hold for
// every workload.
func workloadWebhook(client admissionregistrationv1.WebhookClientConfig, resource, version string) webhookSettings {
	// Fail closed: a CloneSet admitted unvalidated can be half-applied, a
	// template the controller cannot roll out or a strategy that stalls the
	// rollout, with nothing telling the user why. Failing closed costs
	// little because only CloneSet writes are in scope: pods, their status
	// and the CloneSet's status and scale subresources never reach the
	// webhooks, so a webhook that is down blocks no pod creation, no
	// controller status write and no `kubectl scale`.
	failurePolicy := admissionregistrationv1.Fail
	// Equivalent: a write through another version of the same kind is
	// converted to v1alpha1 and admitted too.
	matchPolicy := admissionregistrationv1.Equivalent
	sideEffects := admissionregistrationv1.SideEffectClassNone
	scope := admissionregistrationv1.NamespacedScope
	timeout := int32(5) // admission is pure and takes microseconds
	return webhookSettings{
		client: *client.DeepCopy(),
		rules: []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule: admissionregistrationv1.Rule{
				APIGroups:   []string{v1alpha1.GroupName},
				APIVersions: []string{version},
				Resources:   []string{resource}, // no subresources: status and scale are not admitted here
				Scope:       &scope,
			},
		}},
		failurePolicy: &failurePolicy, matchPolicy: &matchPolicy, sideEffects: &sideEffects, timeout: &timeout,
	}
}

// DaemonSet webhook names, inside the validating and the mutating
// configuration.
const (
	DaemonSetWebhookName           = "daemonsets.validate.myriad.dev"
	DaemonSetDefaultingWebhookName = "daemonsets.default.myriad.dev"
)

// DaemonSetValidatingWebhook routes Advanced DaemonSet creates and updates,
// of either version (matched Equivalent, admitted as v1beta1), to client,
// which the caller fills as for ValidatingWebhookConfiguration but with
// ValidateDaemonSetPath; the caller adds it to the configuration's webhooks.
func DaemonSetValidatingWebhook(client admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.ValidatingWebhook {
	c := workloadWebhook(client, "daemonsets", "v1beta1")
	return admissionregistrationv1.ValidatingWebhook{
		Name: DaemonSetWebhookName, ClientConfig: c.client, Rules: c.rules, FailurePolicy: c.failurePolicy,
		MatchPolicy: c.matchPolicy, SideEffects: c.sideEffects, TimeoutSeconds: c.timeout, AdmissionReviewVersions: []string{"v1"},
	}
}

// DaemonSetMutatingWebhook is DaemonSetValidatingWebhook's defaulting
// counterpart, served at DefaultDaemonSetPath.
func DaemonSetMutatingWebhook(client admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.MutatingWebhook {
	c := workloadWebhook(client, "daemonsets", "v1beta1")
	reinvocation := admissionregistrationv1.NeverReinvocationPolicy
	return admissionregistrationv1.MutatingWebhook{
		Name: DaemonSetDefaultingWebhookName, ClientConfig: c.client, Rules: c.rules, FailurePolicy: c.failurePolicy,
		MatchPolicy: c.matchPolicy, SideEffects: c.sideEffects, TimeoutSeconds: c.timeout, ReinvocationPolicy: &reinvocation,
		AdmissionReviewVersions: []string{"v1"},
	}
}
