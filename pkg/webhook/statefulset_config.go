package webhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// StatefulSet webhook names, inside the validating and the mutating
// configuration.
const (
	StatefulSetWebhookName           = "statefulsets.validate.myriad.dev"
	StatefulSetDefaultingWebhookName = "statefulsets.default.myriad.dev"
)

// StatefulSetValidatingWebhook routes Advanced StatefulSet creates and
// updates, of either version (matched Equivalent, admitted as v1beta1), to
// client at ValidateStatefulSetPath. Only apps.kruise.io statefulsets
// match: apps/v1 StatefulSets never reach it.
func StatefulSetValidatingWebhook(client admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.ValidatingWebhook {
	c := workloadWebhook(atPath(client, ValidateStatefulSetPath), "statefulsets", "v1beta1")
	return admissionregistrationv1.ValidatingWebhook{
		Name: StatefulSetWebhookName, ClientConfig: c.client, Rules: c.rules, FailurePolicy: c.failurePolicy,
		MatchPolicy: c.matchPolicy, SideEffects: c.sideEffects, TimeoutSeconds: c.timeout, AdmissionReviewVersions: []string{"v1"},
	}
}

// StatefulSetMutatingWebhook is StatefulSetValidatingWebhook's defaulting
// counterpart, served at DefaultStatefulSetPath.
func StatefulSetMutatingWebhook(client admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.MutatingWebhook {
	c := workloadWebhook(atPath(client, DefaultStatefulSetPath), "statefulsets", "v1beta1")
	reinvocation := admissionregistrationv1.NeverReinvocationPolicy
	return admissionregistrationv1.MutatingWebhook{
		Name: StatefulSetDefaultingWebhookName, ClientConfig: c.client, Rules: c.rules, FailurePolicy: c.failurePolicy,
		MatchPolicy: c.matchPolicy, SideEffects: c.sideEffects, TimeoutSeconds: c.timeout, ReinvocationPolicy: &reinvocation,
		AdmissionReviewVersions: []string{"v1"},
	}
}
