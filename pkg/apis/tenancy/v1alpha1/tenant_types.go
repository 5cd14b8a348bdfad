package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Tenant is a virtual cluster: its own kube-apiserver and
// kube-controller-manager (no scheduler), its own CA, admin kubeconfig and
// service-account keys, its state on the shared etcd under a prefix only its
// own etcd identity can read or write. Its pods run on the super cluster,
// placed there by the syncer in namespaces that belong to it alone.
//
// The name is the tenant's identity everywhere (super-cluster namespaces,
// etcd prefix, certificates), so it is short: a DNS label of at most 20
// characters.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=tn
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 20",message="metadata.name must be at most 20 characters"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS label that starts with a letter"
type Tenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={}
	Spec   TenantSpec   `json:"spec,omitempty"`
	Status TenantStatus `json:"status,omitempty"`
}

// TenantSpec is what the tenant asks for.
//
// +kubebuilder:validation:XValidation:rule="has(self.host) == has(oldSelf.host) && (!has(self.host) || self.host == oldSelf.host)",message="spec.host cannot change: the tenant's state lives with its host"
type TenantSpec struct {
	// Weight is the tenant's share of the syncer's work when tenants
	// compete: a tenant of weight 2 is served twice as often as one of
	// weight 1 while both have work queued.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	Weight int32 `json:"weight,omitempty"`
	// Host names the tenant host that runs the tenant's control plane:
	// a `myriad tenant-host --name` on some machine. Empty is the
	// cluster's default host (`myriad up`'s own, or a tenant host run
	// without --name). It cannot change: the control plane's state lives
	// with its host.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Host string `json:"host,omitempty"`
}

// TenantPhase is where a tenant is in its life.
type TenantPhase string

// The phases of a tenant.
const (
	// TenantPending: accepted, control plane not started yet.
	TenantPending TenantPhase = "Pending"
	// TenantReady: the tenant's API server answers and the syncer may
	// serve it.
	TenantReady TenantPhase = "Ready"
	// TenantFailed: the control plane could not be provisioned; the
	// Ready condition says why.
	TenantFailed TenantPhase = "Failed"
	// TenantTerminating: being deleted; its super-cluster objects, etcd
	// data and identity are being removed.
	TenantTerminating TenantPhase = "Terminating"
)

// ConditionReady is the condition type saying the control plane serves.
const ConditionReady = "Ready"

// TenantStatus is what the tenant host observed.
type TenantStatus struct {
	// +optional
	Phase TenantPhase `json:"phase,omitempty"`
	// Host is the tenant host that serves the tenant, as it names itself
	// (its --name, or "default").
	// +optional
	Host string `json:"host,omitempty"`
	// Endpoint is the URL of the tenant's API server.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// KubeconfigSecret names the Secret, in namespace myriad-tenants, that
	// holds the tenant's admin kubeconfig ("admin.kubeconfig") and the
	// syncer's ("syncer.kubeconfig").
	// +optional
	KubeconfigSecret string `json:"kubeconfigSecret,omitempty"`
	// ObservedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TenantList is a list of Tenants.
//
// +kubebuilder:object:root=true
type TenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Tenant `json:"items"`
}
