package syncer

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// Keys of the syncer's own, on objects only it writes.
const (
	// LabelVirtualNode marks a tenant node the syncer made from a super
	// node; only these are refreshed and garbage-collected.
	LabelVirtualNode = tenancy.Prefix + "virtual-node"
	// LabelRole marks super objects that are not a copy of a tenant object
	// of their own kind: RolePodToken is a pod's service-account token
	// Secret, whose AnnotationName and AnnotationUID are the pod's.
	LabelRole    = tenancy.Prefix + "role"
	RolePodToken = "pod-token"
	// AnnotationTokenRefresh is when a token Secret must be renewed.
	AnnotationTokenRefresh = tenancy.Prefix + "token-refresh"
)

// stripReserved copies m without the keys under tenancy.Prefix, so that a
// tenant can never forge the syncer's origin marks.
func stripReserved(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+3)
	for k, v := range m {
		if !strings.HasPrefix(k, tenancy.Prefix) {
			out[k] = v
		}
	}
	return out
}

// superMeta is the metadata of the super copy of a tenant object: the
// tenant's labels and annotations, minus forged keys, plus the origin.
// Owner references, finalizers and UIDs of the tenant mean nothing on the
// super cluster and are dropped.
func superMeta(tenant, superNamespace string, src metav1.Object) metav1.ObjectMeta {
	labels := stripReserved(src.GetLabels())
	labels[tenancy.LabelTenant] = tenant
	ann := stripReserved(src.GetAnnotations())
	ann[tenancy.AnnotationName] = src.GetName()
	ann[tenancy.AnnotationUID] = string(src.GetUID())
	return metav1.ObjectMeta{Name: src.GetName(), Namespace: superNamespace, Labels: labels, Annotations: ann}
}

// ownedBy says whether a super object is the syncer's for this tenant.
func ownedBy(obj metav1.Object, tenant string) bool {
	return obj.GetLabels()[tenancy.LabelTenant] == tenant
}

// sameOrigin says whether a super object was made from this incarnation of
// the tenant object (same UID).
func sameOrigin(super, tenant metav1.Object) bool {
	return super.GetAnnotations()[tenancy.AnnotationUID] == string(tenant.GetUID())
}

// metaEqual compares what the syncer keeps in sync of metadata.
func metaEqual(a, b metav1.Object) bool {
	return maps.Equal(a.GetLabels(), b.GetLabels()) && maps.Equal(a.GetAnnotations(), b.GetAnnotations())
}

// boundedName is prefix+name, hashed to stay within max characters.
func boundedName(prefix, name string, max int) string {
	if len(prefix)+len(name) <= max {
		return prefix + name
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:])[:16]
	keep := max - len(prefix) - len(h) - 1
	return prefix + strings.TrimRight(name[:keep], "-.") + "-" + h
}
