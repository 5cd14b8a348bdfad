// Package pub holds the API types and well-known names that every
// apps.kruise.io workload shares: lifecycle hooks, update priority and
// in-place update settings, and the labels, annotations and pod condition
// that in-place update writes on pods.
//
// Names and JSON keys follow OpenKruise so that manifests, and tools that read
// pods managed by OpenKruise, work unchanged. This package holds data only; it
// must never import client or controller code.
//
// +kubebuilder:object:generate=true
package pub
