// Package v1alpha1 is the tenancy.myriad.dev/v1alpha1 API: Tenant, one
// virtual cluster on a shared ("super") cluster. A Tenant is cluster-scoped;
// creating one asks the tenant host (run by `myriad up`) for a control plane
// of its own, and the syncer (`myriad syncer`) to run the tenant's pods on
// the super cluster.
//
// +kubebuilder:object:generate=true
// +groupName=tenancy.myriad.dev
package v1alpha1
