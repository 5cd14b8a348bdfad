package core

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestPlainPodRequestsMatchKubesHelper: wherever the allocation-free path
// answers, it answers what kube's helper answers, for pending and assigned
// pods, over random pods that mix what it handles with what it must refuse.
func TestPlainPodRequestsMatchKubesHelper(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	plain := 0
	for i := range 20000 {
		pod := randomRequestsPod(rng)
		for _, assigned := range []bool{false, true} {
			req, nzc, nzm, ok := plainPodRequests(pod, assigned)
			if !ok {
				continue
			}
			plain++
			wreq, wnzc, wnzm := helperPodRequests(pod, assigned)
			if !reflect.DeepEqual(req, wreq) || nzc != wnzc || nzm != wnzm {
				t.Fatalf("pod %d (assigned %v) %+v:\nplain  %+v %d %d\nhelper %+v %d %d", i, assigned, pod.Spec, req, nzc, nzm, wreq, wnzc, wnzm)
			}
		}
	}
	if plain < 10000 {
		t.Fatalf("only %d of 40000 cases took the plain path: the test no longer tests it", plain)
	}
}

func TestPlainPodRequestsRefusesWhatItDoesNotModel(t *testing.T) {
	base := func() *v1.Pod {
		return &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1")}}}}}}
	}
	restart := v1.ContainerRestartPolicyAlways
	for name, tc := range map[string]struct {
		mut      func(*v1.Pod)
		assigned bool
	}{
		"init container":     {mut: func(p *v1.Pod) { p.Spec.InitContainers = []v1.Container{{Name: "i", RestartPolicy: &restart}} }},
		"overhead":           {mut: func(p *v1.Pod) { p.Spec.Overhead = v1.ResourceList{v1.ResourceCPU: resource.MustParse("10m")} }},
		"pod-level requests": {mut: func(p *v1.Pod) { p.Spec.Resources = &v1.ResourceRequirements{} }},
		"extended resource": {mut: func(p *v1.Pod) {
			p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("1")
		}},
		"status resources, assigned": {assigned: true, mut: func(p *v1.Pod) {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "c", AllocatedResources: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2")}}}
		}},
		"infeasible resize, assigned": {assigned: true, mut: func(p *v1.Pod) {
			p.Status.Conditions = []v1.PodCondition{{Type: v1.PodResizePending, Reason: v1.PodReasonInfeasible}}
		}},
	} {
		p := base()
		tc.mut(p)
		if _, _, _, ok := plainPodRequests(p, tc.assigned); ok {
			t.Errorf("%s: took the plain path", name)
		}
	}
}

func randomRequestsPod(rng *rand.Rand) *v1.Pod {
	qty := func(name v1.ResourceName) resource.Quantity {
		switch rng.IntN(4) {
		case 0:
			return resource.MustParse("0")
		case 1: // sub-milli: rounding must happen after the sum, as in kube
			return resource.MustParse(fmt.Sprintf("%dn", 1+rng.IntN(999_999)))
		case 2:
			if name == v1.ResourceCPU {
				return *resource.NewMilliQuantity(int64(rng.IntN(4000)), resource.DecimalSI)
			}
			return *resource.NewQuantity(int64(rng.IntN(1<<34)), resource.BinarySI)
		default:
			return resource.MustParse(fmt.Sprintf("%d.%dGi", rng.IntN(8), rng.IntN(10)))
		}
	}
	names := []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage, "example.com/gpu", "hugepages-2Mi"}
	pod := &v1.Pod{}
	for c := range 1 + rng.IntN(4) {
		reqs := v1.ResourceList{}
		for _, n := range names {
			odds := 3
			if n == "example.com/gpu" || n == "hugepages-2Mi" {
				odds = 30
			}
			if rng.IntN(odds) < 2 {
				reqs[n] = qty(n)
			}
		}
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Name: fmt.Sprint("c", c), Resources: v1.ResourceRequirements{Requests: reqs}})
		if rng.IntN(2) == 0 {
			cs := v1.ContainerStatus{Name: fmt.Sprint("c", c)}
			if rng.IntN(20) == 0 {
				cs.AllocatedResources = v1.ResourceList{v1.ResourceCPU: qty(v1.ResourceCPU)}
			}
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, cs)
		}
	}
	if rng.IntN(30) == 0 {
		pod.Spec.Overhead = v1.ResourceList{v1.ResourceCPU: qty(v1.ResourceCPU)}
	}
	if rng.IntN(30) == 0 {
		pod.Status.Conditions = []v1.PodCondition{{Type: v1.PodResizePending, Reason: v1.PodReasonInfeasible}}
	}
	return pod
}
