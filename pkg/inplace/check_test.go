package inplace

import (
	"encoding/json"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// ctr is one container as spec and runtime see it.
type ctr struct {
	name, specImage             string
	image, imageID, containerID string // status; image "" means no status
	notRunning, notReady        bool
}

func checkPod(state string, cs ...ctr) *corev1.Pod {
	p := &corev1.Pod{}
	p.Namespace, p.Name = "default", "web-0"
	if state != "" {
		p.Annotations = map[string]string{pub.InPlaceUpdateStateKey: state}
	}
	for _, c := range cs {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c.name, Image: c.specImage})
		if c.image == "" {
			continue
		}
		s := corev1.ContainerStatus{Name: c.name, Image: c.image, ImageID: c.imageID, ContainerID: c.containerID, Ready: !c.notReady}
		if !c.notRunning {
			s.State.Running = &corev1.ContainerStateRunning{}
		} else {
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, s)
	}
	return p
}

func stateJSON(last map[string]pub.InPlaceUpdateContainerStatus, resized ...string) string {
	b, _ := json.Marshal(pub.InPlaceUpdateState{Revision: "r2", LastContainerStatuses: last, ResizedContainers: resized})
	return string(b)
}

func TestCheck(t *testing.T) {
	wasA := stateJSON(map[string]pub.InPlaceUpdateContainerStatus{"app": {Image: "nginx:a", ImageID: "id-a", ContainerID: "c1"}})
	cases := []struct {
		name    string
		pod     *corev1.Pod
		pending []string
	}{
		{name: "never updated", pod: checkPod("", ctr{name: "app", specImage: "nginx:a", image: "nginx:a", imageID: "id-a"})},
		{name: "runtime has not acted", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:b", image: "nginx:a", imageID: "id-a", containerID: "c1"}), pending: []string{"app"}},
		{name: "new imageID, running, ready", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:b", image: "nginx:b", imageID: "id-b", containerID: "c2"})},
		{name: "new imageID, not ready", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:b", image: "nginx:b", imageID: "id-b", containerID: "c2", notReady: true}), pending: []string{"app"}},
		{name: "new image crash-looping", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:b", image: "nginx:b", imageID: "id-b", containerID: "c2", notRunning: true}), pending: []string{"app"}},
		{name: "no container status yet", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:b"}), pending: []string{"app"}},
		{name: "runtime names the image normalized", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:b", image: "docker.io/library/nginx:b", imageID: "id-b", containerID: "c2"})},
		{name: "runtime reports an image ID for a name", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:b", image: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", imageID: "id-b", containerID: "c2"})},
		// Rollback that overtook the update: recorded a, spec back at a, the
		// runtime never switched, so no new imageID will ever come.
		{name: "rollback before the runtime acted", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:a", image: "nginx:a", imageID: "id-a", containerID: "c1"})},
		// Rollback recorded while the runtime ran b: new imageID of b is not done.
		{name: "rollback, runtime still on the abandoned image", pod: checkPod(
			stateJSON(map[string]pub.InPlaceUpdateContainerStatus{"app": {Image: "nginx:a", ImageID: "id-a", ContainerID: "c1"}}),
			ctr{name: "app", specImage: "nginx:a", image: "nginx:b", imageID: "id-b", containerID: "c2"}), pending: []string{"app"}},
		{name: "new tag of the same digest, restarted", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:a2", image: "nginx:a2", imageID: "id-a", containerID: "c2"})},
		{name: "new tag of the same digest, not restarted", pod: checkPod(wasA, ctr{name: "app", specImage: "nginx:a2", image: "nginx:a", imageID: "id-a", containerID: "c1"}), pending: []string{"app"}},
		{name: "container removed from spec", pod: checkPod(wasA, ctr{name: "other", specImage: "x", image: "x", imageID: "id-x"})},
		{name: "malformed state", pod: checkPod("{not json", ctr{name: "app", specImage: "nginx:b", image: "nginx:a", imageID: "id-a"})},
		{name: "two containers, one done", pod: checkPod(
			stateJSON(map[string]pub.InPlaceUpdateContainerStatus{"app": {Image: "nginx:a", ImageID: "id-a"}, "side": {Image: "envoy:1", ImageID: "id-e1"}}),
			ctr{name: "app", specImage: "nginx:b", image: "nginx:b", imageID: "id-b"},
			ctr{name: "side", specImage: "envoy:2", image: "envoy:1", imageID: "id-e1"}), pending: []string{"side"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Pending(tc.pod)
			if !slices.Equal(got, tc.pending) {
				t.Errorf("pending %v, want %v", got, tc.pending)
			}
			if Check(tc.pod) != (len(tc.pending) == 0) {
				t.Errorf("Check disagrees with Pending")
			}
		})
	}
}

func TestCheckResize(t *testing.T) {
	want := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}}
	pod := checkPod(stateJSON(nil, "app"), ctr{name: "app", specImage: "nginx:a", image: "nginx:a", imageID: "id-a"})
	pod.Spec.Containers[0].Resources = want
	pod.Status.ContainerStatuses[0].Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}
	if Check(pod) {
		t.Fatal("done before the kubelet applied the new cpu")
	}
	pod.Status.ContainerStatuses[0].Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.2")}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue}}
	if Check(pod) {
		t.Fatal("done while the resize is in progress")
	}
	pod.Status.Conditions = nil
	if !Check(pod) {
		t.Fatalf("not done after the kubelet applied the resize: %v", Pending(pod))
	}
}
