// Package v1alpha1 is the apps.kruise.io/v1alpha1 API: CloneSet, with
// OpenKruise's field names, JSON keys and meaning so manifests written for
// OpenKruise apply unchanged. Types shared with other workloads live in
// package pub.
//
// What the CRD schema and its CEL rules check is marked on the types; what
// needs old and new objects together with pod templates compared (InPlaceOnly
// with a change that cannot be made in place) is left to the admission webhook.
//
// BroadcastJob, AdvancedCronJob, DaemonSet and SidecarSet are served here
// with the same schema as their stored version, v1beta1 (see that package),
// so no conversion webhook is needed; SidecarSet's namespace field is
// carried by v1beta1 too.
//
// +kubebuilder:object:generate=true
// +groupName=apps.kruise.io
package v1alpha1
