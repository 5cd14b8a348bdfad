package core_test

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

const mib = 1 << 20

func withImages(n *v1.Node, imgs ...v1.ContainerImage) *v1.Node {
	n.Status.Images = imgs
	return n
}

func img(size int64, names ...string) v1.ContainerImage {
	return v1.ContainerImage{Names: names, SizeBytes: size}
}

func podWithImages(images ...string) *v1.Pod {
	p := tc.Pod("ns", "p", "", "", nil)
	p.Spec.Containers[0].Image = images[0]
	for i, im := range images[1:] {
		p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: string(rune('d' + i)), Image: im})
	}
	return p
}

// ImageLocality with kube's arithmetic: 100 · (clamp(Σ size · nodes with
// it / all nodes) − 23 MiB) / (1000 MiB · images − 23 MiB).
func TestImageLocality(t *testing.T) {
	// Four nodes; "app:v1" (500 MiB) on n1 and n2, "big:latest" (2000 MiB)
	// on n1 only, "tiny:latest" (10 MiB) everywhere.
	nodes := []*v1.Node{
		withImages(tc.Node("n1", "8", "16Gi", 110, nil), img(500*mib, "registry.example/app:v1"), img(2000*mib, "big:latest"), img(10*mib, "tiny:latest")),
		withImages(tc.Node("n2", "8", "16Gi", 110, nil), img(500*mib, "registry.example/app:v1"), img(10*mib, "tiny:latest")),
		withImages(tc.Node("n3", "8", "16Gi", 110, nil), img(10*mib, "tiny:latest")),
		withImages(tc.Node("n4", "8", "16Gi", 110, nil), img(10*mib, "tiny:latest", "docker.io/library/tiny:latest")),
	}
	zero := map[string]int64{"n1": 0, "n2": 0, "n3": 0, "n4": 0}
	tests := []struct {
		name string
		pod  *v1.Pod
		want map[string]int64
	}{
		// 500 MiB · 2/4 = 250 MiB: 100 · 227/977 = 23
		{"spread factor", podWithImages("registry.example/app:v1"), map[string]int64{"n1": 23, "n2": 23, "n3": 0, "n4": 0}},
		// untagged "big" is "big:latest"; 2000 MiB · 1/4 = 500: 100 · 477/977 = 48
		{"untagged means latest", podWithImages("big"), map[string]int64{"n1": 48, "n2": 0, "n3": 0, "n4": 0}},
		{"below the floor", podWithImages("tiny"), zero},
		{"registry-qualified name is another image", podWithImages("docker.io/library/app:v1"), zero},
		// two images: (250 + 500) MiB over a 2000 MiB cap: 100 · 727/1977 = 36
		{"two containers", podWithImages("registry.example/app:v1", "big:latest"), map[string]int64{"n1": 36, "n2": 11, "n3": 0, "n4": 0}},
		// one of two images held: 250 MiB over a 2000 MiB cap: 100 · 227/1977 = 11
		{"init container counts", withPod(podWithImages("none:1"), func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "init", Image: "registry.example/app:v1"}}
		}), map[string]int64{"n1": 11, "n2": 11, "n3": 0, "n4": 0}},
		// 500 MiB over a 2000 MiB cap: 100 · 477/1977 = 24
		{"image volume counts", withPod(podWithImages("none:1"), func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "m", VolumeSource: v1.VolumeSource{Image: &v1.ImageVolumeSource{Reference: "big"}}}}
		}), map[string]int64{"n1": 24, "n2": 0, "n3": 0, "n4": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := scorer(core.Weights{ImageLocality: 1}, nodes...)
			assertScores(t, sc, tt.pod, tt.want)
		})
	}
}

// Image scores are cached per class, yet follow every change they depend
// on: images pulled on the node, on other nodes, and the node count.
func TestImageLocalityCacheFollowsNodes(t *testing.T) {
	n1 := withImages(tc.Node("n1", "8", "16Gi", 110, nil), img(1000*mib, "app:v1"))
	sc := scorer(core.Weights{ImageLocality: 1}, n1, tc.Node("n2", "8", "16Gi", 110, nil))
	pod := podWithImages("app:v1")
	// 1000 · 1/2 = 500: 100 · 477/977 = 48
	assertScores(t, sc, pod, map[string]int64{"n1": 48, "n2": 0})
	before := sc.Stats().ScoreHits
	assertScores(t, sc, pod, map[string]int64{"n1": 48, "n2": 0})
	if sc.Stats().ScoreHits != before+2 {
		t.Fatal("unchanged cluster: both scores should come from the cache")
	}
	// n2 pulls it: 1000 · 2/2, both 100.
	sc.UpdateNode(withImages(tc.Node("n2", "8", "16Gi", 110, nil), img(1000*mib, "app:v1")))
	assertScores(t, sc, pod, map[string]int64{"n1": 100, "n2": 100})
	// A third node without it: 1000 · 2/3 = 666: 100 · 643/977 = 65.
	sc.UpdateNode(tc.Node("n3", "8", "16Gi", 110, nil))
	assertScores(t, sc, pod, map[string]int64{"n1": 65, "n2": 65, "n3": 0})
	// n1 drops it: 1000 · 1/3 = 333: 100 · 310/977 = 31.
	sc.UpdateNode(tc.Node("n1", "8", "16Gi", 110, nil))
	assertScores(t, sc, pod, map[string]int64{"n1": 0, "n2": 31, "n3": 0})
}
