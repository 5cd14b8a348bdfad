// Package webhook is Myriad's admission for the apps.kruise.io workloads:
// the defaulting webhook for CloneSet (DefaultCloneSet: OpenKruise's
// defaults on write), the validating webhook (ValidateCloneSet,
// ValidateCloneSetUpdate), Register, and the Mutating- and
// ValidatingWebhookConfiguration that route CloneSet writes, and only
// those, to them; the Advanced DaemonSet's pair (DefaultDaemonSet,
// ValidateDaemonSet, RegisterDaemonSet) is added to those configurations
// as DaemonSetMutatingWebhook and DaemonSetValidatingWebhook, which route
// DaemonSet writes only. Pod and claim template defaults come from Kubernetes
// itself, handed in as TemplateDefaults, because this package must not
// link k8s.io/kubernetes.
//
// The CRD schema and its CEL rules already reject what a single object can
// be checked for cheaply; this package covers what CEL cannot: the selector
// against the template's labels, the pod template itself (the API server does
// not validate a pod template embedded in a custom resource, so a bad one
// would only show up later as pods that fail to create), combinations of
// update strategy fields, and, for InPlaceOnly, whether a template change can
// be made in place at all.
//
// BroadcastJob and AdvancedCronJob get the same treatment (jobs.go):
// OpenKruise's defaults, and validation of what would otherwise fail only
// at run time (a pod template that never finishes, a schedule or time zone
// that does not parse, neither or both job templates).
//
// Admission is pure: it never reads the cluster, so admission stays fast and
// cannot fail because a cache is cold.
package webhook
