package components

import (
	corev1 "k8s.io/api/core/v1"
	k8sv1 "k8s.io/kubernetes/pkg/apis/core/v1"

	"github.com/myriad-dev/myriad/pkg/webhook"
)

// TemplateDefaults are Kubernetes' own defaults for pods and
// PersistentVolumeClaims, exactly as the linked API server applies them,
// for the CloneSet defaulting webhook to apply to the templates a CloneSet
// carries (pkg/webhook must not link Kubernetes itself).
func TemplateDefaults() webhook.TemplateDefaults {
	return webhook.TemplateDefaults{PodTemplate: defaultPodTemplate, Claim: k8sv1.SetObjectDefaults_PersistentVolumeClaim}
}

// defaultPodTemplate runs the generated defaulting of a PodTemplate, the
// object that wraps a PodTemplateSpec, on a copy that wraps t.
func defaultPodTemplate(t *corev1.PodTemplateSpec) {
	pt := &corev1.PodTemplate{Template: *t}
	k8sv1.SetObjectDefaults_PodTemplate(pt)
	*t = pt.Template
}
