package inplace

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

func template(mod func(*corev1.PodTemplateSpec)) *corev1.PodTemplateSpec {
	t := &corev1.PodTemplateSpec{}
	t.Labels = map[string]string{"app": "web", "track": "stable"}
	t.Annotations = map[string]string{"note": "a"}
	t.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1"}}
	t.Spec.Containers = []corev1.Container{
		{Name: "app", Image: "nginx:1.25", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		}},
		{Name: "sidecar", Image: "envoy:1"},
	}
	if mod != nil {
		mod(t)
	}
	return t
}

func TestEligible(t *testing.T) {
	cpu := func(req, lim string) func(*corev1.PodTemplateSpec) {
		return func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse(req)
			t.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse(lim)
		}
	}
	cases := []struct {
		name   string
		mod    func(*corev1.PodTemplateSpec)
		resize bool
		ok     bool
		want   Plan
	}{
		{name: "no change", ok: true},
		{name: "image", mod: func(t *corev1.PodTemplateSpec) { t.Spec.Containers[1].Image = "envoy:2" }, ok: true,
			want: Plan{Containers: []ContainerUpdate{{Name: "sidecar", Image: "envoy:2"}}}},
		{name: "two images", mod: func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers[0].Image = "nginx:1.26"
			t.Spec.Containers[1].Image = "envoy:2"
		}, ok: true, want: Plan{Containers: []ContainerUpdate{{Name: "app", Image: "nginx:1.26"}, {Name: "sidecar", Image: "envoy:2"}}}},
		{name: "labels and annotations", mod: func(t *corev1.PodTemplateSpec) {
			t.Labels["track"] = "canary"
			t.Labels["new"] = "x"
			delete(t.Annotations, "note")
		}, ok: true, want: Plan{
			Labels:      MetadataUpdate{Set: map[string]string{"track": "canary", "new": "x"}},
			Annotations: MetadataUpdate{Remove: []string{"note"}},
		}},
		{name: "image and env", mod: func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers[0].Image = "nginx:1.26"
			t.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
		}},
		{name: "container added", mod: func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers = append(t.Spec.Containers, corev1.Container{Name: "x", Image: "x"})
		}},
		{name: "containers reordered", mod: func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers[0], t.Spec.Containers[1] = t.Spec.Containers[1], t.Spec.Containers[0]
		}},
		{name: "init container image", mod: func(t *corev1.PodTemplateSpec) { t.Spec.InitContainers[0].Image = "busybox:2" }},
		{name: "volume", mod: func(t *corev1.PodTemplateSpec) {
			t.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}},
		{name: "cpu without resize support", mod: cpu("150m", "300m")},
		{name: "cpu with resize support", mod: cpu("150m", "300m"), resize: true, ok: true,
			want: Plan{Containers: []ContainerUpdate{{Name: "app", Resources: &template(cpu("150m", "300m")).Spec.Containers[0].Resources}}}},
		{name: "resize that makes the pod Guaranteed", resize: true, mod: func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers[0].Resources.Requests = t.Spec.Containers[0].Resources.Limits.DeepCopy()
			t.Spec.Containers[1].Resources = t.Spec.Containers[0].Resources
			t.Spec.InitContainers[0].Resources = t.Spec.Containers[0].Resources
		}},
		{name: "ephemeral storage is not resizable", resize: true, mod: func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers[0].Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse("1Gi")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, ok := Eligible(template(nil), template(tc.mod), EligibilityOptions{InPlaceResize: tc.resize})
			if ok != tc.ok {
				t.Fatalf("eligible %v, want %v", ok, tc.ok)
			}
			if ok && !reflect.DeepEqual(plan, tc.want) {
				t.Errorf("plan\n got %+v\nwant %+v", plan, tc.want)
			}
			if ok && plan.ChangesContainers() != (len(tc.want.Containers) > 0) {
				t.Errorf("ChangesContainers %v", plan.ChangesContainers())
			}
		})
	}
}

func TestQOSClass(t *testing.T) {
	g := template(nil)
	for _, c := range []*[]corev1.Container{&g.Spec.InitContainers, &g.Spec.Containers} {
		for i := range *c {
			(*c)[i].Resources = corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
			}
		}
	}
	if got := qosClass(&g.Spec); got != corev1.PodQOSGuaranteed {
		t.Errorf("limits only everywhere: %s", got)
	}
	if got := qosClass(&template(nil).Spec); got != corev1.PodQOSBurstable {
		t.Errorf("requests below limits: %s", got)
	}
	be := template(func(t *corev1.PodTemplateSpec) { t.Spec.Containers[0].Resources = corev1.ResourceRequirements{} })
	if got := qosClass(&be.Spec); got != corev1.PodQOSBestEffort {
		t.Errorf("no resources: %s", got)
	}
}

func TestSameImage(t *testing.T) {
	cases := []struct {
		reported, spec string
		same, known    bool
	}{
		{"nginx:1.25", "nginx:1.25", true, true},
		{"docker.io/library/nginx:1.25", "nginx:1.25", true, true},
		{"docker.io/library/nginx:latest", "nginx", true, true},
		{"nginx:1.25", "nginx:1.26", false, true},
		{"registry:5000/team/app:v1", "registry:5000/team/app:v2", false, true},
		{"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "nginx:1.25", false, false},
		{"docker.io/library/nginx:1.25", "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false, false},
		{"docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true, true},
		{"", "nginx", false, false},
	}
	for _, tc := range cases {
		same, known := sameImage(tc.reported, tc.spec)
		if same != tc.same || known != tc.known {
			t.Errorf("sameImage(%q, %q) = %v, %v; want %v, %v", tc.reported, tc.spec, same, known, tc.same, tc.known)
		}
	}
}

// A label or annotation a container reads into its environment is changed
// in place by restarting that container; a pod whose node has no agent to
// restart it, or that lacks the readiness gate the agent watches, is
// recreated instead.
func TestMetadataReadByEnvRestartsTheContainer(t *testing.T) {
	reads := func(path string) func(*corev1.PodTemplateSpec) {
		return func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}}
		}
	}
	then := func(first, second func(*corev1.PodTemplateSpec)) func(*corev1.PodTemplateSpec) {
		return func(t *corev1.PodTemplateSpec) { first(t); second(t) }
	}
	canary := func(t *corev1.PodTemplateSpec) { t.Labels["track"] = "canary" }
	for _, tc := range []struct {
		path    string
		restart bool
	}{
		{"metadata.labels['track']", true},
		{"metadata.labels", false}, // not a valid env source: no key to read
		{"metadata.labels['app']", false},
		{"metadata.annotations['track']", false},
		{"metadata.name", false},
	} {
		plan, ok := Eligible(template(reads(tc.path)), template(then(reads(tc.path), canary)), EligibilityOptions{})
		if !ok || plan.RestartsForEnv() != tc.restart {
			t.Errorf("env from %s, label track changed: eligible %v, restarts %v; want eligible, restarts %v", tc.path, ok, plan.RestartsForEnv(), tc.restart)
		}
		if tc.restart && (len(plan.Containers) != 1 || plan.Containers[0].Image != "" || !plan.ChangesContainers()) {
			t.Errorf("env from %s: plan %+v, want one restart without an image change", tc.path, plan.Containers)
		}
	}
	plan, _ := Eligible(template(reads("metadata.labels['track']")), template(then(reads("metadata.labels['track']"), canary)), EligibilityOptions{})
	pod := &corev1.Pod{}
	if Applicable(pod, plan) {
		t.Error("applicable to a pod no node agent reports on")
	}
	pod.Annotations = map[string]string{pub.RuntimeContainerMetaKey: `{"containers":[]}`}
	if Applicable(pod, plan) {
		t.Error("applicable to a pod without the InPlaceUpdateReady gate")
	}
	InjectReadinessGate(pod)
	if !Applicable(pod, plan) {
		t.Error("not applicable to a gated pod an agent reports on")
	}
	if !Applicable(&corev1.Pod{}, Plan{Containers: []ContainerUpdate{{Name: "app", Image: "nginx:2"}}}) {
		t.Error("an image change needs no agent")
	}
}
