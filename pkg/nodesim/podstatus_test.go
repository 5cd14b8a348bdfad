package nodesim

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestImageID(t *testing.T) {
	for image, repo := range map[string]string{
		"nginx":                         "docker.io/library/nginx",
		"nginx:1.27":                    "docker.io/library/nginx",
		"bitnami/redis:7":               "docker.io/bitnami/redis",
		"registry.k8s.io/pause:3.10":    "registry.k8s.io/pause",
		"localhost:5000/app:dev":        "localhost:5000/app",
		"ghcr.io/o/a@sha256:0123456789": "ghcr.io/o/a",
	} {
		got := imageID(image)
		if !strings.HasPrefix(got, repo+"@sha256:") || len(got) != len(repo)+len("@sha256:")+64 {
			t.Errorf("imageID(%q) = %q, want %s@sha256:<64 hex>", image, got, repo)
		}
		if imageID(image) != got {
			t.Errorf("imageID(%q) is not deterministic", image)
		}
	}
	if imageID("nginx:1") == imageID("nginx:2") {
		t.Error("different tags share an image ID")
	}
}

func TestQOSClass(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	for _, tc := range []struct {
		name      string
		resources []corev1.ResourceRequirements
		want      corev1.PodQOSClass
	}{
		{"nothing set", []corev1.ResourceRequirements{{}}, corev1.PodQOSBestEffort},
		{"limits equal requests", []corev1.ResourceRequirements{{Requests: rl("1", "1Gi"), Limits: rl("1", "1Gi")}}, corev1.PodQOSGuaranteed},
		{"limits only", []corev1.ResourceRequirements{{Limits: rl("1", "1Gi")}}, corev1.PodQOSGuaranteed},
		{"requests below limits", []corev1.ResourceRequirements{{Requests: rl("500m", "1Gi"), Limits: rl("1", "1Gi")}}, corev1.PodQOSBurstable},
		{"one container unset", []corev1.ResourceRequirements{{Limits: rl("1", "1Gi")}, {}}, corev1.PodQOSBurstable},
		{"memory only", []corev1.ResourceRequirements{{Requests: rl("", "1Gi")}}, corev1.PodQOSBurstable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{}
			for _, r := range tc.resources {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Resources: r})
			}
			if got := qosClass(p); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
