package core

import (
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// ImageLocality (kube-scheduler v1.37, weight 1, not normalized): a node
// that already holds the pod's images scores higher, each image by its size
// scaled by the share of nodes holding it, so that one popular image does
// not pull every pod onto the few nodes that pulled it first.
const (
	imageMB                    int64 = 1024 * 1024
	imageMinThreshold          int64 = 23 * imageMB
	imageMaxContainerThreshold int64 = 1000 * imageMB
)

// normalizedImageName is kube's: a reference without a tag after its last
// path segment means ":latest". No registry or "library/" expansion, so
// "nginx" matches a node's "nginx:latest" but not "docker.io/library/nginx:latest";
// kube has the same limit, and scores must agree with it.
func normalizedImageName(name string) string {
	if strings.LastIndex(name, ":") <= strings.LastIndex(name, "/") {
		name += ":latest"
	}
	return name
}

// podImages lists the image of every init container, container and image
// volume, normalized, duplicates kept: kube sums each one and divides by
// their count (v1.37 counts init containers too).
func podImages(pod *v1.Pod) []string {
	out := make([]string, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	for i := range pod.Spec.InitContainers {
		out = append(out, normalizedImageName(pod.Spec.InitContainers[i].Image))
	}
	for i := range pod.Spec.Containers {
		out = append(out, normalizedImageName(pod.Spec.Containers[i].Image))
	}
	for i := range pod.Spec.Volumes {
		if img := pod.Spec.Volumes[i].Image; img != nil {
			out = append(out, normalizedImageName(img.Reference))
		}
	}
	return out
}

// nodeImages maps every name a node reports for its images to the image's
// size; a name listed twice keeps the last size, as kube's snapshot does.
func nodeImages(node *v1.Node) map[string]int64 {
	if len(node.Status.Images) == 0 {
		return nil
	}
	m := make(map[string]int64, len(node.Status.Images))
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			m[name] = img.SizeBytes
		}
	}
	return m
}

func imagesEqual(a, b []v1.ContainerImage) bool {
	return slices.EqualFunc(a, b, func(x, y v1.ContainerImage) bool {
		return x.SizeBytes == y.SizeBytes && slices.Equal(x.Names, y.Names)
	})
}

func (s *Snapshot) indexImages(n *NodeInfo) {
	n.images = nodeImages(n.Node)
	for name := range n.images {
		s.imageNodes[name]++
	}
}

func (s *Snapshot) unindexImages(n *NodeInfo) {
	for name := range n.images {
		if s.imageNodes[name]--; s.imageNodes[name] <= 0 {
			delete(s.imageNodes, name)
		}
	}
	n.images = nil
}

// classImages is a class's image list and what its ImageLocality scores
// depend on beyond the node itself: how many nodes hold each image, and the
// node count. When that changes, epoch moves and every cached score of the
// class is recomputed on its next visit; a node that pulls an image nobody
// in the class uses changes nothing.
type classImages struct {
	names  []string // per container, duplicates kept
	unique []string
	seen   []int // nodes holding unique[i] when epoch was set
	total  int   // node count then, 0 while no node holds any
	epoch  uint32
}

func newClassImages(pod *v1.Pod) *classImages {
	ci := &classImages{names: podImages(pod)}
	for _, name := range ci.names {
		if !slices.Contains(ci.unique, name) {
			ci.unique = append(ci.unique, name)
		}
	}
	ci.seen = make([]int, len(ci.unique))
	return ci
}

// refresh moves the epoch if the cluster-wide inputs of the class's scores
// changed since the last decision. O(distinct images of the pod).
func (ci *classImages) refresh(s *Snapshot) {
	changed, any := false, false
	for i, name := range ci.unique {
		c := s.imageNodes[name]
		any = any || c > 0
		if c != ci.seen[i] {
			ci.seen[i] = c
			changed = true
		}
	}
	total := 0
	if any {
		total = len(s.nodes)
	}
	if changed || total != ci.total {
		ci.total = total
		ci.epoch++ // wraps after 2^32 changes of one class: a stale hit needs exactly that many
	}
}

// imageScore is ImageLocality.Score for node n, with kube's arithmetic
// (the spread factor in floating point, truncated per image).
func (s *Snapshot) imageScore(ci *classImages, n *NodeInfo) int64 {
	var sum int64
	if len(n.images) > 0 {
		total := float64(len(s.nodes))
		for _, name := range ci.names {
			if size, ok := n.images[name]; ok {
				spread := float64(s.imageNodes[name]) / total
				sum += int64(float64(size) * spread)
			}
		}
	}
	maxThreshold := imageMaxContainerThreshold * int64(len(ci.names))
	if sum < imageMinThreshold {
		sum = imageMinThreshold
	} else if sum > maxThreshold {
		sum = maxThreshold
	}
	return maxNodeScore * (sum - imageMinThreshold) / (maxThreshold - imageMinThreshold)
}
