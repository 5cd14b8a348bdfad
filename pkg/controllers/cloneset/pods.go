package cloneset

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controllers/lifecycle"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// instanceIDLength is the length of the random suffix shared by a pod's name
// and its PVCs' names, as OpenKruise makes it.
const instanceIDLength = 5

func newInstanceID() string { return rand.String(instanceIDLength) }

// podName is the name of the pod with the given instance id.
func podName(cs *v1alpha1.CloneSet, id string) string { return cs.Name + "-" + id }

// claimName is the name of the PVC for a volume claim template and instance
// id: <template>-<cloneset>-<id>, as OpenKruise names them.
func claimName(cs *v1alpha1.CloneSet, vct *corev1.PersistentVolumeClaim, id string) string {
	return vct.Name + "-" + cs.Name + "-" + id
}

// newPod builds the pod for instance id at revision rev from its template:
// the CloneSet's labels and owner, the InPlaceUpdateReady readiness gate
// (so it can later leave endpoints before an in-place update), lifecycle
// state PreparingNormal and a volume for each claim template.
func newPod(cs *v1alpha1.CloneSet, t *corev1.PodTemplateSpec, rev, id string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            podName(cs, id),
			Namespace:       cs.Namespace,
			Labels:          map[string]string{},
			Annotations:     map[string]string{},
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cs, v1alpha1.SchemeGroupVersion.WithKind("CloneSet"))},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	for k, v := range t.Labels {
		pod.Labels[k] = v
	}
	for k, v := range t.Annotations {
		pod.Annotations[k] = v
	}
	pod.Labels[pub.ControllerRevisionHashLabelKey] = rev
	pod.Labels[v1alpha1.CloneSetInstanceID] = id
	// PreparingNormal until scheduled (or until the preNormal hook is
	// armed), as OpenKruise creates every pod; see nextState.
	pod.Labels[pub.LifecycleStateKey] = string(pub.LifecycleStatePreparingNormal)
	inplace.InjectReadinessGate(pod)
	lifecycle.InjectPodReadyGate(pod, cs.Spec.Lifecycle)
	for i := range cs.Spec.VolumeClaimTemplates {
		vct := &cs.Spec.VolumeClaimTemplates[i]
		setVolume(&pod.Spec, corev1.Volume{
			Name: vct.Name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: claimName(cs, vct, id),
			}},
		})
	}
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

// newClaim builds the PVC of a claim template for instance id. It is owned
// by the CloneSet, not the pod, so that a recreated pod with the same
// instance id finds its data again.
func newClaim(cs *v1alpha1.CloneSet, vct *corev1.PersistentVolumeClaim, id string) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:            claimName(cs, vct, id),
			Namespace:       cs.Namespace,
			Labels:          map[string]string{},
			Annotations:     map[string]string{},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cs, v1alpha1.SchemeGroupVersion.WithKind("CloneSet"))},
		},
		Spec: *vct.Spec.DeepCopy(),
	}
	for k, v := range vct.Labels {
		pvc.Labels[k] = v
	}
	for k, v := range vct.Annotations {
		pvc.Annotations[k] = v
	}
	if cs.Spec.Selector != nil {
		for k, v := range cs.Spec.Selector.MatchLabels {
			pvc.Labels[k] = v
		}
	}
	pvc.Labels[v1alpha1.CloneSetInstanceID] = id
	return pvc
}
