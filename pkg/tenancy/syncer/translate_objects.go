package syncer

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// translateNamespace is the super namespace of a tenant namespace. The
// tenant's labels are not copied: they could carry pod-security or other
// policy labels that would loosen the super cluster's rules.
func translateNamespace(tenant string, ns *corev1.Namespace) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   tenancy.SuperNamespace(tenant, ns.Name),
		Labels: map[string]string{tenancy.LabelTenant: tenant},
		Annotations: map[string]string{
			tenancy.AnnotationNamespace: ns.Name,
			tenancy.AnnotationName:      ns.Name,
			tenancy.AnnotationUID:       string(ns.UID),
		},
	}}
}

// skipService: the tenant's own API server Service has no place on the
// super cluster.
func skipService(s *corev1.Service) bool { return s.Namespace == "default" && s.Name == "kubernetes" }

// translateService lets the super cluster allocate the copy's cluster IPs
// and node ports: both are super-cluster resources. Every tenant's API
// server allocates from the same range, so keeping a tenant's IP would
// collide with another tenant's (or the super cluster's own) sooner or
// later. A headless Service stays headless.
func translateService(tenant, superNamespace string, s *corev1.Service) *corev1.Service {
	out := &corev1.Service{ObjectMeta: superMeta(tenant, superNamespace, s)}
	out.Spec = *s.Spec.DeepCopy()
	if out.Spec.ClusterIP != corev1.ClusterIPNone {
		out.Spec.ClusterIP, out.Spec.ClusterIPs = "", nil
	}
	for i := range out.Spec.Ports {
		out.Spec.Ports[i].NodePort = 0
	}
	out.Spec.HealthCheckNodePort = 0
	return out
}

// serviceUpdate applies desired to the live super service, keeping the
// node ports the super cluster allocated to ports that still exist.
func serviceUpdate(live, desired *corev1.Service) (*corev1.Service, bool) {
	out := live.DeepCopy()
	out.Labels, out.Annotations = maps.Clone(desired.Labels), maps.Clone(desired.Annotations)
	spec := *desired.Spec.DeepCopy()
	type port struct {
		name  string
		port  int32
		proto corev1.Protocol
	}
	allocated := map[port]int32{}
	for _, p := range live.Spec.Ports {
		allocated[port{p.Name, p.Port, p.Protocol}] = p.NodePort
	}
	for i, p := range spec.Ports {
		if spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer {
			spec.Ports[i].NodePort = allocated[port{p.Name, p.Port, p.Protocol}]
		}
	}
	if spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && spec.Type == corev1.ServiceTypeLoadBalancer {
		spec.HealthCheckNodePort = live.Spec.HealthCheckNodePort
	}
	// Cluster IPs are immutable, and the super cluster's own.
	spec.ClusterIP, spec.ClusterIPs = live.Spec.ClusterIP, live.Spec.ClusterIPs
	spec.IPFamilies, spec.IPFamilyPolicy = live.Spec.IPFamilies, live.Spec.IPFamilyPolicy
	out.Spec = spec
	return out, !metaEqual(live, out) || !equality.Semantic.DeepEqual(live.Spec, out.Spec)
}

// skipConfigMap: every namespace has a kube-root-ca.crt of its own
// cluster's CA; the super namespace's must stay the super cluster's.
func skipConfigMap(c *corev1.ConfigMap) bool { return c.Name == "kube-root-ca.crt" }

func translateConfigMap(tenant, superNamespace string, c *corev1.ConfigMap) *corev1.ConfigMap {
	out := &corev1.ConfigMap{ObjectMeta: superMeta(tenant, superNamespace, c)}
	out.Data, out.BinaryData = maps.Clone(c.Data), maps.Clone(c.BinaryData)
	out.Immutable = c.Immutable
	return out
}

// configMapUpdate returns the updated copy, whether it changed, and
// whether the change needs a new object (an immutable one's data).
func configMapUpdate(live, desired *corev1.ConfigMap) (*corev1.ConfigMap, bool, bool) {
	out := live.DeepCopy()
	out.Labels, out.Annotations = maps.Clone(desired.Labels), maps.Clone(desired.Annotations)
	out.Data, out.BinaryData, out.Immutable = desired.Data, desired.BinaryData, desired.Immutable
	dataChanged := !equality.Semantic.DeepEqual(live.Data, out.Data) || !equality.Semantic.DeepEqual(live.BinaryData, out.BinaryData) ||
		!equality.Semantic.DeepEqual(live.Immutable, out.Immutable)
	recreate := dataChanged && live.Immutable != nil && *live.Immutable
	return out, dataChanged || !metaEqual(live, out), recreate
}

// skipSecret: legacy service-account token Secrets are the tenant's
// token controller's; the super cluster's would fill them with its own.
func skipSecret(s *corev1.Secret) bool { return s.Type == corev1.SecretTypeServiceAccountToken }

func translateSecret(tenant, superNamespace string, s *corev1.Secret) *corev1.Secret {
	out := &corev1.Secret{ObjectMeta: superMeta(tenant, superNamespace, s)}
	out.Type, out.Data, out.Immutable = s.Type, maps.Clone(s.Data), s.Immutable
	return out
}

func secretUpdate(live, desired *corev1.Secret) (*corev1.Secret, bool, bool) {
	out := live.DeepCopy()
	out.Labels, out.Annotations = maps.Clone(desired.Labels), maps.Clone(desired.Annotations)
	out.Data, out.Immutable = desired.Data, desired.Immutable
	dataChanged := !equality.Semantic.DeepEqual(live.Data, out.Data) || !equality.Semantic.DeepEqual(live.Immutable, out.Immutable)
	recreate := (dataChanged && live.Immutable != nil && *live.Immutable) || live.Type != desired.Type
	return out, dataChanged || recreate || !metaEqual(live, out), recreate
}

// translatePVC copies a claim unbound: the super cluster's binder and
// provisioners bind it to a super volume.
func translatePVC(tenant, superNamespace string, c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	out := &corev1.PersistentVolumeClaim{ObjectMeta: superMeta(tenant, superNamespace, c)}
	out.Spec = *c.Spec.DeepCopy()
	out.Spec.VolumeName = ""
	return out
}

// pvcUpdate applies what a claim may change: its requests (expansion),
// labels and annotations.
func pvcUpdate(live, desired *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, bool) {
	out := live.DeepCopy()
	out.Labels, out.Annotations = maps.Clone(desired.Labels), maps.Clone(desired.Annotations)
	out.Spec.Resources.Requests = desired.Spec.Resources.Requests.DeepCopy()
	return out, !metaEqual(live, out) || !equality.Semantic.DeepEqual(live.Spec.Resources.Requests, out.Spec.Resources.Requests)
}
