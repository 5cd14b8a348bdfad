package syncer

import (
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// The keys of a pod's token Secret: what the projected kube-api-access
// volume would have held.
const (
	tokenKey     = "token"
	caKey        = "ca.crt"
	namespaceKey = "namespace"
)

// tokenAccess is what a tenant pod's projected service-account volume
// asks for: where the token, CA and namespace go and the token's terms.
type tokenAccess struct {
	Volume            string
	Audience          string
	ExpirationSeconds int64
	Items             []corev1.KeyToPath
	DefaultMode       *int32
}

// findTokenVolume returns the pod's admission-made projected token volume
// (kube-api-access-*), if any.
func findTokenVolume(pod *corev1.Pod) (tokenAccess, bool) {
	for _, v := range pod.Spec.Volumes {
		if !strings.HasPrefix(v.Name, "kube-api-access-") || v.Projected == nil {
			continue
		}
		ta := tokenAccess{Volume: v.Name, ExpirationSeconds: 3607, DefaultMode: v.Projected.DefaultMode}
		found := false
		for _, src := range v.Projected.Sources {
			switch {
			case src.ServiceAccountToken != nil:
				found = true
				ta.Audience = src.ServiceAccountToken.Audience
				if s := src.ServiceAccountToken.ExpirationSeconds; s != nil {
					ta.ExpirationSeconds = *s
				}
				ta.Items = append(ta.Items, corev1.KeyToPath{Key: tokenKey, Path: src.ServiceAccountToken.Path})
			case src.ConfigMap != nil:
				for _, it := range src.ConfigMap.Items {
					if it.Key == caKey {
						ta.Items = append(ta.Items, corev1.KeyToPath{Key: caKey, Path: it.Path, Mode: it.Mode})
					}
				}
			case src.DownwardAPI != nil:
				for _, it := range src.DownwardAPI.Items {
					if it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.namespace" {
						ta.Items = append(ta.Items, corev1.KeyToPath{Key: namespaceKey, Path: it.Path, Mode: it.Mode})
					}
				}
			}
		}
		if found {
			return ta, true
		}
	}
	return tokenAccess{}, false
}

// tokenSecretName is the super Secret holding a pod's token. The prefix
// keeps it apart from copies of tenant Secrets (which keep their names);
// a tenant Secret of the same name is refused.
func tokenSecretName(pod string) string { return boundedName("myriad-token-", pod, 253) }

// translatePod is the super copy of a tenant pod: its namespace mapped,
// unscheduled (the super scheduler places it), without status, without
// the tenant's priority (a tenant must not borrow the super cluster's
// priority classes) or owner references, and with the projected token
// volume replaced by the Secret tokenSecret, mounted at the same path. The
// super cluster's own service-account token is never mounted.
func translatePod(tenant, superNamespace string, pod *corev1.Pod, tokenSecret string) *corev1.Pod {
	out := &corev1.Pod{ObjectMeta: superMeta(tenant, superNamespace, pod)}
	for _, k := range bindingLabels {
		delete(out.Labels, k)
	}
	spec := pod.Spec.DeepCopy()
	spec.NodeName = ""
	spec.Priority = nil
	spec.PriorityClassName = ""
	spec.PreemptionPolicy = nil
	spec.ServiceAccountName = ""
	spec.DeprecatedServiceAccount = ""
	no := false
	spec.AutomountServiceAccountToken = &no
	if ta, ok := findTokenVolume(pod); ok {
		for i, v := range spec.Volumes {
			if v.Name == ta.Volume {
				spec.Volumes[i].VolumeSource = corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: tokenSecret, Items: ta.Items, DefaultMode: ta.DefaultMode,
				}}
			}
		}
	}
	out.Spec = *spec
	return out
}

// bindingLabels are the labels an API server puts on a pod when it is
// bound: its PodTopologyLabels admission copies the node's zone and region.
// Both clusters do so, each from its own node (the tenant's virtual node
// carries the super node's labels), so on a super pod they are the super
// cluster's: never copied down, never removed. Copying them down made the
// syncer and the super cluster's binding undo each other: two updates and
// conflicts per pod.
var bindingLabels = []string{corev1.LabelTopologyZone, corev1.LabelTopologyRegion}

// podUpdate applies to a live super pod what may change in place: labels
// (except bindingLabels, kept as they are), annotations and container
// images. It returns the updated copy and whether anything changed.
func podUpdate(live, desired *corev1.Pod) (*corev1.Pod, bool) {
	out := live.DeepCopy()
	labels := maps.Clone(desired.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	for _, k := range bindingLabels {
		delete(labels, k)
		if v, ok := live.Labels[k]; ok {
			labels[k] = v
		}
	}
	changed := !maps.Equal(live.Labels, labels) || !maps.Equal(live.Annotations, desired.Annotations)
	out.Labels, out.Annotations = labels, maps.Clone(desired.Annotations)
	setImages := func(dst []corev1.Container, src []corev1.Container) {
		want := map[string]string{}
		for _, c := range src {
			want[c.Name] = c.Image
		}
		for i := range dst {
			if img, ok := want[dst[i].Name]; ok && img != dst[i].Image {
				dst[i].Image = img
				changed = true
			}
		}
	}
	setImages(out.Spec.Containers, desired.Spec.Containers)
	setImages(out.Spec.InitContainers, desired.Spec.InitContainers)
	return out, changed
}

// translatePodStatus is the tenant's view of a super pod's status: the
// kubelet's report, less what refers to super-cluster objects (nominated
// nodes, resource claims) or super generations.
func translatePodStatus(super corev1.PodStatus) corev1.PodStatus {
	st := *super.DeepCopy()
	st.ObservedGeneration = 0
	st.NominatedNodeName = ""
	st.ResourceClaimStatuses = nil
	st.ExtendedResourceClaimStatus = nil
	st.NodeAllocatableResourceClaimStatuses = nil
	for i := range st.Conditions {
		st.Conditions[i].ObservedGeneration = 0
	}
	return st
}

// podStatusEqual says whether the tenant pod already shows the status.
func podStatusEqual(a, b corev1.PodStatus) bool { return equality.Semantic.DeepEqual(a, b) }

// tokenSecret is the super Secret a super pod mounts in place of the
// tenant's projected token: a token of the tenant's API server bound to
// the tenant pod, the tenant's CA and the tenant namespace.
func tokenSecret(tenant, superNamespace string, pod *corev1.Pod, token, ca []byte, refreshAt time.Time) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      tokenSecretName(pod.Name),
			Namespace: superNamespace,
			Labels:    map[string]string{tenancy.LabelTenant: tenant, LabelRole: RolePodToken},
			Annotations: map[string]string{
				tenancy.AnnotationName: pod.Name,
				tenancy.AnnotationUID:  string(pod.UID),
				AnnotationTokenRefresh: refreshAt.UTC().Format(time.RFC3339),
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{tokenKey: token, caKey: ca, namespaceKey: []byte(pod.Namespace)},
	}
}

// tokenRefreshAt reads when a token Secret must be renewed; zero if it
// cannot tell (renew now).
func tokenRefreshAt(s *corev1.Secret) time.Time {
	t, err := time.Parse(time.RFC3339, s.Annotations[AnnotationTokenRefresh])
	if err != nil {
		return time.Time{}
	}
	return t
}
