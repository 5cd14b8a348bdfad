package components

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The defaults handed to the CloneSet webhook are Kubernetes' pod and claim
// defaults: spot-check ones a user would see in `kubectl get -o yaml`.
func TestTemplateDefaults(t *testing.T) {
	td := TemplateDefaults()
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}},
	}}
	td.PodTemplate(tpl)
	s := tpl.Spec
	c := s.Containers[0]
	if s.RestartPolicy != corev1.RestartPolicyAlways || s.DNSPolicy != corev1.DNSClusterFirst || s.SchedulerName != corev1.DefaultSchedulerName {
		t.Errorf("restartPolicy %q dnsPolicy %q schedulerName %q; want the pod defaults", s.RestartPolicy, s.DNSPolicy, s.SchedulerName)
	}
	if c.TerminationMessagePath != corev1.TerminationMessagePathDefault || c.Ports[0].Protocol != corev1.ProtocolTCP || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container %+v; want terminationMessagePath, TCP and IfNotPresent for a tagged image", c)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	td.Claim(pvc)
	if pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("claim volumeMode %v, want Filesystem", pvc.Spec.VolumeMode)
	}
}
