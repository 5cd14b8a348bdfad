package statefulset

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/lifecycle"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// The building blocks of a StatefulSet's pods and claims, pure: what a pod
// at an ordinal looks like, which ordinal a pod holds, and who should own a
// claim under the retention policy.

var kind = v1beta1.SchemeGroupVersion.WithKind("StatefulSet")

// OrdinalOf returns the ordinal in a member pod's name (<set>-<ordinal>), or
// false for a pod whose name is not of that form: such a pod is not a member
// and the StatefulSet leaves it alone, as upstream does.
func OrdinalOf(set string, pod *corev1.Pod) (int, bool) {
	rest, ok := strings.CutPrefix(pod.Name, set+"-")
	if !ok || rest == "" || strings.TrimLeft(rest, "0123456789") != "" || (len(rest) > 1 && rest[0] == '0') {
		return 0, false
	}
	o, err := strconv.Atoi(rest)
	return o, err == nil
}

// NewPod is the pod at ordinal from template t at revision rev: the stable
// name, hostname and subdomain (spec.serviceName), the identity labels
// upstream sets, the controller-revision-hash, a volume per claim template
// naming that ordinal's claim, the InPlaceUpdateReady readiness gate (so a
// later in-place update can take it out of endpoints first), the
// KruisePodReady gate when a hook marks pods not ready, and, with a
// lifecycle, state PreparingNormal.
func NewPod(set *v1beta1.StatefulSet, t *corev1.PodTemplateSpec, rev string, ordinal int) *corev1.Pod {
	name := PodName(set.Name, ordinal)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       set.Namespace,
			Labels:          map[string]string{},
			Annotations:     map[string]string{},
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, kind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	for k, v := range t.Labels {
		pod.Labels[k] = v
	}
	for k, v := range t.Annotations {
		pod.Annotations[k] = v
	}
	pod.Labels[appsv1.StatefulSetPodNameLabel] = name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
	pod.Labels[pub.ControllerRevisionHashLabelKey] = rev
	if set.Spec.Lifecycle != nil {
		pod.Labels[pub.LifecycleStateKey] = string(pub.LifecycleStatePreparingNormal)
	}
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	for i := range set.Spec.VolumeClaimTemplates {
		vct := &set.Spec.VolumeClaimTemplates[i]
		setVolume(&pod.Spec, corev1.Volume{
			Name: vct.Name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: ClaimName(vct.Name, set.Name, ordinal),
			}},
		})
	}
	inplace.InjectReadinessGate(pod)
	lifecycle.InjectPodReadyGate(pod, set.Spec.Lifecycle)
	return pod
}

// setVolume adds v, replacing a template volume of the same name.
func setVolume(spec *corev1.PodSpec, v corev1.Volume) {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == v.Name {
			spec.Volumes[i] = v
			return
		}
	}
	spec.Volumes = append(spec.Volumes, v)
}

// NewClaim is the claim of template vct for ordinal: the template's labels
// and annotations plus the selector's labels (as upstream labels them, so
// `kubectl get pvc -l` finds a set's claims), owned as ClaimOwners says.
func NewClaim(set *v1beta1.StatefulSet, vct *corev1.PersistentVolumeClaim, ordinal int, pod *corev1.Pod, condemned bool) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ClaimName(vct.Name, set.Name, ordinal),
			Namespace:   set.Namespace,
			Labels:      map[string]string{},
			Annotations: map[string]string{},
		},
		Spec: *vct.Spec.DeepCopy(),
	}
	for k, v := range vct.Labels {
		pvc.Labels[k] = v
	}
	for k, v := range vct.Annotations {
		pvc.Annotations[k] = v
	}
	if set.Spec.Selector != nil {
		for k, v := range set.Spec.Selector.MatchLabels {
			pvc.Labels[k] = v
		}
	}
	pvc.OwnerReferences = ClaimOwners(set, pod, condemned, nil)
	return pvc
}

// ClaimOwners is the owner references a claim should carry under
// persistentVolumeClaimRetentionPolicy, given the ones it has (kept, except
// those this policy manages):
//
//   - whenDeleted Delete: the StatefulSet owns it (not as controller), so
//     deleting the StatefulSet deletes it;
//   - whenScaled Delete and the pod condemned (its ordinal no longer
//     desired): the pod alone owns it, so it goes with the pod. A pod
//     kept, or recreated for an update, keeps its claim.
//
// Retain removes the reference the policy added; a claim nobody references
// stays when the pod or set goes, as upstream's default.
func ClaimOwners(set *v1beta1.StatefulSet, pod *corev1.Pod, condemned bool, have []metav1.OwnerReference) []metav1.OwnerReference {
	policy := set.Spec.PersistentVolumeClaimRetentionPolicy
	var out []metav1.OwnerReference
	for _, ref := range have {
		if ref.UID == set.UID || (pod != nil && ref.Kind == "Pod" && ref.Name == pod.Name) {
			continue // managed below
		}
		out = append(out, ref)
	}
	if policy == nil {
		return out
	}
	if policy.WhenScaled == v1beta1.DeletePersistentVolumeClaimRetentionPolicyType && condemned && pod != nil && pod.UID != "" {
		// The pod alone: the garbage collector deletes a dependent only
		// when every owner is gone, and the set outlives the pod.
		return append(out, metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID})
	}
	if policy.WhenDeleted == v1beta1.DeletePersistentVolumeClaimRetentionPolicyType {
		out = append(out, metav1.OwnerReference{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind, Name: set.Name, UID: set.UID})
	}
	return out
}

// sameOwners compares owner references by UID, in any order.
func sameOwners(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, r := range a {
		seen[string(r.UID)] = true
	}
	for _, r := range b {
		if !seen[string(r.UID)] {
			return false
		}
	}
	return true
}
