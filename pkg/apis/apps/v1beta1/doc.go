// Package v1beta1 is the apps.kruise.io/v1beta1 API: the workloads that
// OpenKruise v1.9 stores as v1beta1 and still serves as v1alpha1, with
// OpenKruise's field names, JSON keys and meaning so manifests written for
// OpenKruise apply unchanged. Types shared with other workloads live in
// package pub.
//
// BroadcastJob and AdvancedCronJob are stored as v1beta1 and served as
// v1alpha1 too. OpenKruise's two versions of them carry the same fields, so
// their schemas here are identical and the CRDs convert with strategy None
// (the API server rewrites apiVersion only): there is no conversion webhook
// whose outage could block reads or writes of either version.
//
// DaemonSet is stored as v1beta1 and also served as v1alpha1 with the same
// schema, so the API server converts by rewriting apiVersion (conversion
// strategy None) and no conversion webhook can block reads; the aliases the
// two versions spell differently are listed in daemonset_types.go.
//
// SidecarSet (cluster-scoped) is stored as v1beta1 and served as v1alpha1
// too. OpenKruise's v1alpha1 has spec.namespace and its v1beta1
// spec.customVersion, and its conversion folds namespace into
// namespaceSelector (dropping a namespaceSelector given beside it). Myriad
// carries both fields in both versions instead, a pod having to satisfy
// namespace and namespaceSelector together, so the schemas are identical,
// conversion is None and nothing is lost either way.
//
// StatefulSet is stored as v1beta1 and served as v1alpha1 with the same
// schema (v1alpha1 carries v1beta1's extra fields), conversion None; see
// statefulset_types.go.
//
// Each kind's file registers itself (knownTypes); this package holds API
// types and their pure helpers only, never clients or controllers.
//
// +kubebuilder:object:generate=true
// +groupName=apps.kruise.io
package v1beta1
